"""Peak memory of storing the biggest file an upload may be, through every way in.

The parser's limit is 100 MB of text (readings.parser.Limits). Two such files, each stored into a
fresh device through each path, each path in processes started for it (their peak is theirs):

- 5-minute: 100 MB of 5-minute readings, 3.9 M rows (30 years, summed to 324,000 hourly readings);
- hourly: 2.6 M hourly readings, 1901 to 2199 (the parser's whole range of years), 75 MB.

Paths, as in production (portal.settings on the throwaway database, tasks on Redis):

- command: ``manage.py import_readings`` (its own process: the peak is its ``ru_maxrss``);
- page: sign in, drop the file on the device's page (a big file is checked by the Celery
  worker), open its chart, confirm (stored by the worker): the peak of the gunicorn worker and
  of the Celery worker, each process's own high-water mark (VmHWM), the larger counts;
- API: ``POST /api/v1/devices/{id}/readings`` (one step, in the gunicorn worker).

Target: 200 MB each. The baseline column is the target; the note gives each process's peak and
what the same process holds idle (its RSS after a small file through the same path), so what
the file cost is visible apart from what Django, numpy and the app cost anyway.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import _fixtures as fx
from bench.common import Row
from bench.load import PASSWORD, Gunicorn, _client, _sign_in

TARGET_MB = 200.0
SLUG = "bench-memory"
_UPLOAD_ID_RE = re.compile(r'id="upload-(\d+)"')
_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_STATUS_RE = re.compile(r'data-upload-status="(\w+)"')


def run() -> list[Row]:
    return fx.run_in_throwaway("memory", _in_broker_mode)


def _in_broker_mode(database_url: str, tmp: Path) -> list[Row]:
    with fx.broker_mode():
        return _run(database_url, tmp)


def _run(database_url: str, tmp: Path) -> list[Row]:
    files = _files(tmp)
    people = _people()
    rows = []
    for label, path in files:
        for way in ("command", "page", "API"):
            device = _device(f"{label}-{way}")
            peaks = _PATHS[way](database_url, tmp, path, device, people)
            worst = max(peaks.values())
            note = ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items())
            print(f"{label} through the {way}: {note}", flush=True)
            rows.append(
                Row(
                    "memory",
                    f"{label} file via {way}, peak MB vs 200 MB",
                    worst,
                    TARGET_MB,
                    1.0,
                    f"MB, not seconds: {note}",
                )
            )
    return rows


# ---- set-up --------------------------------------------------------------------------------------


def _files(tmp: Path) -> list[tuple[str, Path]]:
    """The two biggest files (tiny mode: a few thousand rows each)."""
    limit = 100 * 1024 * 1024
    five = tmp / "five-minute.csv"
    hourly = tmp / "hourly.csv"
    rows = 5000 if fx.tiny() else None
    _write(
        five, datetime(1995, 1, 1, tzinfo=UTC), timedelta(minutes=5), limit, rows, whole_hours=True
    )
    _write(
        hourly,
        datetime(1901, 1, 1, tzinfo=UTC),
        timedelta(hours=1),
        limit,
        rows,
        until=datetime(2199, 12, 29, tzinfo=UTC),
    )
    for path in (five, hourly):
        print(f"{path.name}: {path.stat().st_size / 1e6:.1f} MB", flush=True)
    return [("5-minute", five), ("hourly", hourly)]


def _write(
    path: Path,
    start: datetime,
    step: timedelta,
    limit: int,
    rows: int | None,
    *,
    whole_hours: bool = False,
    until: datetime | None = None,
) -> None:
    size = len("datetime,value_kwh\n")
    lines = []
    at = start
    n = 0
    per_hour = timedelta(hours=1) // step
    with path.open("w") as handle:
        handle.write("datetime,value_kwh\n")
        while rows is None or n < rows:
            line = f"{at:%Y-%m-%dT%H:%M:%S}Z,{(n * 37 % 97) / 100:.2f}\n"
            if size + len(line) * per_hour > limit or (until is not None and at >= until):
                break
            lines.append(line)
            size += len(line)
            n += 1
            at += step
            if len(lines) >= 100_000:
                handle.writelines(lines)
                lines.clear()
        if whole_hours:
            while n % per_hour:
                lines.pop()
                n -= 1
        handle.writelines(lines)


class _People:
    def __init__(self, organization: Any, email: str, api_key: str) -> None:
        self.organization = organization
        self.email = email
        self.api_key = api_key


def _people() -> _People:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from api.services import create_api_key
    from portal.models import Membership, Organization, Role, User

    organization = Organization.objects.create(name="Bench memory", slug=SLUG, timezone="UTC")
    email = "memory@bench.local"
    # The production hasher: the bench process runs the test settings, whose MD5 hasher gunicorn
    # would not accept.
    hasher = PBKDF2PasswordHasher()
    user = User.objects.create(email=email, password=hasher.encode(PASSWORD, hasher.salt()))
    Membership.objects.create(user=user, organization=organization, role=Role.ADMIN)
    key = create_api_key(organization, name="bench", scopes=["read", "readings"], created_by=user)
    return _People(organization, email, key.plaintext)


def _device(name: str) -> Any:
    from devices.models import Device
    from homes.models import Customer, Home

    customer = Customer.objects.create(organization_id=_org_id(), name=f"Customer {name}")
    home = Home.objects.create(
        organization_id=_org_id(),
        customer=customer,
        name=f"Home {name}",
        zip_code="52327",
        timezone="UTC",
    )
    return Device.objects.create(
        organization_id=_org_id(),
        home=home,
        name=f"Meter-side {name}",
        custom_id=name,
        kind="solar",
        details={"nameplate_capacity_kw": 10000.0},
    )


def _org_id() -> int:
    from portal.models import Organization

    return Organization.objects.get(slug=SLUG).pk


# ---- the paths -----------------------------------------------------------------------------------


def _command(
    database_url: str, tmp: Path, path: Path, device: Any, people: _People
) -> dict[str, float]:
    log = tmp / "command.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "import_readings",
                "--org",
                SLUG,
                "--device",
                device.custom_id,
                str(path),
            ],
            cwd=fx.ROOT,
            env=fx.child_env(database_url),
            stdout=output,
            stderr=output,
        )
        # Reaped here, not by Popen: wait4 gives this child's own resource usage.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"import_readings failed: {log.read_text()[-2000:]}")
    _expect_stored(device)
    return {"command": usage.ru_maxrss / 1024}


def _page(
    database_url: str, tmp: Path, path: Path, device: Any, people: _People
) -> dict[str, float]:
    with (
        _Server(database_url, tmp) as server,
        fx.Worker(database_url, pool="solo", concurrency=1, name="memory") as worker,
    ):
        client = server.sign_in(people.email)
        page = client.get(f"/devices/{device.pk}/")
        token = _CSRF_RE.search(page.text)
        assert token is not None, page.status_code
        with path.open("rb") as handle:
            answer = client.post(
                f"/devices/{device.pk}/readings/check/",
                files={"files": (path.name, handle, "text/csv")},
                data={"csrfmiddlewaretoken": token.group(1)},
                headers={"HX-Request": "true"},
                timeout=600,
            )
        found = _UPLOAD_ID_RE.search(answer.text)
        assert answer.status_code == 200 and found, (answer.status_code, answer.text[:500])
        upload = int(found.group(1))
        _wait_for(client, upload, "preview")
        chart = client.get(f"/uploads/{upload}/chart.json", timeout=600)
        assert chart.status_code == 200, chart.text[:300]
        confirmed = client.post(
            f"/uploads/{upload}/confirm/",
            data={"csrfmiddlewaretoken": token.group(1)},
            headers={"HX-Request": "true"},
            timeout=600,
        )
        assert confirmed.status_code == 200, confirmed.text[:300]
        _wait_for(client, upload, "stored")
        _expect_stored(device)
        return {
            "gunicorn worker": server.peak_mb(),
            "celery worker": _peak_mb([worker.process.pid]),
        }  # type: ignore[union-attr]


def _api(
    database_url: str, tmp: Path, path: Path, device: Any, people: _People
) -> dict[str, float]:
    with _Server(database_url, tmp) as server, path.open("rb") as handle:
        client = server.client()
        answer = client.post(
            f"/api/v1/devices/{device.pk}/readings",
            files={"file": (path.name, handle, "text/csv")},
            headers={"Authorization": f"Bearer {people.api_key}"},
            timeout=600,
        )
        assert answer.status_code == 200, answer.text[:500]
        _expect_stored(device)
        return {"gunicorn worker": server.peak_mb()}


_PATHS = {"command": _command, "page": _page, "API": _api}


def _wait_for(client: Any, upload: int, status: str) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        page = client.get(f"/uploads/{upload}/progress/")
        seen = _STATUS_RE.search(page.text)
        current = seen.group(1) if seen else "?"
        if current == status:
            return
        if current in {"rejected", "failed"}:
            raise RuntimeError(f"upload {upload} is {current}: {page.text[:1000]}")
        time.sleep(0.5)
    raise RuntimeError(f"upload {upload} never became {status}")


def _expect_stored(device: Any) -> None:
    from readings.models import Upload, UploadStatus

    upload = Upload.objects.filter(series__device=device).order_by("-pk").first()
    if upload is None or upload.status != UploadStatus.STORED or not upload.inserted:
        raise RuntimeError(f"{device}: not stored ({upload and upload.status})")


def _peak_mb(pids: list[int]) -> float:
    peak = 0.0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]) / 1024)
    return peak


class _Server(Gunicorn):
    """gunicorn, one sync worker, production settings on the throwaway database (bench.load's)."""

    def __init__(self, database_url: str, tmp: Path) -> None:
        super().__init__(database_url, tmp, workers=1)
        self.clients: list[Any] = []

    def client(self) -> Any:
        client = _client(self.base_url)
        self.clients.append(client)
        return client

    def sign_in(self, email: str) -> Any:
        (client,) = _sign_in(self.base_url, [email])
        self.clients.append(client)
        return client

    def peak_mb(self) -> float:
        assert self.process is not None
        return _peak_mb(fx.child_pids(self.process.pid))

    def __exit__(self, *exc: object) -> None:
        for client in self.clients:
            client.close()
        super().__exit__(*exc)
