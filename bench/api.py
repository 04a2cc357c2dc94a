"""The public API (/api/v1/) against the portal's own paths, in one process, in the same run.

1. A device-year upload: one hourly `datetime,value_kwh` CSV of 8,760 rows (America/Chicago
   offsets) posted as multipart to `POST /api/v1/devices/{id}/readings` through Django's test
   client (the whole middleware stack, key check, rate count, ninja, the readings service),
   against the same file through `manage.py import_readings` (`call_command`, in this process).
   Each side imports into a series with no readings (they are deleted between rounds); rounds
   alternate the two sides, and each side's fastest round counts. Target: <= 1.2x.
2. A page of 100 devices: `GET /api/v1/devices?limit=100` (JSON, cursor pagination) against the
   device list page `GET /devices/` (HTML; its page size set to 100 for this comparison), both
   signed in (a key; a session), over an organization of 10,000 devices; the first page and a
   deep one (a cursor halfway; `?page=` halfway). The median of the interleaved requests counts.
   Target: <= 1x.

Runs in a throwaway PostgreSQL database on the DATABASE_URL server (created, migrated, dropped).
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench._fixtures import copy_models, skip_reason, throwaway_database, tiny
from bench.common import Row

TZ = "America/Chicago"
SLUG = "bench-api"
YEAR = datetime(2023, 1, 1, 6, tzinfo=UTC)  # local midnight in Chicago


def _sizes() -> tuple[int, int, int]:
    """(hours in the file, devices in the organization, rounds / requests per side)."""
    return (24 * 14, 300, 3) if tiny() else (8760, 10_000, 5)


def run() -> list[Row]:
    reason = skip_reason(needs_broker=False)
    if reason:
        print(f"api: skipped ({reason})")
        return []
    with throwaway_database("api"), tempfile.TemporaryDirectory() as tmp:
        return _run(Path(tmp))


def _run(directory: Path) -> list[Row]:
    from django.conf import settings
    from django.test import Client

    from api.services import create_api_key
    from portal.models import Membership, Organization, Role, User

    settings.ALLOWED_HOSTS = ["testserver"]
    settings.API_RATE_LIMIT = 0  # the bench measures the work, not the limit
    hours, device_count, rounds = _sizes()
    org = Organization.objects.create(name="Bench API", slug=SLUG, timezone=TZ)
    user = User.objects.create_user("bench@api.test", "bench-password-not-used")
    Membership.objects.create(user=user, organization=org, role=Role.OWNER)
    key = create_api_key(org, name="bench", scopes=["read", "readings"], created_by=user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key.plaintext}")
    page_client = Client()
    page_client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")

    devices = _portfolio(org, device_count)
    path = _year_file(directory, hours)
    upload = _uploads(api, org, devices[0], devices[1], path, rounds)
    pages = _pages(api, page_client, device_count, rounds * 10)
    return [upload, *pages]


def _portfolio(organization: Any, count: int) -> list[Any]:
    from bench._fixtures import customers_and_homes
    from devices.models import Device

    homes = customers_and_homes(organization, max(1, count // 4), TZ)
    devices = [
        Device(
            organization=organization,
            home=homes[n % len(homes)],
            name=f"Array {n:06d}",
            custom_id=f"ARR-{n:06d}",
            kind="solar",
            details={"nameplate_capacity_kw": 7.5, "net_metered": True},
        )
        for n in range(count)
    ]
    copy_models(Device, devices)
    print(f"{count:,} devices in {len(homes):,} homes", flush=True)
    return devices


def _year_file(directory: Path, hours: int) -> Path:
    zone = ZoneInfo(TZ)
    path = directory / "device-year.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("datetime,value_kwh\n")
        for h in range(hours):
            local = (YEAR + timedelta(hours=h)).astimezone(zone)
            handle.write(f"{local.isoformat()},{((h * 7) % 80) / 8}\n")
    return path


def _forget(*devices: Any) -> None:
    from readings.models import Reading, ReadingDay, Series, Upload

    series = Series.objects.filter(device__in=devices)
    Reading.objects.filter(series__in=series).delete()
    ReadingDay.objects.filter(series__in=series).delete()
    Upload.objects.filter(series__in=series).delete()
    series.update(reading_count=0, first_instant=None, last_instant=None)


def _uploads(
    api: Any, org: Any, through_api: Any, through_command: Any, path: Path, rounds: int
) -> Row:
    from django.core.management import call_command

    api_times, command_times = [], []
    for _ in range(rounds):
        _forget(through_api, through_command)
        with path.open("rb") as handle:
            started = time.perf_counter()
            response = api.post(f"/api/v1/devices/{through_api.pk}/readings", {"file": handle})
            api_times.append(time.perf_counter() - started)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "stored", body
        sink = io.StringIO()
        started = time.perf_counter()
        call_command(
            "import_readings",
            "--org",
            org.slug,
            "--device",
            through_command.custom_id,
            str(path),
            stdout=sink,
            stderr=sink,
        )
        command_times.append(time.perf_counter() - started)
    rows = body["rows"]
    return Row(
        "api",
        "device-year upload vs import_readings",
        min(api_times),
        min(command_times),
        1.2,
        f"{rows:,} rows; API rounds "
        + ", ".join(f"{t:.2f}" for t in api_times)
        + "; command "
        + ", ".join(f"{t:.2f}" for t in command_times)
        + " s",
    )


def _pages(api: Any, page_client: Any, device_count: int, requests: int) -> list[Row]:
    from devices.views import DeviceList

    DeviceList.paginate_by = 100  # the list page, at the API page's size
    middle = device_count // 2
    from api.binding import _cursor_text
    from devices.models import Device

    halfway_pk = Device.objects.order_by("pk").values_list("pk", flat=True)[middle]
    cases = [
        ("first page", "/api/v1/devices?limit=100", "/devices/"),
        (
            "halfway",
            f"/api/v1/devices?limit=100&cursor={_cursor_text(halfway_pk)}",
            f"/devices/?page={max(1, middle // 100)}",
        ),
    ]
    rows = []
    for label, api_url, page_url in cases:
        for client, url in ((api, api_url), (page_client, page_url)):  # warm both
            assert client.get(url).status_code == 200
        api_times, page_times = [], []
        for _ in range(requests):
            started = time.perf_counter()
            response = api.get(api_url)
            api_times.append(time.perf_counter() - started)
            assert len(response.json()["items"]) == 100
            started = time.perf_counter()
            response = page_client.get(page_url)
            page_times.append(time.perf_counter() - started)
            assert response.status_code == 200
        api_ms, page_ms = statistics.median(api_times), statistics.median(page_times)
        rows.append(
            Row(
                "api",
                f"100 devices, {label}: API vs list page",
                api_ms,
                page_ms,
                1.0,
                f"median of {requests}: {api_ms * 1000:.1f} vs {page_ms * 1000:.1f} ms",
            )
        )
    return rows
