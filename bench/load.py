"""Load: 50 users browsing an organization of 100,000 devices and 10 million readings, and 10
concurrent uploads of a device-year, against gunicorn and PostgreSQL on 127.0.0.1.

Set-up (not counted): a throwaway database (PostgreSQL); one organization with 25,000 customers,
25,000 homes, 25,000 meters and 100,000 devices (written with COPY), 1,142 of the devices holding
a year of hourly readings (10.0 M rows, binary COPY); 60 members. `collectstatic` into a
temporary STATIC_ROOT (whitenoise's manifest storage needs it), then `gunicorn portal.wsgi -w 3`
with the production settings (DEBUG off, Redis as the broker) on a free port. Every user signs in
through the login form (CSRF token from the page).

The measured phase is a bounded script (no locust): a fixed number of requests and a time cap.
- 50 users, one thread and one httpx.Client (its own session) each, 40 requests each
  with a think time of 0.2-1.0 s: half list pages (devices, with a page, a search or a filter;
  homes, customers, meters), the other half detail pages (devices, half of them with a year of
  readings, homes, customers, meters); a device page's readings panel is fetched after it, as htmx
  does, when the page has one.
- 10 uploaders, started once the users are under way, each posting one device-year CSV
  (8,760 rows) to `device_readings_upload` with `Accept: application/json`.
- a probe GETs `/healthz` every 0.25 s throughout: the baseline of the same run.

Before it, one user alone runs the same mix with no think time (60 pages, each followed by a
/healthz): what each kind of page costs when nothing queues, printed beside the figures.

Reported: p50/p95 latency per kind of request and every error (a status other than the expected
one, a timeout, an upload not stored). Targets: no errors; list and detail p95 within 5x the p95
of /healthz.

Knobs: BENCH_LOAD_DEVICES (100000), BENCH_LOAD_READINGS (10000000), BENCH_LOAD_USERS (50),
BENCH_LOAD_REQUESTS (40 per user), BENCH_LOAD_UPLOADS (10), BENCH_LOAD_WORKERS (3 gunicorn
workers), BENCH_LOAD_CAP_S (300), BENCH_TINY=1 (a few of each, for the smoke test).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench import _fixtures as fx
from bench.common import Row

SLUG = "bench-load"
TZ = "America/Chicago"
PASSWORD = "bench-load-password-1"
DEVICES_PER_HOME = 4
TARGET = 5.0
THINK_S = (0.2, 1.0)
HEALTH_EVERY_S = 0.25
REQUEST_TIMEOUT_S = 60.0
KINDS = ("solar", "solar", "electrification", "battery", "ev_charger")
DETAILS = {
    "solar": {"nameplate_capacity_kw": 7.2, "inverter_data_source": "enphase"},
    "electrification": {},
    "battery": {},
    "ev_charger": {},
}

_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_PANEL_RE = re.compile(r'id="readings-panel" hx-get="([^"]+)"')


@dataclass
class Size:
    devices: int
    readings: int
    users: int
    requests: int
    uploads: int
    workers: int
    cap_s: float

    @classmethod
    def from_env(cls) -> Size:
        if fx.tiny():
            return cls(200, 2 * fx.HOURS_PER_YEAR, 3, 4, 1, 2, 60.0)
        return cls(
            devices=fx.env_int("BENCH_LOAD_DEVICES", 100_000),
            readings=fx.env_int("BENCH_LOAD_READINGS", 10_000_000),
            users=fx.env_int("BENCH_LOAD_USERS", 50),
            requests=fx.env_int("BENCH_LOAD_REQUESTS", 40),
            uploads=fx.env_int("BENCH_LOAD_UPLOADS", 10),
            workers=fx.env_int("BENCH_LOAD_WORKERS", 3),
            cap_s=float(fx.env_int("BENCH_LOAD_CAP_S", 300)),
        )

    @property
    def device_years(self) -> int:
        return max(1, round(self.readings / fx.HOURS_PER_YEAR))


@dataclass
class Portfolio:
    """Primary keys the users browse, and the devices that receive the uploads."""

    devices: list[int]
    devices_with_readings: list[int]
    homes: list[int]
    customers: list[int]
    meters: list[int]
    upload_targets: list[int]
    emails: list[str]


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool
    detail: str = ""


@dataclass
class Results:
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def by_kind(self) -> dict[str, list[Sample]]:
        kinds: dict[str, list[Sample]] = defaultdict(list)
        for sample in self.samples:
            kinds[sample.kind].append(sample)
        return kinds


def run() -> list[Row]:
    size = Size.from_env()
    return fx.run_in_throwaway("load", lambda database_url, tmp: _run(size, database_url, tmp))


def _run(size: Size, database_url: str, tmp: Path) -> list[Row]:
    from django.urls import NoReverseMatch, reverse

    started = time.perf_counter()
    portfolio = _portfolio(size)
    print(f"set-up: data in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        upload_url = reverse("device_readings_upload", args=[0]).replace("/0/", "/{pk}/")
    except NoReverseMatch:
        upload_url = ""
        print("load: the device_readings_upload URL is not installed: no uploads", flush=True)
    files = _upload_files(tmp, size.uploads) if upload_url else []
    with Gunicorn(database_url, tmp, size.workers) as server:
        sessions = _sign_in(server.base_url, portfolio.emails)
        print(
            f"set-up: {len(sessions)} users signed in; gunicorn -w {size.workers} on "
            f"{server.base_url}; total set-up {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        try:
            _warm_up(server.base_url, sessions[0], portfolio)
            calm = _one_user(sessions[0], portfolio, 10 if fx.tiny() else 60)
            cpu = fx.CpuMeter(
                {
                    "gunicorn": server.pids,
                    "postgres": fx.backend_pids,
                    "load script": lambda: [os.getpid()],
                }
            )
            cpu.start()
            results, wall_s, stopped = _measure(
                size, server.base_url, sessions, portfolio, files, upload_url
            )
            cpu.stop()
            errors_logged = server.errors()
        finally:
            for client in sessions:
                client.close()
    return _report(size, results, calm, wall_s, stopped, cpu, errors_logged, bool(upload_url))


# ---- set-up ----------------------------------------------------------------------------------


def _portfolio(size: Size) -> Portfolio:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from devices.models import Device
    from homes.models import Meter
    from portal.models import Membership, Organization, Role, User
    from readings.models import Series

    org = Organization.objects.create(name="Bench load", slug=SLUG, timezone=TZ)
    homes = fx.customers_and_homes(org, max(1, -(-size.devices // DEVICES_PER_HOME)), TZ)
    meters = [
        Meter(organization=org, home=home, meter_number=f"M{n:07d}") for n, home in enumerate(homes)
    ]
    fx.copy_models(Meter, meters)
    devices = []
    for n in range(size.devices):
        kind = KINDS[n % len(KINDS)]
        devices.append(
            Device(
                organization=org,
                home=homes[n // DEVICES_PER_HOME],
                name=f"{kind.replace('_', ' ').title()} {n:06d}",
                custom_id=f"LD-{n:06d}",
                kind=kind,
                details=dict(DETAILS[kind]),
            )
        )
    fx.copy_models(Device, devices)
    # A year of readings on every k-th device (spread over the list), none on the upload targets.
    step = max(1, size.devices // (size.device_years + size.uploads + 1))
    with_readings = [d for d in devices[::step]][: size.device_years]
    taken = {d.pk for d in with_readings}
    upload_targets = (
        [d for d in devices if d.pk not in taken][-size.uploads :] if size.uploads else []
    )
    series = [
        Series(organization=org, device=device, quantity="generation") for device in with_readings
    ]
    fx.copy_models(Series, series)
    started = time.perf_counter()
    rows = fx.insert_readings([s.pk for s in series], fx.HOURS_PER_YEAR)
    print(f"  {rows:,} readings in {time.perf_counter() - started:.1f} s", flush=True)

    # Hashed once (every bench user has the same password), with the production hasher: the
    # bench process runs the test settings, whose MD5 hasher gunicorn would not accept.
    hasher = PBKDF2PasswordHasher()
    password = hasher.encode(PASSWORD, hasher.salt())
    users = [
        User(email=f"user{n:02d}@bench.test", full_name=f"Bench user {n}", password=password)
        for n in range(size.users + size.uploads)
    ]
    fx.copy_models(User, users)
    fx.copy_models(
        Membership,
        [Membership(user=user, organization=org, role=Role.MEMBER) for user in users],
    )
    fx.settle(
        "devices_reading",
        "devices_device",
        "devices_series",
        "homes_home",
        "homes_customer",
        "homes_meter",
    )
    return Portfolio(
        devices=[d.pk for d in devices],
        devices_with_readings=[d.pk for d in with_readings],
        homes=[h.pk for h in homes],
        customers=[h.customer_id for h in homes],
        meters=[m.pk for m in meters],
        upload_targets=[d.pk for d in upload_targets],
        emails=[user.email for user in users],
    )


def _upload_files(tmp: Path, count: int) -> list[bytes]:
    """A device-year CSV per uploader, local times with their offset (as an export has them)."""
    zone = ZoneInfo(TZ)
    stamps = [
        (fx.YEAR_START + timedelta(hours=h)).astimezone(zone).isoformat()
        for h in range(fx.HOURS_PER_YEAR)
    ]
    files = []
    for n in range(count):
        lines = ["datetime,value_kwh"]
        lines += [f"{stamp},{fx.value_kwh(n, h) / 2}" for h, stamp in enumerate(stamps)]
        files.append(("\n".join(lines) + "\n").encode())
    return files


class Gunicorn:
    """`gunicorn portal.wsgi` on a free port with production settings and a temporary STATIC_ROOT."""

    def __init__(self, database_url: str, tmp: Path, workers: int) -> None:
        self.port = fx.free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        # STATIC_ROOT is not read from the environment: a settings module in the temporary
        # directory points it there, so collectstatic leaves the checkout alone.
        (tmp / "bench_load_settings.py").write_text(
            f"from portal.settings import *  # noqa: F403\nSTATIC_ROOT = {str(tmp / 'static')!r}\n"
        )
        self.env = fx.child_env(database_url)
        self.env.update(
            DJANGO_SETTINGS_MODULE="bench_load_settings",
            PYTHONPATH=os.pathsep.join([str(tmp), self.env["PYTHONPATH"]]),
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
        )
        self.log = tmp / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        started = time.perf_counter()
        subprocess.run(
            [str(fx.VENV_BIN / "python"), "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=fx.ROOT,
            env=self.env,
            check=True,
            timeout=300,
        )
        collected = time.perf_counter() - started
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(fx.VENV_BIN / "gunicorn"),
                    "portal.wsgi",
                    "--workers",
                    str(self.workers),
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--timeout",
                    "120",
                    "--error-logfile",
                    "-",
                ],
                cwd=fx.ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            if not fx.wait_until(self._healthy, 60, interval_s=0.25):
                raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.tail()}")
        except BaseException:
            self.__exit__()
            raise
        print(
            f"collectstatic {collected:.1f} s; gunicorn ready "
            f"{time.perf_counter() - started - collected:.1f} s later",
            flush=True,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            fx.stop_process_group(self.process)
        self.process = None

    def _healthy(self) -> bool:
        import httpx

        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.tail()}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self) -> list[int]:
        if self.process is None:
            return []
        return [self.process.pid, *fx.child_pids(self.process.pid)]

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Lines gunicorn or Django logged at ERROR (a 500's traceback starts with one)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if " ERROR " in line or "[ERROR]" in line]


def _client(base_url: str) -> Any:
    import httpx

    return httpx.Client(
        base_url=base_url,
        timeout=REQUEST_TIMEOUT_S,
        headers={"User-Agent": "gridfolio-bench-load"},
        follow_redirects=False,
    )


def _sign_in(base_url: str, emails: list[str]) -> list[Any]:
    """One signed-in client per user, through the login form (4 at a time: each is a PBKDF2)."""
    from concurrent.futures import ThreadPoolExecutor

    def sign_in(email: str) -> Any:
        client = _client(base_url)
        page = client.get("/accounts/login/")
        match = _CSRF_RE.search(page.text)
        if page.status_code != 200 or match is None:
            raise RuntimeError(f"login page: {page.status_code}")
        answer = client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": match.group(1),
                "username": email,
                "password": PASSWORD,
                "next": "/",
            },
        )
        if answer.status_code != 302:
            raise RuntimeError(f"sign-in of {email}: {answer.status_code} {answer.text[:300]}")
        return client

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(sign_in, emails))


def _warm_up(base_url: str, client: Any, portfolio: Portfolio) -> None:
    """Each gunicorn worker imports, compiles templates and connects before the clock."""
    for _ in range(3):
        for path in (
            "/",
            "/devices/",
            f"/devices/{portfolio.devices_with_readings[0]}/",
            "/homes/",
            f"/homes/{portfolio.homes[0]}/",
            "/customers/",
            f"/customers/{portfolio.customers[0]}/",
            "/meters/",
            f"/meters/{portfolio.meters[0]}/",
            "/healthz",
        ):
            client.get(path)


def _one_user(client: Any, portfolio: Portfolio, count: int) -> Results:
    """The same mix from a single user with no think time and nothing else running: what each
    kind of page costs the server on its own (the reference for the figures under load)."""
    results = Results()
    rng = random.Random(-1)
    for _ in range(count):
        kind, path = _choose(rng, portfolio)
        page = _timed_get(client, kind, path, results)
        panel = _PANEL_RE.search(page) if kind == "detail" and "/devices/" in path else None
        if panel is not None:
            _timed_get(client, "readings panel", panel.group(1).replace("&amp;", "&"), results)
        _timed_get(client, "healthz", "/healthz", results)
    return results


# ---- the measured phase -------------------------------------------------------------------------


def _choose(rng: random.Random, portfolio: Portfolio) -> tuple[str, str]:
    """(kind, path) of a user's next page."""
    if rng.random() < 0.5:
        pages = max(1, len(portfolio.devices) // 50)
        roll = rng.random()
        if roll < 0.40:
            return "list", f"/devices/?page={rng.randint(1, pages)}"
        if roll < 0.50:
            return "list", f"/devices/?q={rng.randint(0, len(portfolio.devices) - 1):06d}"
        if roll < 0.60:
            kind = rng.choice(KINDS)
            return "list", f"/devices/?kind={kind}&page={rng.randint(1, max(1, pages // 5))}"
        if roll < 0.75:
            return "list", f"/homes/?page={rng.randint(1, max(1, len(portfolio.homes) // 50))}"
        if roll < 0.85:
            return (
                "list",
                f"/customers/?page={rng.randint(1, max(1, len(portfolio.customers) // 50))}",
            )
        return "list", f"/meters/?page={rng.randint(1, max(1, len(portfolio.meters) // 50))}"
    roll = rng.random()
    if roll < 0.25:
        return "detail", f"/devices/{rng.choice(portfolio.devices_with_readings)}/"
    if roll < 0.50:
        return "detail", f"/devices/{rng.choice(portfolio.devices)}/"
    if roll < 0.70:
        return "detail", f"/homes/{rng.choice(portfolio.homes)}/"
    if roll < 0.85:
        return "detail", f"/customers/{rng.choice(portfolio.customers)}/"
    return "detail", f"/meters/{rng.choice(portfolio.meters)}/"


def _timed_get(client: Any, kind: str, path: str, results: Results) -> str:
    import httpx

    started = time.perf_counter()
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        results.add(Sample(kind, time.perf_counter() - started, False, f"{path}: {exc!r}"))
        return ""
    seconds = time.perf_counter() - started
    ok = response.status_code == 200
    results.add(Sample(kind, seconds, ok, "" if ok else f"{path}: {response.status_code}"))
    return response.text if ok else ""


def _measure(
    size: Size,
    base_url: str,
    sessions: list[Any],
    portfolio: Portfolio,
    files: list[bytes],
    upload_url: str,
) -> tuple[Results, float, bool]:
    results = Results()
    stop = threading.Event()
    users_done = threading.Event()
    under_way = threading.Event()
    planned = size.users * size.requests
    issued = [0]
    issued_lock = threading.Lock()

    def user(number: int, client: Any) -> None:
        rng = random.Random(number)
        for _ in range(size.requests):
            if stop.is_set():
                return
            kind, path = _choose(rng, portfolio)
            page = _timed_get(client, kind, path, results)
            panel = (
                _PANEL_RE.search(page)
                if path.startswith("/devices/") and kind == "detail"
                else None
            )
            if panel is not None:
                _timed_get(client, "readings panel", panel.group(1).replace("&amp;", "&"), results)
            with issued_lock:
                issued[0] += 1
                if issued[0] >= planned // 5:
                    under_way.set()
            time.sleep(rng.uniform(*THINK_S))

    def uploader(client: Any, device_pk: int, content: bytes) -> None:
        under_way.wait(timeout=size.cap_s)
        if stop.is_set():
            return
        path = upload_url.format(pk=device_pk)
        started = time.perf_counter()
        try:
            response = client.post(
                path,
                files={"file": (f"device-{device_pk}.csv", content, "text/csv")},
                headers={
                    "Accept": "application/json",
                    "X-CSRFToken": client.cookies.get("csrftoken", ""),
                },
            )
        except Exception as exc:
            results.add(Sample("upload", time.perf_counter() - started, False, f"{exc!r}"))
            return
        seconds = time.perf_counter() - started
        outcome = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        ok = (
            response.status_code == 200
            and outcome.get("status") == "stored"
            and outcome.get("inserted") == fx.HOURS_PER_YEAR
        )
        detail = "" if ok else f"{path}: {response.status_code} {response.text[:200]}"
        results.add(Sample("upload", seconds, ok, detail))

    def probe(client: Any) -> None:
        while not users_done.is_set() and not stop.is_set():
            _timed_get(client, "healthz", "/healthz", results)
            time.sleep(HEALTH_EVERY_S)

    browsers = sessions[: size.users]
    uploaders = sessions[size.users :]
    threads = [
        threading.Thread(target=user, args=(n, client), name=f"user-{n}")
        for n, client in enumerate(browsers)
    ]
    threads += [
        threading.Thread(target=uploader, args=(client, pk, content), name=f"upload-{pk}")
        for client, pk, content in zip(uploaders, portfolio.upload_targets, files, strict=False)
    ]
    health_client = _client(base_url)
    prober = threading.Thread(target=probe, args=(health_client,), name="healthz")
    timer = threading.Timer(size.cap_s, stop.set)
    started = time.perf_counter()
    timer.start()
    prober.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    users_done.set()
    timer.cancel()
    prober.join()
    health_client.close()
    return results, wall_s, stop.is_set()


# ---- the report --------------------------------------------------------------------------------


def _report(
    size: Size,
    results: Results,
    calm: Results,
    wall_s: float,
    stopped: bool,
    cpu: fx.CpuMeter,
    logged_errors: list[str],
    uploads_installed: bool,
) -> list[Row]:
    kinds = results.by_kind()
    total = len(results.samples)
    errors = [sample for sample in results.samples if not sample.ok]
    print(
        f"load: {total:,} requests in {wall_s:.1f} s ({total / wall_s:,.1f}/s)"
        + (" STOPPED AT THE TIME CAP" if stopped else "")
        + f"; load average {fx.load_average()}; CPU s: {cpu.describe()}",
        flush=True,
    )
    stats: dict[str, tuple[float, float]] = {}
    for kind in ("healthz", "list", "detail", "readings panel", "upload"):
        samples = kinds.get(kind, [])
        seconds = [sample.seconds for sample in samples]
        p50, p95 = fx.percentile(seconds, 0.50), fx.percentile(seconds, 0.95)
        stats[kind] = (p50, p95)
        failed = sum(not sample.ok for sample in samples)
        if samples:
            print(
                f"  {kind:<15} n={len(samples):>5}  p50 {p50 * 1000:8.1f} ms  "
                f"p95 {p95 * 1000:8.1f} ms  max {max(seconds) * 1000:8.1f} ms  errors {failed}",
                flush=True,
            )
    calm_kinds = calm.by_kind()
    calm_p50 = {
        kind: fx.percentile([sample.seconds for sample in samples], 0.50)
        for kind, samples in calm_kinds.items()
    }
    print(
        "  one user alone, p50: "
        + ", ".join(f"{kind} {seconds * 1000:.0f} ms" for kind, seconds in calm_p50.items()),
        flush=True,
    )
    errors += [sample for sample in calm.samples if not sample.ok]
    for sample in errors[:10]:
        print(f"  error: {sample.kind}: {sample.detail}", flush=True)
    for line in logged_errors[:10]:
        print(f"  gunicorn log: {line}", flush=True)

    health_p95 = stats["healthz"][1]
    rows = []
    for kind, label in (
        ("list", "list pages"),
        ("detail", "detail pages"),
        ("readings panel", "device readings panel"),
    ):
        if kind not in kinds:
            continue
        p50, p95 = stats[kind]
        failed = sum(not sample.ok for sample in kinds[kind])
        rows.append(
            Row(
                "load",
                f"{label} p95 vs /healthz p95",
                p95,
                health_p95,
                TARGET,
                f"p50 {p50 * 1000:.0f} vs {stats['healthz'][0] * 1000:.0f} ms; one user alone: "
                f"{calm_p50.get(kind, 0) * 1000:.0f} vs {calm_p50.get('healthz', 0) * 1000:.0f} ms; "
                f"n={len(kinds[kind])}; errors {failed}",
            )
        )
    if "upload" in kinds:
        p50, p95 = stats["upload"]
        stored = sum(sample.ok for sample in kinds["upload"])
        rows.append(
            Row(
                "load",
                f"device-year uploads p95, {size.uploads} concurrent",
                p95,
                health_p95,
                None,
                f"p50 {p50:.2f} s; {stored}/{len(kinds['upload'])} stored",
            )
        )
    rows.append(
        Row(
            "load",
            "errors (count) vs requests (count)",
            float(len(errors) + len(logged_errors)),
            float(total),
            None,
            "target: no errors"
            + ("" if uploads_installed else "; uploads NOT MEASURED: endpoint not installed")
            + ("; stopped at the time cap" if stopped else ""),
        )
    )
    return rows
