"""M&V readiness (readings.sufficiency): OpenDSM's hourly baseline criteria at their edges, on
readings stored through the store, in the home's timezone (America/New_York)."""

from __future__ import annotations

from array import array
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.contenttypes.models import ContentType

from integrations.models import UpstreamLink
from readings.models import Readiness, ReadinessStatus
from readings.parser import HourlyReadings
from readings.services import refresh_readiness, refresh_stale_readiness
from readings.store import series_for, store_readings
from readings.sufficiency import compute_sufficiency
from tests.factories import DeviceFactory

NEW_YORK = ZoneInfo("America/New_York")
HOUR_S = 3600


def local_hours(first_day: date, days: int) -> list[int]:
    """Epochs of every hour of `days` local days from `first_day` (23 or 25 on a DST day)."""
    start = int(datetime.combine(first_day, datetime.min.time(), tzinfo=NEW_YORK).timestamp())
    end_day = first_day + timedelta(days=days)
    end = int(datetime.combine(end_day, datetime.min.time(), tzinfo=NEW_YORK).timestamp())
    return list(range(start, end, HOUR_S))


def in_month(year: int, month: int) -> Callable[[int], bool]:
    def check(epoch: int) -> bool:
        local = datetime.fromtimestamp(epoch, NEW_YORK)
        return (local.year, local.month) == (year, month)

    return check


def store(owner, epochs: list[int], value: Callable[[int], float] = lambda e: 1.5) -> None:
    series = series_for(owner)
    store_readings(
        series, HourlyReadings(array("q", epochs), array("d", [value(e) for e in epochs]))
    )


def drop_from_month(epochs: list[int], year: int, month: int, keep: int) -> list[int]:
    """All of `epochs` but only the first `keep` hours of the local month."""
    month_hours = [e for e in epochs if in_month(year, month)(e)]
    dropped = set(month_hours[keep:])
    return [e for e in epochs if e not in dropped]


def verdict(owner):
    owner.refresh_from_db()
    return compute_sufficiency(series_for(owner))


@pytest.mark.django_db
def test_it_finds_a_full_year_ready(device):
    store(device, local_hours(date(2025, 1, 1), 365))
    result = verdict(device)
    assert result.ready, result.problems
    assert result.days == 365
    assert result.hours_present == 8760
    assert [m.month for m in result.months] == [date(2025, m, 1) for m in range(1, 13)]
    march = result.months[2]
    assert (march.hours_present, march.hours_expected) == (743, 743)  # spring forward


@pytest.mark.django_db
def test_it_takes_329_days_and_refuses_328(device, home, org):
    store(device, local_hours(date(2025, 1, 1), 329))
    assert verdict(device).days == 329
    assert verdict(device).ready, verdict(device).problems

    short = DeviceFactory(organization=org, home=home, custom_id="HP-2", kind="electrification")
    store(short, local_hours(date(2025, 1, 1), 328))
    result = verdict(short)
    assert result.days == 328
    assert not result.ready
    assert result.problems == ["The baseline spans 328 days: it needs at least 329 (1 more)."]


@pytest.mark.django_db
def test_it_takes_90_percent_of_a_month_and_refuses_89_9(device, home, org):
    year = local_hours(date(2025, 1, 1), 365)
    store(device, drop_from_month(year, 2025, 6, keep=648))  # 648 of 720 hours: 90.0 %
    result = verdict(device)
    june = result.months[5]
    assert (june.hours_present, june.hours_expected) == (648, 720)
    assert result.ready, result.problems

    other = DeviceFactory(organization=org, home=home, custom_id="HP-3", kind="electrification")
    store(other, drop_from_month(year, 2025, 6, keep=647))  # 89.86 %
    result = verdict(other)
    assert not result.ready
    assert [m.month for m in result.failing_months] == [date(2025, 6, 1)]
    assert result.problems == ["June 2025: 647 of 720 hours (89.8 %); 1 more needed for 90 %."]


@pytest.mark.django_db
def test_it_counts_a_daylight_saving_month_in_its_own_hours(device, home, org):
    """November 2025 in New York has 721 hours: 649 is 90 %, 648 is not (a 720-hour month would
    have passed it); March has 743, where 669 passes (a 744-hour month would need 670)."""
    year = local_hours(date(2025, 1, 1), 365)
    store(device, drop_from_month(drop_from_month(year, 2025, 11, keep=649), 2025, 3, keep=669))
    result = verdict(device)
    assert (result.months[10].hours_present, result.months[10].hours_expected) == (649, 721)
    assert (result.months[2].hours_present, result.months[2].hours_expected) == (669, 743)
    assert result.ready, result.problems

    other = DeviceFactory(organization=org, home=home, custom_id="HP-4", kind="electrification")
    store(other, drop_from_month(year, 2025, 11, keep=648))
    result = verdict(other)
    assert [m.month for m in result.failing_months] == [date(2025, 11, 1)]


@pytest.mark.django_db
def test_it_counts_valid_days_over_the_baseline(device):
    # Every day loses 3 of its 24 hours: 87.5 % valid days, and every month fails with it.
    hours = [
        e
        for e in local_hours(date(2025, 1, 1), 365)
        if datetime.fromtimestamp(e, NEW_YORK).hour >= 3
    ]
    store(device, hours)
    result = verdict(device)
    assert not result.ready
    assert result.problems[0].startswith("Valid days: 319.4 of 365 (87.5 %)")
    assert len(result.failing_months) == 12


@pytest.mark.django_db
def test_it_refuses_negative_solar_but_not_a_negative_heat_pump_or_meter(device, meter, home, org):
    hours = local_hours(date(2025, 1, 1), 365)
    negative_at = set(hours[100:103])

    def value(epoch: int) -> float:
        return -0.5 if epoch in negative_at else 1.0

    solar = DeviceFactory(organization=org, home=home, custom_id="SOL-1", kind="solar")
    for owner in (solar, device, meter):
        store(owner, hours, value)
    assert verdict(solar).problems == ["3 negative hours: this kind of series cannot be negative."]
    assert verdict(device).ready
    assert verdict(meter).ready


@pytest.mark.django_db
def test_it_takes_the_365_days_up_to_the_last_reading(device):
    # Two years stored: the baseline is the last 365 days; a gap in the first year does not count.
    hours = local_hours(date(2024, 1, 1), 366 + 365)
    store(device, drop_from_month(hours, 2024, 6, keep=0))
    result = verdict(device)
    assert result.ready, result.problems
    assert result.first_reading == datetime(2025, 1, 1, 5, tzinfo=ZoneInfo("UTC"))
    assert compute_sufficiency(series_for(device), end_day=date(2024, 12, 31)).failing_months[
        0
    ].month == date(2024, 6, 1)


@pytest.mark.django_db
def test_it_keeps_the_verdict_for_the_devices_list(device, member_client, org, home):
    store(device, local_hours(date(2025, 1, 1), 200))
    assert refresh_stale_readiness() == 1  # beat's task: the series stored since
    assert refresh_stale_readiness() == 0
    readiness = Readiness.objects.get(series=series_for(device))
    assert readiness.status == ReadinessStatus.NOT_READY
    assert "200 days" in readiness.summary

    ready = DeviceFactory(organization=org, home=home, custom_id="HP-9", name="Ready one")
    store(ready, local_hours(date(2025, 1, 1), 365))
    assert refresh_readiness(series_for(ready).pk).status == ReadinessStatus.READY

    page = member_client.get("/devices/", {"mv": "ready"}).content.decode()
    assert "Ready one" in page and device.name not in page
    page = member_client.get("/devices/", {"mv": "not_ready"}).content.decode()
    assert "Ready one" not in page and device.name in page


@pytest.mark.django_db
def test_it_shows_the_badge_and_failing_months_on_the_device_page(device, member_client):
    store(device, drop_from_month(local_hours(date(2025, 1, 1), 365), 2025, 2, keep=10))
    page = member_client.get(f"/devices/{device.pk}/").content.decode()
    assert 'data-mv="not-ready"' in page
    assert "February 2025: 10 of 672 hours" in page


@pytest.mark.django_db
def test_it_says_no_data_for_a_device_without_readings(device, member_client, outsider_client):
    page = member_client.get(f"/devices/{device.pk}/").content.decode()
    assert 'data-mv="no-data"' in page
    assert outsider_client.get(f"/devices/{device.pk}/").status_code == 404


@pytest.mark.django_db
def test_it_shows_the_badge_on_the_meter_page(meter, member_client, outsider_client):
    store(meter, local_hours(date(2025, 1, 1), 365))
    page = member_client.get(f"/meters/{meter.pk}/").content.decode()
    assert 'data-mv="ready"' in page
    assert outsider_client.get(f"/meters/{meter.pk}/").status_code == 404


@pytest.mark.django_db
def test_the_wattcarbon_timeseries_link_says_whether_the_data_is_ready(device, member_client):
    UpstreamLink.objects.create(
        organization=device.organization,
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        platform="wattcarbon",
        channel="timeseries",
    )
    store(device, local_hours(date(2025, 1, 1), 300))
    page = member_client.get(f"/devices/{device.pk}/").content.decode()
    assert "data-mv-link" in page
    assert "Not M&amp;V ready (1 problem, see M&amp;V readiness)" in page
