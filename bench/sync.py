"""WattCarbon sync: 1,000 devices and 1,000 device-years of hourly readings, through the sync engine
and a real Celery worker, to the WattCarbon emulator over HTTP on 127.0.0.1.

Set-up (timed apart, not counted): a throwaway database (PostgreSQL), an organization with 1,000
solar devices at 100 homes, each device's series holding a year of hourly readings (8.76 M rows,
written with binary COPY), the organization's WattCarbon connection pointing at the emulator (served
by `RunningEmulator`: waitress, keep-alive, in this process), and the links the product leaves
after those writes: a device link per device and a timeseries link with twelve dirty months.

Ours: a `celery -A portal worker` subprocess on Redis db 5 (prefork, one process per core by
default; production settings on the throwaway database, since the test settings would run every
task the worker queues eagerly, inline). The clock starts when one `sweep` task is
queued (what Celery beat does every minute) and stops when every link is synced: 1,000
`POST /devices`, then 12,000 monthly `POST /devices/{id}/timeseries` CSV uploads, each built from
the database by the engine, with its SyncAttempt ledger. The bench re-queues the sweep every 60 s,
as beat would.

The baseline, in the same run against the same emulator: a bare httpx loop in a subprocess (so it
does not share this process's GIL with the emulator, as the worker does not), one `httpx.Client`,
one token, the same 1,000 device bodies and the same 12,000 CSV bodies, byte for byte, built before
its clock starts. Target: ours within 1.5x of it.

Then the same organization is switched to the `current` profile (integrations/profiles.py: its
own emulator, `WattCarbonCurrentEmulator`) and measured again against the same baseline: per
device `POST /assets`, `POST /meters`, then 12 monthly `POST /meters/{id}/intervals`.

Every run is checked against the emulator's state (every device, upload and hour arrived), and
the CPU seconds of each party are printed: the worker, PostgreSQL (sampled: a backend that lives
for one task between two samples is missed) and the emulator for ours, the loop and the emulator
for the baseline, with how busy the whole machine was.

The emulator serves with one handler thread (BENCH_SYNC_EMULATOR_THREADS): see _run.

Knobs: BENCH_SYNC_DEVICES (1000), BENCH_SYNC_CONCURRENCY (worker processes, default the cores),
BENCH_SYNC_POOL (prefork), BENCH_SYNC_REPEATS (1; the fastest of each side counts),
BENCH_TINY=1 (3 devices, for the smoke test).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import _fixtures as fx
from bench.common import Row

DEVICES_PER_HOME = 10
SLUG = "bench-sync"
TARGET = 1.5
BEAT_S = 60.0  # CELERY_BEAT_SCHEDULE's sweep


@dataclass
class Size:
    devices: int
    hours: int
    concurrency: int
    pool: str
    repeats: int
    timeout_s: float

    @classmethod
    def from_env(cls) -> Size:
        devices = 3 if fx.tiny() else fx.env_int("BENCH_SYNC_DEVICES", 1000)
        return cls(
            devices=devices,
            hours=fx.HOURS_PER_YEAR,
            concurrency=fx.env_int("BENCH_SYNC_CONCURRENCY", os.cpu_count() or 2),
            pool=os.environ.get("BENCH_SYNC_POOL", "prefork"),
            repeats=1 if fx.tiny() else fx.env_int("BENCH_SYNC_REPEATS", 1),
            timeout_s=120 + devices * 2.0,
        )

    @property
    def months(self) -> int:
        return len(month_keys(self.hours))

    @property
    def requests(self) -> int:
        return self.devices * (1 + self.months)

    @property
    def current_requests(self) -> int:
        """The current profile: an asset and a meter per device, then the meter's monthly intervals."""
        return self.devices * (2 + self.months)


@dataclass
class Measured:
    wall_s: float
    cpu: dict[str, float]
    machine_busy: float

    @property
    def cpu_total_s(self) -> float:
        return sum(self.cpu.values())

    def describe(self) -> str:
        cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.cpu.items())
        return f"{cpu} (machine {self.machine_busy:.0%} busy)"


def month_keys(hours: int) -> list[str]:
    from integrations.adapters.wattcarbon import month_keys as keys

    return keys(fx.YEAR_START, fx.YEAR_START + timedelta(hours=hours - 1))


def run() -> list[Row]:
    size = Size.from_env()
    return fx.run_in_throwaway("sync", lambda database_url, tmp: _run(size, database_url, tmp))


def _run(size: Size, database_url: str, tmp: Path) -> list[Row]:
    from integrations.clients import forget_clients
    from integrations.sandbox.base import RunningEmulator
    from integrations.sandbox.wattcarbon import WattCarbonEmulator
    from integrations.sandbox.wattcarbon.current import WattCarbonCurrentEmulator

    emulator = WattCarbonEmulator()
    current = WattCarbonCurrentEmulator()
    # One handler thread: the emulator stands for a remote service, but it is one Python process,
    # and two requests served at once by two of its threads cost it ~30% more CPU (its GIL), which
    # would bill our workers' concurrency. The bare loop sends one request at a time anyway.
    threads = fx.env_int("BENCH_SYNC_EMULATOR_THREADS", 1)
    with (
        RunningEmulator(emulator, threads=threads) as server,
        RunningEmulator(current, threads=threads) as current_server,
        fx.broker_mode(),
        fx.quiet_emulator_queue(),
    ):
        started = time.perf_counter()
        org, device_ids, series_ids = _portfolio(size, server.base_url)
        spec = _bare_spec(size, server.base_url, device_ids, series_ids)
        spec_path = fx.write_json(tmp, "bare.json", spec)
        fx.purge_queue()  # set-up's on-commit tasks: the measured run starts from the sweep
        print(
            f"set-up: {size.devices:,} devices, {size.devices * size.hours:,} readings, "
            f"{size.requests:,} requests to make, in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        ours: list[Measured] = []
        bare: list[Measured] = []
        for repeat in range(size.repeats):
            bare.append(_bare(size, emulator, spec_path, database_url))
            _check_emulator(emulator, size, "bare loop")
            emulator.reset()
            if repeat:
                _reset_links(org)
            ours.append(_ours(size, org, _uploads_received, emulator, database_url))
            _check_emulator(emulator, size, "worker")
            emulator.reset()
            forget_clients()
        # The same organization switched to the current profile (its own emulator): every device
        # becomes an asset and a meter, and every stored month goes again as the meter's intervals.
        _switch_to_current(org, current_server.base_url)
        ours_current: list[Measured] = []
        for repeat in range(size.repeats):
            if repeat:
                _reset_links(org)
            ours_current.append(_ours(size, org, _intervals_received, current, database_url))
            _check_current(current, size)
            current.reset()
            forget_clients()
    best_ours = min(ours, key=lambda m: m.wall_s)
    best_bare = min(bare, key=lambda m: m.wall_s)
    ratio = best_ours.wall_s / best_bare.wall_s
    print(
        f"sync: ours {best_ours.wall_s:.2f} s, bare loop {best_bare.wall_s:.2f} s: {ratio:.2f}x "
        f"(target {TARGET}x); {size.requests / best_ours.wall_s:,.0f} vs "
        f"{size.requests / best_bare.wall_s:,.0f} requests/s; load average {fx.load_average()}",
        flush=True,
    )
    best_current = min(ours_current, key=lambda m: m.wall_s)
    print(
        f"sync, current profile: {best_current.wall_s:.2f} s, "
        f"{best_current.wall_s / best_bare.wall_s:.2f}x the same bare loop; "
        f"{size.current_requests / best_current.wall_s:,.0f} requests/s",
        flush=True,
    )
    label = f"{size.devices:,} devices + device-years, WattCarbon"
    workers = f"{size.pool} x{size.concurrency}"
    return [
        Row(
            "sync",
            label,
            best_ours.wall_s,
            best_bare.wall_s,
            TARGET,
            f"{size.requests:,} requests; worker {workers} vs bare httpx loop",
        ),
        Row(
            "sync",
            "  CPU s, all parties",
            best_ours.cpu_total_s,
            best_bare.cpu_total_s,
            None,
            f"ours: {best_ours.describe()}; bare: {best_bare.describe()}",
        ),
        Row(
            "sync",
            "  the same, current profile",
            best_current.wall_s,
            best_bare.wall_s,
            None,
            f"{size.current_requests:,} requests (assets, meters, intervals) vs the same "
            f"bare loop's {size.requests:,}; worker {workers}",
        ),
        Row(
            "sync",
            "  CPU s, all parties, current profile",
            best_current.cpu_total_s,
            best_bare.cpu_total_s,
            None,
            f"ours: {best_current.describe()}",
        ),
    ]


# ---- set-up ----------------------------------------------------------------------------------


def _portfolio(size: Size, base_url: str) -> tuple[Any, list[int], list[int]]:
    from django.db import transaction

    from devices.models import Device
    from integrations import engine, services
    from integrations.models import Connection
    from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
    from portal.models import Organization
    from readings.models import Series

    org = Organization.objects.create(name="Bench sync", slug=SLUG, timezone="UTC")
    homes = fx.customers_and_homes(
        org, max(1, -(-size.devices // DEVICES_PER_HOME)), "America/Chicago"
    )
    devices = [
        Device(
            organization=org,
            home=homes[n // DEVICES_PER_HOME],
            name=f"Array {n}",
            custom_id=f"SYNC-{n:05d}",
            kind="solar",
            details={"nameplate_capacity_kw": 10.0, "inverter_data_source": "enphase"},
        )
        for n in range(size.devices)
    ]
    fx.copy_models(Device, devices)
    series = [Series(organization=org, device=device, quantity="generation") for device in devices]
    fx.copy_models(Series, series)
    started = time.perf_counter()
    rows = fx.insert_readings([s.pk for s in series], size.hours)
    print(f"  {rows:,} readings in {time.perf_counter() - started:.1f} s", flush=True)

    # The connection's device links (ensure_links), then what storing the readings announces.
    services.save_connection(
        Connection(organization=org, platform="wattcarbon", base_url=base_url),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    end = fx.YEAR_START + timedelta(hours=size.hours - 1)
    with transaction.atomic():
        for device in Device.objects.filter(organization=org).select_related("home"):
            engine.mark_readings_changed(device, fx.YEAR_START, end)
    fx.settle("devices_reading", "integrations_upstreamlink", "integrations_syncchunk")
    return org, [d.pk for d in devices], [s.pk for s in series]


def _bare_spec(
    size: Size, base_url: str, device_ids: list[int], series_ids: list[int]
) -> dict[str, Any]:
    """What the bare loop sends: the engine's own device bodies, and how to rebuild the CSVs."""
    from devices.models import Device
    from integrations.adapters.base import adapters_for
    from integrations.models import Channel
    from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL

    devices = Device.objects.filter(pk__in=device_ids).select_related(
        "home__customer", "home__utility", "meter"
    )
    by_pk = {device.pk: device for device in devices}
    payloads = []
    for pk in device_ids:
        device = by_pk[pk]
        adapter = next(
            a
            for a in adapters_for(device, Channel.RECORD, profiles={"wattcarbon": "quickstart"})
            if a.platform == "wattcarbon"
        )
        payloads.append(adapter.payload(device, ""))
    return {
        "base_url": base_url,
        "email": SANDBOX_EMAIL,
        "api_key": SANDBOX_API_KEY,
        "payloads": payloads,
        "series_ids": series_ids,
        "hours": size.hours,
    }


# ---- the two measured sides -------------------------------------------------------------------


def _bare(size: Size, emulator: Any, spec_path: Path, database_url: str) -> Measured:
    cpu = fx.CpuMeter({"emulator": lambda: [os.getpid()]})
    cpu.start()  # the child builds its bodies first: the machine figure includes that
    result = fx.run_child(
        ["-m", "bench.sync", "--bare", str(spec_path)],
        fx.child_env(database_url),
        timeout_s=size.timeout_s,
    )
    spent = cpu.stop()
    measured = Measured(
        result["elapsed_s"],
        {"loop": result["cpu_s"], "emulator": spent["emulator"]},
        cpu.machine_busy,
    )
    print(
        f"bare loop: {result['requests']:,} requests in {measured.wall_s:.2f} s "
        f"({result['build_s']:.1f} s building the bodies before the clock); "
        f"CPU s: {measured.describe()}",
        flush=True,
    )
    return measured


def _switch_to_current(org: Any, base_url: str) -> None:
    """The organization's WattCarbon connection switched to the current profile at `base_url`
    (the links' switch plan runs as in the product: integrations/profiles.py)."""
    from integrations import services
    from integrations.models import Connection, Profile
    from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL

    connection = Connection.objects.get(organization=org, platform="wattcarbon")
    connection.profile = Profile.CURRENT
    connection.base_url = base_url
    services.save_connection(connection, username=SANDBOX_EMAIL, password=SANDBOX_API_KEY)
    fx.settle("integrations_upstreamlink", "integrations_syncchunk")


def _ours(
    size: Size,
    org: Any,
    received: Callable[[Any], int],
    emulator: Any,
    database_url: str,
) -> Measured:
    from django.db.models import Count

    from integrations import tasks
    from integrations.models import LinkState, UpstreamLink

    links = UpstreamLink.objects.filter(organization=org)
    total = links.count()
    stray = fx.purge_queue()  # nothing but the sweep below may start work
    if stray:
        print(f"dropped {stray} stray task(s) from the bench queue", flush=True)
    with fx.Worker(database_url, pool=size.pool, concurrency=size.concurrency) as worker:
        cpu = fx.CpuMeter(
            {
                "worker": worker.pids,
                "postgres (sampled)": fx.backend_pids,
                "emulator": lambda: [os.getpid()],
            }
        )
        cpu.start()
        started = time.perf_counter()
        tasks.sweep.delay()
        next_beat = started + BEAT_S
        deadline = started + size.timeout_s
        # This process also serves the emulator, so it looks at the emulator's own count (a
        # few dict lookups) and asks the database only every 2 s until the last upload is in,
        # then every 50 ms: the figure is good to ~50 ms and the polling costs the emulator little.
        expected_uploads = size.devices * size.months
        next_query = started
        while True:
            arrived = received(emulator) >= expected_uploads
            time.sleep(0.05 if arrived else 0.1)
            cpu.sample(every_s=2.0)
            now = time.perf_counter()
            if not arrived and now < next_query:
                continue
            next_query = now + 2.0
            left = dict(
                links.exclude(state=LinkState.SYNCED)
                .values_list("state")
                .annotate(n=Count("pk"))
                .order_by()
            )
            if not left:
                break
            stuck = left.get(LinkState.FAILED, 0) + left.get(LinkState.REJECTED, 0)
            if stuck or now > deadline:
                errors = list(links.exclude(last_error="").values_list("last_error", flat=True)[:3])
                raise RuntimeError(
                    f"sync did not finish: {left} of {total} links; {errors}\n{worker.tail()}"
                )
            if now >= next_beat:
                tasks.sweep.delay()
                next_beat += BEAT_S
        wall_s = time.perf_counter() - started
        spent = cpu.stop()
        failed = worker.errors()
    measured = Measured(wall_s, spent, cpu.machine_busy)
    print(
        f"worker: {total:,} links synced in {wall_s:.2f} s; CPU s: {measured.describe()}"
        + (f"; worker errors: {failed[:3]}" if failed else ""),
        flush=True,
    )
    return measured


def _uploads_received(emulator: Any) -> int:
    with emulator.lock:
        return sum(len(items) for items in emulator.state["uploads"].values())


def _intervals_received(emulator: Any) -> int:
    with emulator.lock:
        return len(emulator.state["uploads"])


def _check_current(emulator: Any, size: Size) -> None:
    """The current profile's work, all of it: an asset and a meter per device, every hour once."""
    state = emulator.state
    assets, meters = len(state["assets"]), len(state["meters"])
    uploads = len(state["uploads"])
    hours = sum(len(points) for points in state["intervals"].values())
    expected = (size.devices, size.devices, size.devices * size.months, size.devices * size.hours)
    if (assets, meters, uploads, hours) != expected:
        raise RuntimeError(
            f"worker, current profile: the emulator holds {assets} assets, {meters} meters, "
            f"{uploads} interval uploads, {hours} hours; expected {expected}"
        )


def _check_emulator(emulator: Any, size: Size, who: str) -> None:
    """A benchmark of wrong work is void: every device, upload and hour must have arrived."""
    state = emulator.state
    devices = len(state["devices"])
    uploads = sum(len(items) for items in state["uploads"].values())
    hours = sum(len(points) for points in state["timeseries"].values())
    expected = (size.devices, size.devices * size.months, size.devices * size.hours)
    if (devices, uploads, hours) != expected:
        raise RuntimeError(
            f"{who}: the emulator holds {devices} devices, {uploads} uploads, {hours} hours; "
            f"expected {expected}"
        )


def _reset_links(org: Any) -> None:
    """Back to 'nothing upstream yet' for another repeat."""
    from integrations.models import LinkState, SyncAttempt, SyncChunk, UpstreamLink

    UpstreamLink.objects.filter(organization=org).update(
        state=LinkState.PENDING,
        remote_id="",
        payload_hash="",
        attempts=0,
        next_attempt_at=None,
        claimed_until=None,
        parent_link=None,
        synced_at=None,
        last_error="",
        waiting_for="",
    )
    SyncChunk.objects.filter(link__organization=org).update(dirty=True, payload_hash="", rows=0)
    SyncAttempt.objects.filter(link__organization=org).delete()
    fx.settle("integrations_upstreamlink", "integrations_syncchunk")


# ---- the bare loop (a subprocess: python -m bench.sync --bare SPEC) ---------------------------


def bare_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """The same requests as the engine's, one httpx.Client, bodies built before the clock."""
    import httpx

    from integrations.http import USER_AGENT
    from integrations.wattcarbon import month_chunks, timeseries_csv

    build_started = time.perf_counter()
    hours = spec["hours"]
    instants = [fx.YEAR_START + timedelta(hours=h) for h in range(hours)]
    uploads: list[list[bytes]] = []
    for series_id in spec["series_ids"]:
        rows = [(instant, fx.value_kwh(series_id, h)) for h, instant in enumerate(instants)]
        uploads.append([timeseries_csv(chunk) for chunk in month_chunks(rows)])
    build_s = time.perf_counter() - build_started

    requests = 0
    with httpx.Client(
        base_url=spec["base_url"],
        timeout=httpx.Timeout(30.0),
        headers={"User-Agent": USER_AGENT},
    ) as client:
        cpu_started = time.process_time()
        started = time.perf_counter()
        response = client.post(
            "/auth/token",
            data={"grant_type": "password", "username": spec["email"], "password": spec["api_key"]},
        )
        response.raise_for_status()
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        requests += 1
        remote_ids = []
        for payload in spec["payloads"]:
            response = client.post("/devices", json=payload, headers=headers)
            _expect(response, 201)
            remote_ids.append(response.json()["id"])
            requests += 1
        for remote_id, files in zip(remote_ids, uploads, strict=True):
            for content in files:
                response = client.post(
                    f"/devices/{remote_id}/timeseries",
                    files={"file": ("timeseries.csv", content, "text/csv")},
                    headers=headers,
                )
                _expect(response, 201)
                requests += 1
        elapsed_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
    return {"elapsed_s": elapsed_s, "cpu_s": cpu_s, "requests": requests, "build_s": build_s}


def _expect(response: Any, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--bare":
        print("usage: python -m bench.sync --bare SPEC.json", file=sys.stderr)
        return 2
    import django

    django.setup()
    spec = json.loads(Path(argv[1]).read_text())
    print(json.dumps(bare_loop(spec)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
