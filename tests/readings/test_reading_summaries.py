"""The day summaries (readings.summaries) equal a scan of the readings after every kind of write:
new data, updates, re-imports, a file of several channels, outside writes, deletes; and the
dashboard's month figures read from them equal the same figures scanned from the readings, in
zones whose midnight is a half or three quarters of an hour off UTC's."""

from __future__ import annotations

import importlib
import io
import math
import random
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, Sum

from devices.kinds import DeviceKind
from devices.models import Device
from homes.models import Meter
from integrations.dashboard import kwh_by_platform
from integrations.models import Platform, UpstreamLink
from portal.dashboard import with_shares
from portal.models import Organization
from readings import summaries
from readings.dashboard import DELIVERED, coverage, kwh_by_device_kind
from readings.models import Reading, ReadingChannel, ReadingDay, Series
from readings.parser.types import HourlyReadings
from readings.store import parse_and_store, series_for, store_readings
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db

# Zones whose local hours start at :00, :30 and :45 UTC, both sides of it.
ZONES = (
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Australia/Adelaide",
    "UTC",
)
FIXTURES = Path(__file__).parent.parent / "fixtures" / "greenbutton"


def _close(a: float, b: float) -> bool:
    # The same sums added in another order: equal to the last bits of a double.
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_days_match_readings() -> None:
    """Every series' day rows are exactly its readings' per-UTC-day counts and sums."""
    expected: dict[tuple[int, object], list[float]] = {}
    for series_id, instant, value in Reading.objects.values_list(
        "series_id", "instant", "value_kwh"
    ):
        row = expected.setdefault((series_id, instant.astimezone(UTC).date()), [0.0, 0])
        row[0] += value
        row[1] += 1
    found = {(d.series_id, d.day): (d.kwh, d.reading_count) for d in ReadingDay.objects.all()}
    assert set(found) == set(expected)
    for key, (kwh, count) in found.items():
        assert count == expected[key][1], key
        assert _close(kwh, expected[key][0]), (key, kwh, expected[key][0])


def delivered(org: Organization) -> Q:
    return DELIVERED & Q(series__organization=org)


def scan(where: Q, start: datetime, end: datetime | None = None) -> tuple[float, int]:
    rows = Reading.objects.filter(where, instant__gte=start)
    if end is not None:
        rows = rows.filter(instant__lt=end)
    found = rows.aggregate(kwh=Sum("value_kwh"), n=Count("*"))
    return found["kwh"] or 0.0, found["n"]


def local_hours(zone: str, start: datetime, hours: int) -> array[int]:
    """Epochs of ``hours`` consecutive hours from the local hour at or after ``start``."""
    local = start.astimezone(ZoneInfo(zone)).replace(minute=0, second=0, microsecond=0)
    first = int(local.timestamp())
    return array("q", range(first, first + 3600 * hours, 3600))


def key(owner: Device | Meter) -> tuple[str, int]:
    return type(owner).__name__, owner.pk


def store(owner: Device | Meter, epochs: array[int], values: list[float], channel="delivered"):
    return store_readings(
        series_for(owner, channel), HourlyReadings(array("q", epochs), array("d", values))
    )


# --- the scan the dashboard did before the summaries (the reference) -----------------------------
def scanned_kinds(org: Organization, start: datetime) -> list:
    sums = (
        Reading.objects.filter(delivered(org), series__device__isnull=False, instant__gte=start)
        .values("series__device__kind")
        .annotate(kwh=Sum("value_kwh"))
        .order_by()
    )
    return with_shares(
        [(DeviceKind(row["series__device__kind"]).label, row["kwh"] or 0.0) for row in sums]
    )


def scanned_coverage_counts(org: Organization, start: datetime, now: datetime) -> dict:
    return (
        Reading.objects.filter(
            delivered(org), series__first_instant__lt=start, instant__gte=start, instant__lt=now
        )
        .order_by()
        .aggregate(
            devices=Count("instant", filter=Q(series__device__isnull=False)),
            meters=Count("instant", filter=Q(series__meter__isnull=False)),
        )
    )


def scanned_platforms(org: Organization, start: datetime) -> list:
    used = set(UpstreamLink.objects.filter(organization=org).values_list("platform", flat=True))
    rows = [
        (platform.label, scanned_platform(org, start, platform))
        for platform in Platform
        if platform.value in used
    ]
    return with_shares(rows) if any(value for _, value in rows) else []


def scanned_platform(org: Organization, start: datetime, platform: str) -> float:
    on_platform = UpstreamLink.objects.filter(organization=org, platform=platform)
    linked = Exists(
        on_platform.filter(
            content_type=ContentType.objects.get_for_model(Device),
            object_id=OuterRef("series__device_id"),
        )
    ) | Exists(
        on_platform.filter(
            content_type=ContentType.objects.get_for_model(Meter),
            object_id=OuterRef("series__meter_id"),
        )
    )
    return scan(delivered(org) & Q(linked), start)[0]


def assert_rows_close(ours: list, theirs: list) -> None:
    assert [row.label for row in ours] == [row.label for row in theirs]
    for a, b in zip(ours, theirs, strict=True):
        assert _close(a.value, b.value) and a.share == b.share


def assert_figures_match_a_scan(orgs: list[Organization], rng: random.Random) -> None:
    """Every month figure, and totals over random windows, equal the scan of the readings."""
    for org in orgs:
        zone = ZoneInfo(org.timezone)
        for month in (2, 3, 4):
            start = datetime(2026, month, 1, tzinfo=zone)
            assert_rows_close(kwh_by_device_kind(org, start), scanned_kinds(org, start))
            assert_rows_close(kwh_by_platform(org, start), scanned_platforms(org, start))
            now = start + timedelta(hours=rng.randrange(1, 24 * 40), minutes=rng.randrange(60))
            counts = scanned_coverage_counts(org, start, now)
            hours = int((now - start) / timedelta(hours=1))
            for row in coverage(org, start, now):
                key = "devices" if row.label.startswith("Devices") else "meters"
                established = int(row.label.split("(")[1].rstrip(")"))
                assert row.value == min(100.0, 100 * counts[key] / (established * hours))
        for _ in range(12):
            low = datetime(2026, 1, 20, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 86400))
            high = low + timedelta(minutes=rng.randrange(0, 86400))
            for end in (None, high):
                found = summaries.totals(org, DELIVERED, low, end)
                kwh, count = scan(delivered(org), low, end)
                total = found.get(None, summaries.Totals())
                assert total.count == count, (low, end)
                assert _close(total.kwh, kwh), (low, end)


@pytest.fixture
def portfolio(org, other_org):
    """Two organizations in zones off UTC by whole and half hours, their homes in others."""
    org.timezone = "Asia/Kolkata"
    org.save(update_fields=["timezone"])
    owners: list[Device | Meter] = []
    for organization in (org, other_org):
        for i, zone in enumerate(ZONES):
            home = HomeFactory(organization=organization, timezone=zone)
            kind = ("solar", "electrification", "ev_charger")[i % 3]
            owners.append(DeviceFactory(organization=organization, home=home, kind=kind))
            owners.append(MeterFactory(organization=organization, home=home))
    return [org, other_org], owners


@pytest.mark.parametrize("seed", [1, 2])
def test_summaries_equal_a_scan_after_inserts_updates_reimports_and_deletes(portfolio, seed):
    rng = random.Random(seed)
    orgs, owners = portfolio
    for owner in owners[:6]:
        link = UpstreamLink.objects.create(
            organization=owner.organization,
            content_type=ContentType.objects.get_for_model(owner),
            object_id=owner.pk,
            platform=rng.choice([Platform.WATTCARBON, Platform.SPARK]),
        )
        assert link.pk
    stored: dict[tuple[str, int], tuple[array[int], list[float]]] = {}
    # New data: random spans from mid-January to April, in each home's local hours.
    for owner in owners:
        begin = datetime(2026, 1, 15, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 24 * 60))
        epochs = local_hours(owner.home.timezone, begin, rng.randrange(1, 24 * 50))
        values = [round(rng.uniform(-1, 9), 3) for _ in epochs]
        counts = store(owner, epochs, values)
        assert counts.inserted == len(epochs)
        stored[key(owner)] = (epochs, values)
    assert_days_match_readings()
    assert_figures_match_a_scan(orgs, rng)

    # Updates and overlaps: part of each span again, some values changed, more hours after it.
    for owner in owners[::2]:
        epochs, values = stored[key(owner)]
        cut = rng.randrange(len(epochs))
        more = local_hours(owner.home.timezone, datetime.fromtimestamp(epochs[-1], UTC), 30)[1:]
        again = array("q", [*epochs[cut:], *more])
        changed = [v + 1.0 if rng.random() < 0.3 else v for v in values[cut:]]
        counts = store(owner, again, changed + [2.5] * len(more))
        assert counts.inserted == len(more)
    assert_days_match_readings()
    assert_figures_match_a_scan(orgs, rng)

    # A re-import of what is there: nothing changes, nor do the days.
    owner = owners[1]
    epochs, values = stored[key(owner)]
    before = list(ReadingDay.objects.filter(series__meter=owner).values_list("day", "kwh"))
    assert store(owner, epochs, values).changed == 0
    assert list(ReadingDay.objects.filter(series__meter=owner).values_list("day", "kwh")) == before

    # A received channel, and deletes: a device, a meter (their series and days go with them).
    store(owners[3], local_hours(owners[3].home.timezone, datetime(2026, 3, 2, tzinfo=UTC), 40), [1.0] * 40,
          "received")  # fmt: skip
    owners[0].delete()
    Series.objects.filter(meter=owners[3]).delete()
    assert_days_match_readings()
    assert_figures_match_a_scan(orgs, rng)


def test_a_file_of_several_channels_keeps_each_channels_days(org, meter):
    series = series_for(meter)
    data = (FIXTURES / "net_metered_15min.xml").read_bytes()
    with transaction.atomic():
        result, counts = parse_and_store(series, io.BytesIO(data), "usage.xml", "default")
    assert result.ok and counts is not None and counts.inserted == 144
    channels = set(ReadingDay.objects.values_list("series__channel", flat=True))
    assert channels == {ReadingChannel.DELIVERED, ReadingChannel.RECEIVED}
    assert_days_match_readings()
    with transaction.atomic():  # the same file again: unchanged, days as they were
        _, again = parse_and_store(series, io.BytesIO(data), "usage.xml", "default")
    assert again is not None and again.unchanged == 144
    assert_days_match_readings()


def test_rows_written_outside_the_store_are_summed_once_a_store_meets_them(org, device):
    start = datetime(2026, 3, 1, 22, tzinfo=UTC)
    series = series_for(device)
    Reading.objects.bulk_create(
        Reading(series=series, instant=start + timedelta(hours=h), value_kwh=1.0) for h in range(5)
    )
    assert not ReadingDay.objects.exists()
    store(device, local_hours("UTC", start + timedelta(hours=3), 4), [2.0] * 4)
    assert_days_match_readings()


def test_rebuild_and_the_data_migration_recompute_every_day(org, device, meter):
    store(device, local_hours("Asia/Kolkata", datetime(2026, 3, 1, tzinfo=UTC), 60), [1.5] * 60)
    store(meter, local_hours("UTC", datetime(2026, 3, 1, tzinfo=UTC), 30), [0.5] * 30)
    ReadingDay.objects.filter(series__device=device).update(kwh=0.0, reading_count=1)
    ReadingDay.objects.filter(series__meter=meter).delete()
    out = io.StringIO()
    call_command("rebuild_reading_summaries", stdout=out)
    assert "2 series" in out.getvalue()
    assert_days_match_readings()

    ReadingDay.objects.all().delete()
    migration = importlib.import_module("readings.migrations.0007_fill_reading_days")
    migration.fill(apps, SimpleNamespace(connection=connection))
    assert_days_match_readings()


def test_totals_take_the_edges_from_the_readings_by_the_shorter_way(org, device):
    # Readings at :30 UTC (Kolkata's hours) across three days; windows cut inside hours.
    epochs = local_hours("Asia/Kolkata", datetime(2026, 3, 1, tzinfo=UTC), 72)
    store(device, epochs, [float(n) for n in range(72)])
    where = delivered(org)
    for start, end in [
        (datetime(2026, 3, 1, 2, 30, tzinfo=UTC), None),  # edge near the day's start: taken off
        (datetime(2026, 3, 1, 20, 15, tzinfo=UTC), None),  # near its end: added
        (datetime(2026, 3, 1, 2, 31, tzinfo=UTC), datetime(2026, 3, 3, 21, 30, tzinfo=UTC)),
        (datetime(2026, 3, 1, 13, tzinfo=UTC), datetime(2026, 3, 3, 11, 59, tzinfo=UTC)),
        (datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 2, 6, tzinfo=UTC)),
        (datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 2, 5, tzinfo=UTC)),
    ]:
        total = summaries.totals(org, DELIVERED, start, end).get(None, summaries.Totals())
        assert (total.kwh, total.count) == scan(where, start, end)


def test_the_month_figures_read_the_summaries_not_the_months_readings(org, device):
    # Readings taken out behind the store's back (as a test may): the whole days still count,
    # as their summaries say; only the edge hours are read from the readings.
    start = datetime(2026, 3, 1, tzinfo=ZoneInfo(org.timezone))
    store(device, local_hours("UTC", start, 24 * 10), [1.0] * 240)
    assert [row.value for row in kwh_by_device_kind(org, start)] == [240.0]
    Reading.objects.filter(
        series__device=device,
        instant__gte=datetime(2026, 3, 3, tzinfo=UTC),
        instant__lt=datetime(2026, 3, 5, tzinfo=UTC),
    ).delete()
    assert [row.value for row in kwh_by_device_kind(org, start)] == [240.0]
    assert scan(delivered(org), start)[0] == 192.0
    call_command("rebuild_reading_summaries", stdout=io.StringIO())
    assert [row.value for row in kwh_by_device_kind(org, start)] == [192.0]
