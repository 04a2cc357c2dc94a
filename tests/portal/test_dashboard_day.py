"""The dashboard tells the day's work: what needs a person (links, uploads, silent devices), the
month at a glance (kWh by device kind and platform, coverage) and quick actions, per member."""

from __future__ import annotations

import io
from array import array
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from alerts import services as alert_services
from integrations.dashboard import kwh_by_platform
from integrations.models import UpstreamLink
from readings.dashboard import coverage, kwh_by_device_kind
from readings.parser.types import HourlyReadings
from readings.services import check_file
from readings.store import series_for, store_readings
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def hourly(owner, start: datetime, values: list[float]) -> None:
    epochs = [int((start + timedelta(hours=i)).timestamp()) for i in range(len(values))]
    store_readings(series_for(owner), HourlyReadings(array("q", epochs), array("d", values)))


def link(org, record, platform: str, state: str = "synced") -> UpstreamLink:
    return UpstreamLink.objects.create(
        organization=org,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform=platform,
        state=state,
    )


def test_needs_a_person_gathers_links_uploads_and_silent_devices(
    org, owner_client, owner, device, data_dir
):
    link(org, device, "wattcarbon", "rejected")
    check_file(
        series_for(device),
        io.BytesIO(b"datetime,value_kwh\n2026-01-15T12:00:00-08:00,1.5\n"),
        filename="march.csv",
        user=owner,
        in_background=False,
    )
    silent = DeviceFactory(organization=org, name="Quiet array", custom_id="SP-QUIET")
    hourly(silent, timezone.now() - timedelta(days=30), [1.0, 1.0])
    alert_services.check_organization(org)

    page = owner_client.get(reverse("dashboard")).content.decode()
    section = page.split('id="needs-a-person"')[1].split("</section>")[0]
    assert f"{device.name} ({device.custom_id})" in section
    assert f'href="{reverse("link_history", args=[UpstreamLink.objects.get().pk])}"' in section
    assert "Rejected on WattCarbon" in section
    assert "march.csv for" in section and "1 reading to confirm" in section
    assert "Quiet array (SP-QUIET)" in section and f'href="/devices/{silent.pk}/"' in section
    assert "Nothing needs a person" not in section


def test_a_viewer_sees_only_what_they_can_act_on_and_no_other_organization(
    org, other_org, viewer_client, device
):
    stranger = DeviceFactory(organization=other_org, name="Their array")
    link(other_org, stranger, "wattcarbon", "failed")
    link(org, device, "wattcarbon", "failed")
    response = viewer_client.get(reverse("dashboard"))
    page = response.content.decode()
    assert "Their array" not in page
    assert "Records not in sync upstream" not in page  # admins act on links
    assert response.context["actions"] == []  # viewers create nothing
    assert "Nothing needs a person today" in page


def test_quick_actions_for_a_member(member_client):
    page = member_client.get(reverse("dashboard")).content.decode()
    actions = page.split('id="quick-actions"')[1].split("</nav>")[0]
    for url in (reverse("home_create"), reverse("upload_list"), reverse("device_import")):
        assert f'href="{url}"' in actions


def test_the_month_at_a_glance_sums_by_kind_and_platform(org, other_org, device, meter):
    start = datetime(2026, 3, 1, 5, tzinfo=UTC)  # March 1 in New York
    charger = DeviceFactory(organization=org, kind="ev_charger", details={}, home=device.home)
    hourly(device, start - timedelta(hours=2), [50.0, 50.0, 2.0, 3.0])  # two before the month
    hourly(charger, start, [10.0])
    hourly(meter, start, [7.0, 1.0])
    hourly(DeviceFactory(organization=other_org), start, [999.0])
    link(org, device, "wattcarbon")
    link(org, charger, "spark")
    link(org, meter, "spark")
    link(org, meter, "wattics")

    kinds = {row.label: (row.value, row.share) for row in kwh_by_device_kind(org, start)}
    assert kinds == {"EV charger": (10.0, 67), "Heat pump / electrification": (5.0, 33)}
    platforms = [(row.label, row.value) for row in kwh_by_platform(org, start)]
    assert platforms == [("Volue Spark", 18.0), ("Wattics", 8.0), ("WattCarbon", 5.0)]
    assert kwh_by_platform(other_org, start) == []  # no link, no row


def test_coverage_counts_the_hours_with_a_reading(org, device, meter):
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    start = now.replace(minute=0) - timedelta(hours=10)
    hourly(device, start - timedelta(hours=1), [1.0] * 6)  # began before: 5 of the 10 hours
    hourly(meter, start + timedelta(hours=2), [1.0])  # began during the window: not counted
    rows = coverage(org, start, now)
    assert [(row.label, row.value) for row in rows] == [("Devices (1)", 50.0)]
