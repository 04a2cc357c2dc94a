"""seed_demo's year of hourly readings: realistic shapes (solar by day and season, a heat pump by
the cold, EV charging at night), stored once, and charts on the first visit."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from devices.models import Device
from portal.demo import seed_demo
from readings.models import Reading, Upload, UploadStatus
from readings.store import series_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, data_dir):
    from integrations.clients import forget_clients
    from integrations.sandbox import registry

    settings.DEMO_READINGS = True
    registry.reset_all()
    forget_clients()
    organization, _ = seed_demo("gridfolio-demo")
    yield organization
    registry.reset_all()
    forget_clients()


def by_local_hour(device) -> dict[tuple[int, int], float]:
    """kWh summed by (month, local hour)."""
    zone = ZoneInfo(device.home.timezone)
    sums: dict[tuple[int, int], float] = defaultdict(float)
    for start, value in Reading.objects.filter(series=series_for(device)).values_list(
        "instant", "value_kwh"
    ):
        local = start.astimezone(zone)
        sums[(local.month, local.hour)] += float(value)
    return sums


def test_every_metered_record_gets_a_year_once_and_the_first_visit_shows_charts(demo, client):
    uploads = Upload.objects.filter(organization=demo)
    assert uploads.count() == 8  # five devices with energy of their own and three meters
    assert set(uploads.values_list("status", flat=True)) == {UploadStatus.STORED}
    rows = dict(uploads.values_list("filename", "rows"))
    # A year each; the heat pump misses most of one month (the demo's M&V "not ready" case).
    assert rows.pop("demo-HP-ALV-01.csv") < 365 * 24 - 20 * 24
    assert set(rows.values()) == {365 * 24}
    seed_demo("gridfolio-demo")  # make run again: nothing more
    assert Upload.objects.filter(organization=demo).count() == 8
    newest = Reading.objects.order_by("-instant").first()
    assert newest is not None and newest.instant > newest.instant.now(
        newest.instant.tzinfo
    ) - timedelta(hours=2)
    from portal.models import User

    client.force_login(User.objects.get(email="demo@gridfolio.local"))
    solar = Device.objects.get(organization=demo, kind="solar")
    page = client.get(reverse("device_readings", args=[solar.pk])).content.decode()
    assert "8,760" in page or "8760" in page


def test_the_shapes_are_what_the_devices_do(demo):
    solar = by_local_hour(Device.objects.get(organization=demo, kind="solar"))
    assert (
        sum(v for (m, h), v in solar.items() if h in (0, 1, 2, 3, 22, 23)) == 0
    )  # no sun at night
    june_noon, december_noon = solar[(6, 12)], solar[(12, 12)]
    assert june_noon > 1.3 * december_noon  # summer sun
    heat_pump = by_local_hour(Device.objects.get(organization=demo, kind="electrification"))
    assert sum(heat_pump[(1, h)] for h in range(24)) > 3 * sum(heat_pump[(7, h)] for h in range(24))
    charger = by_local_hour(Device.objects.get(organization=demo, kind="ev_charger"))
    night = sum(charger[(m, h)] for m in range(1, 13) for h in (23, 0, 1, 2, 3))
    day = sum(charger[(m, h)] for m in range(1, 13) for h in range(8, 20))
    assert night > 0 and day == 0
