"""The demo organization with data on every main page, and the list of those pages: shared by the
accessibility check and the screenshot tour."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any

import pytest

from devices.models import Device
from homes import services as home_services
from homes.models import Customer, Meter
from integrations import webhooks
from integrations.models import UpstreamLink, WebhookEvent
from integrations.sandbox import registry
from portal.demo import seed_demo
from portal.models import Organization
from readings import store, uploads
from readings.models import UploadStatus
from tests.e2e.journey_steps import hourly_csv, household_kwh, solar_kwh

PASSWORD = "gridfolio-demo"


@pytest.fixture
def demo(sandbox) -> Organization:
    organization, _ = seed_demo(PASSWORD)
    return organization


@pytest.fixture
def demo_with_data(demo) -> dict:
    """The demo organization with readings, a Wattics stream and a Spark test event."""
    solar = Device.objects.get(organization=demo, kind="solar")
    meter = solar.meter or Meter.objects.filter(organization=demo).first()
    zone = solar.home.timezone
    for owner, content in (
        (solar, hourly_csv(zone, datetime(2025, 1, 1), 60 * 24, solar_kwh)),
        (meter, hourly_csv(zone, datetime(2025, 1, 1), 60 * 24, household_kwh)),
    ):
        upload = uploads.import_readings(
            store.series_for(owner), BytesIO(content), filename=f"{owner.pk}-seed.csv"
        )
        assert upload.status == UploadStatus.STORED
    # A checked file waiting for a person: one bad row (471), offered to be skipped.
    lines = hourly_csv(zone, datetime(2025, 3, 1), 30 * 24, solar_kwh).split(b"\n")
    lines[470] = lines[470].split(b",")[0] + b",n/a"
    preview = uploads.check_upload(
        store.series_for(solar), BytesIO(b"\n".join(lines)), filename="march.csv", user=None
    )
    assert preview.report["skippable_rows"] == [471]
    meter.wattics_stream_id = "demo-stream-1"
    home_services.save_meter(meter)
    webhooks.register_webhook(demo)
    webhooks.send_test_event(demo)
    assert registry.emulator("spark").wait_for_deliveries(timeout_s=10)
    return {
        "organization": demo,
        "solar": solar,
        "meter": meter,
        "vehicle": Device.objects.get(organization=demo, kind="vehicle"),
        "customer": Customer.objects.filter(organization=demo).order_by("pk").first(),
        "home": solar.home,
        "event": WebhookEvent.objects.get(organization=demo),
        "link": UpstreamLink.objects.filter(organization=demo).order_by("pk").first(),
        "preview": preview,
    }


def main_pages(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, path) of every main page of the demo organization, filled by `demo_with_data`."""
    return [
        ("dashboard", "/"),
        ("customers", "/customers/"),
        ("homes", "/homes/"),
        ("meters", "/meters/"),
        ("devices", "/devices/"),
        ("uploads", "/uploads/"),
        ("upload-preview", f"/uploads/{data['preview'].pk}/"),
        ("customer", data["customer"].get_absolute_url()),
        ("home", data["home"].get_absolute_url()),
        ("meter", data["meter"].get_absolute_url()),
        ("device-solar", data["solar"].get_absolute_url()),
        ("device-vehicle", data["vehicle"].get_absolute_url()),
        ("link-history", f"/integrations/links/{data['link'].pk}/"),
        ("integrations", "/integrations/"),
        ("connection-form", "/integrations/spark/connection/"),
        ("events", "/integrations/events/"),
        ("event", f"/integrations/events/{data['event'].pk}/"),
        ("members", "/members/"),
        ("api-keys", "/api-keys/"),
        ("alerts", "/alerts/"),
        ("customer-form", "/customers/new/"),
        ("home-form", "/homes/add/"),
        ("meter-form", f"/meters/{data['meter'].pk}/edit/"),
        ("device-kinds", "/devices/new/"),
        ("device-form-solar", "/devices/new/solar/"),
        ("device-import", "/devices/import/"),
        ("meter-import", "/meters/import/"),
        ("charge-report", f"/devices/{data['vehicle'].pk}/charge-report/"),
        ("delete-confirm", f"/customers/{data['customer'].pk}/delete/"),
        ("password-change", "/accounts/password_change/"),
    ]
