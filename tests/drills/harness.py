"""The fault drills' harness (tests/drills/conftest.py turns its parts into fixtures): a Redis of their own, a Celery worker subprocess, the four emulators
over HTTP, a small portfolio pushed through the engine, and the checks that every record is upstream
exactly once.

Everything here is a real process or a real socket: the worker is `celery -A portal worker -P
prefork` (so SIGKILL is real), the broker is a `redis-server` started on a free port (so restarting
it disturbs nobody else's Redis), and the emulators answer on 127.0.0.1 in this process, where a
drill can read their state and hold a call in flight (`Trap`) while it kills the worker making it.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import redis
from django.db import connection

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.directory import lookup_utilities
from homes.models import Customer, Home, Meter
from integrations import services, tasks
from integrations.models import Connection, LinkState, SyncAttempt, UpstreamLink
from integrations.sandbox.base import RunningEmulator, served_origins
from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SparkEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL, WattCarbonEmulator
from integrations.sandbox.wattics import SANDBOX_PASSWORD, SANDBOX_USERNAME, WatticsEmulator
from integrations.sandbox.wattshift import DEFAULT_API_KEY, WattShiftEmulator
from portal.celery import app
from readings.models import Reading, Series
from readings.store import series_for
from readings.uploads import import_readings

ROOT = Path(__file__).resolve().parents[2]

# Short enough that a drill sees a dead worker's claim run out and a backoff end within seconds;
# long enough that no healthy run outlives its claim on a busy machine. The engine does not renew a
# claim, so a run that outlives it is started a second time by the sweep (with 3 s, runs that took
# up to 4.7 s under load had their creates sent twice).
DRILL_SETTINGS = {
    "SYNC_CLAIM_LEASE_S": 15,
    "SYNC_BACKOFF_BASE_S": 0.2,
    "SYNC_MAX_ATTEMPTS": 8,
    "WATTICS_RETRY_BASE_S": 0.01,
}

YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)  # 8,760 hours: exactly twelve UTC months
YEAR_HOURS = 8760
METER_START = datetime(2023, 6, 1, 7, tzinfo=UTC)
METER_HOURS = 240
ZIP_CODE = "95313"  # WattShift's emulator knows its utilities


# --- holding a call in flight -------------------------------------------------------------------
class Trap:
    """Hold the `nth` call matching `method path` until released: the drill acts while it hangs.

    Once released the call is handled as usual, so the upstream has done the work whether or not
    the client that sent it is still alive to read the answer.
    """

    def __init__(self, method: str, path: str, nth: int = 1) -> None:
        self.method = method
        self.path = re.compile(path)
        self.nth = nth
        self.seen = 0
        self.client_port: int | None = None
        self.request_path = ""
        self.body = b""
        self.arrived = threading.Event()
        self.released = threading.Event()

    def matches(self, environ: dict[str, Any]) -> bool:
        if environ["REQUEST_METHOD"] != self.method or not self.path.fullmatch(
            environ.get("PATH_INFO", "")
        ):
            return False
        self.seen += 1
        return self.seen == self.nth

    def wait(self, timeout_s: float = 30.0) -> int:
        """The port of the client whose call is held (the worker child making it)."""
        assert self.arrived.wait(timeout_s), f"no {self.method} {self.path.pattern} arrived"
        assert self.client_port is not None
        return self.client_port


class Trapping:
    """Mixin for an emulator: calls matching an armed Trap wait for the drill before being handled."""

    traps: list[Trap]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.traps = []
        super().__init__(*args, **kwargs)

    def arm(self, trap: Trap) -> Trap:
        with self.lock:
            self.traps.append(trap)
        return trap

    def release_all(self) -> None:
        with self.lock:
            traps, self.traps = list(self.traps), []
        for trap in traps:
            trap.released.set()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        with self.lock:
            trap = next(
                (t for t in self.traps if not t.arrived.is_set() and t.matches(environ)), None
            )
        if trap is not None:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            trap.body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(trap.body)
            trap.request_path = environ.get("PATH_INFO", "")
            trap.client_port = int(environ["REMOTE_PORT"])
            trap.arrived.set()
            trap.released.wait(30)
        return super().__call__(environ, start_response)

    def reset(self) -> None:
        self.release_all()
        super().reset()


class DrillWattCarbon(Trapping, WattCarbonEmulator):
    """WattCarbon's emulator with traps."""


class DrillSpark(Trapping, SparkEmulator):
    """Spark's emulator with traps."""


class DrillWattShift(Trapping, WattShiftEmulator):
    """WattShift's emulator with traps."""


class DrillWattics(Trapping, WatticsEmulator):
    """Wattics's emulator with traps."""


def arrivals(traps: list[Trap], timeout_s: float = 30.0) -> Iterator[Trap]:
    """The traps in the order their calls arrive: waiting for one while the others hold every
    worker process would wait for nothing."""
    pending = list(traps)
    deadline = time.monotonic() + timeout_s
    while pending:
        arrived = next((trap for trap in pending if trap.arrived.is_set()), None)
        if arrived is None:
            assert time.monotonic() < deadline, [t.path.pattern for t in pending]
            time.sleep(0.01)
            continue
        pending.remove(arrived)
        yield arrived


@dataclass
class Upstreams:
    """The four emulators, served over HTTP for this module."""

    wattcarbon: RunningEmulator
    spark: RunningEmulator
    wattshift: RunningEmulator
    wattics: RunningEmulator

    def all(self) -> list[RunningEmulator]:
        return [self.wattcarbon, self.spark, self.wattshift, self.wattics]

    def fault(self, *running: RunningEmulator, **faults: Any) -> None:
        """POST /_sandbox/faults to the given upstreams (all four when none is given)."""
        for emulator in running or self.all():
            answer = httpx.post(f"{emulator.base_url}/_sandbox/faults", json=faults, timeout=10)
            answer.raise_for_status()


# --- the broker: a redis-server of the drill's own --------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A `redis-server` on a free port, in memory only, that a drill may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "redis.log"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.ping():
            assert time.monotonic() < deadline, f"redis-server did not start: {self.log}"
            time.sleep(0.05)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        """`SHUTDOWN NOSAVE`: whatever was queued or unacknowledged is gone, as after a crash."""
        if self.process is None:
            return
        with suppress(redis.ConnectionError), self.client() as client:
            client.shutdown(nosave=True)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def queued(self) -> int:
        """Messages waiting in the `celery` queue."""
        with self.client() as client:
            return int(client.llen("celery"))


def reset_producer_pools() -> None:
    # Dropped, not closed: a closed pool still referenced elsewhere raises "Acquire on closed pool".
    app._pool = None
    app.amqp._producer_pool = None


# --- the worker: `celery -A portal worker` in a subprocess -------------------------------------
def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.append(int(entry))
    return children


def pid_with_local_port(port: int, pids: list[int]) -> int | None:
    """Which of `pids` owns the TCP socket bound locally to `port` (a client's ephemeral port)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                columns = row.split()
                if int(columns[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{columns[9]}]")
    for pid in pids:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") in inodes:
                    return pid
            except OSError:
                continue
    return None


class Worker:
    """`celery -A portal worker -P prefork -c 2` against the test database and the drill's broker."""

    def __init__(self, broker: RedisServer, directory: Path) -> None:
        self.broker = broker
        self.log = directory / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        db = connection.settings_dict  # the test database (test_<name>), where the data is
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PYTEST_", "DJANGO_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="tests.drills.worker_settings",
            DATABASE_URL=(
                f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
                f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"
            ),
            CELERY_BROKER_URL=self.broker.url,
            # The emulators of this process, started before the worker (the worker has no
            # RunningEmulator of its own to know them by).
            UPSTREAM_ALLOWED_ORIGINS=",".join(sorted(served_origins())),
            PYTHONPATH=str(ROOT),
            **{name: str(value) for name, value in DRILL_SETTINGS.items()},
        )
        return env

    def start(self) -> None:
        celery = Path(sys.executable).with_name("celery")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(celery),
                    "-A",
                    "portal",
                    "worker",
                    "-P",
                    "prefork",
                    "-c",
                    "2",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                    "-Q",
                    "celery",
                    "--loglevel",
                    "INFO",
                    "-n",
                    f"drill-{os.getpid()}@%h",
                ],
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one at the end
            )
        deadline = time.monotonic() + 30
        while " ready." not in self.log.read_text(errors="replace"):
            assert self.process.poll() is None, f"the worker exited:\n{self.tail()}"
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.tail()}"
            time.sleep(0.1)

    def children(self) -> list[int]:
        assert self.process is not None
        return _children(self.process.pid)

    def kill_child_on_port(self, port: int) -> int:
        """SIGKILL the pool process that holds the connection from `port` (mid-call)."""
        pid = pid_with_local_port(port, self.children())
        assert pid is not None, f"no worker child holds local port {port}"
        os.kill(pid, signal.SIGKILL)
        return pid

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        # The drill is over: nothing the worker still does matters, so no warm shutdown. Its
        # session is its own (start_new_session), so the group id is the worker's pid.
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None


# --- the portfolio -------------------------------------------------------------------------------
@dataclass
class Portfolio:
    """What the drill created locally: the records and the readings each of them holds."""

    customers: list[Customer] = field(default_factory=list)
    homes: list[Home] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    device_readings: dict[str, dict[datetime, float]] = field(default_factory=dict)  # custom id
    meter_readings: dict[str, dict[datetime, float]] = field(default_factory=dict)  # stream id


def connect(org, upstreams: Upstreams) -> None:
    """The organization's four connections, each to its emulator over HTTP."""
    services.save_connection(
        Connection(organization=org, platform="wattcarbon", base_url=upstreams.wattcarbon.base_url),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    services.save_connection(
        Connection(
            organization=org,
            platform="spark",
            base_url=upstreams.spark.base_url,
            token_url=f"{upstreams.spark.base_url}/connect/token",
        ),
        username=DEFAULT_CLIENT_ID,
        password=DEFAULT_CLIENT_SECRET,
    )
    services.save_connection(
        Connection(organization=org, platform="wattshift", base_url=upstreams.wattshift.base_url),
        api_key=DEFAULT_API_KEY,
    )
    services.save_connection(
        Connection(organization=org, platform="wattics", base_url=upstreams.wattics.base_url),
        username=SANDBOX_USERNAME,
        password=SANDBOX_PASSWORD,
    )


def solar_year() -> dict[datetime, float]:
    """A year of hourly generation: a daily curve, zero at night (California local time)."""
    readings = {}
    for hour in range(YEAR_HOURS):
        instant = YEAR_START + timedelta(hours=hour)
        local_hour = (instant.hour - 8) % 24
        readings[instant] = round(max(0.0, 4.0 - abs(local_hour - 12.5) * 0.7), 3)
    return readings


def consumption(hours: int, offset: int) -> dict[datetime, float]:
    return {
        METER_START + timedelta(hours=hour): round(0.8 + (hour % 24) * 0.05 + offset * 0.01, 3)
        for hour in range(hours)
    }


def csv_of(readings: dict[datetime, float]) -> bytes:
    lines = ["datetime,value_kwh"]
    lines += [f"{instant.isoformat()},{value}" for instant, value in sorted(readings.items())]
    return ("\n".join(lines) + "\n").encode()


def upload(owner: Device | Meter, readings: dict[datetime, float], filename: str) -> None:
    """Store a file of readings through the upload pipeline (what the page and the command run)."""
    stored = import_readings(series_for(owner), io.BytesIO(csv_of(readings)), filename=filename)
    assert stored.status == "stored", stored.report


def build_portfolio(
    org, *, homes: int = 3, meter_hours: int = METER_HOURS, readings: bool = True
) -> Portfolio:
    """Customers, homes (with a WattShift utility), solar arrays and Wattics meters, saved through
    the services (each commit queues its links), then a file of readings for each device and meter."""
    portfolio = Portfolio()
    for n in range(homes):
        add_home(org, portfolio, n, meter_hours=meter_hours)
    if readings:
        upload_all(portfolio)
    return portfolio


def add_home(org, portfolio: Portfolio, n: int, *, meter_hours: int = METER_HOURS) -> None:
    """One customer with a home, its solar array and its Wattics meter (no readings yet)."""
    utility = lookup_utilities(org, ZIP_CODE).utilities[0]  # cached after the first lookup
    customer = home_services.save_customer(
        Customer(organization=org, name=f"Drill customer {n}", email=f"drill{n}@example.test")
    )
    home = home_services.save_home(
        Home(
            organization=org,
            customer=customer,
            name=f"Drill home {n}",
            street=f"{n + 1} Main St",
            zip_code=ZIP_CODE,
            utility=utility,
            rate_plan=utility.rate_plans.first(),
        )
    )
    device = device_services.save_device(
        Device(
            organization=org,
            home=home,
            name=f"Drill array {n}",
            custom_id=f"DRILL-SP-{n}",
            kind="solar",
            details={"nameplate_capacity_kw": 7.2, "inverter_data_source": "enphase"},
        )
    )
    meter = home_services.save_meter(
        Meter(
            organization=org,
            home=home,
            meter_number=f"DM{n:04d}",
            meter_point_id=f"DMP-{n}",
            wattics_stream_id=f"drill-stream-{n}",
        )
    )
    portfolio.customers.append(customer)
    portfolio.homes.append(home)
    portfolio.devices.append(device)
    portfolio.meters.append(meter)
    portfolio.device_readings[device.custom_id] = solar_year()
    portfolio.meter_readings[meter.wattics_stream_id] = consumption(meter_hours, n)


def upload_all(portfolio: Portfolio, homes: slice = slice(None)) -> None:
    for device in portfolio.devices[homes]:
        upload(device, portfolio.device_readings[device.custom_id], f"{device.custom_id}.csv")
    for meter in portfolio.meters[homes]:
        upload(
            meter, portfolio.meter_readings[meter.wattics_stream_id], f"{meter.meter_number}.csv"
        )


# --- the database connection dropped -----------------------------------------------------------
def terminate_backend(pid: int) -> None:
    """pg_terminate_backend from a session of its own, and wait until the backend is gone."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            assert time.monotonic() < deadline, f"backend {pid} is still there"
            time.sleep(0.02)


@contextmanager
def connection_dropped_before(statement: str, series: Series) -> Iterator[dict[str, int]]:
    """Kill this process's database connection just before it runs the first statement that starts
    with `statement` (inside whatever transaction is open). Yields how many readings of `series`
    the doomed transaction had written by then, as it saw them."""
    seen: dict[str, int] = {}
    table = connection.ops.quote_name(Reading._meta.db_table)

    def drop(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        if not seen and sql.startswith(statement):
            raw = context["connection"].connection  # the psycopg connection, in the transaction
            seen["readings"] = raw.execute(
                f"SELECT count(*) FROM {table} WHERE series_id = %s",
                [series.pk],
            ).fetchone()[0]
            seen["backend_pid"] = raw.info.backend_pid
            terminate_backend(raw.info.backend_pid)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(drop):
        yield seen
    assert seen, f"no statement started with {statement!r}"


# --- waiting for the engine ----------------------------------------------------------------------
def link_states() -> Counter[str]:
    return Counter(UpstreamLink.objects.values_list("state", flat=True))


def describe_links() -> str:
    rows = UpstreamLink.objects.order_by("pk").values_list(
        "pk",
        "platform",
        "channel",
        "object_id",
        "state",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "waiting_for",
        "last_error",
    )
    return "\n".join(" | ".join(str(value)[:120] for value in row) for row in rows)


def wait_for(predicate: Callable[[], bool], timeout_s: float = 30.0, every_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every_s)
    return predicate()


def blocked() -> int:
    """Pending links that wait for a parent the engine gave up on or left to a person (in doubt):
    nothing more will happen by itself."""
    return UpstreamLink.objects.filter(
        state=LinkState.PENDING,
        parent_link__state__in=[LinkState.FAILED, LinkState.REJECTED, LinkState.IN_DOUBT],
    ).count()


def settle(
    worker: Worker,
    *,
    timeout_s: float = 90.0,
    sweep_every_s: float = 1.0,
    until_settled_anyhow: bool = False,
) -> float:
    """Play beat: sweep (integrations.tasks.sweep, through the broker) until every link is synced.

    Fails at once on a link the engine gave up on (failed) or the platform refused (rejected),
    unless `until_settled_anyhow` (then it waits until nothing is syncing or pending but for a
    parent that was given up on or is in doubt, and leaves the verdict to the checks), and with the
    whole table when something is still pending or syncing at the deadline. Links in doubt wait for
    a person (`resolve_in_doubt`). Returns the seconds it took.
    """
    started = time.monotonic()
    next_sweep = started
    while True:
        states = link_states()
        given_up = states[LinkState.FAILED] + states[LinkState.REJECTED]
        assert until_settled_anyhow or not given_up, (
            f"links failed or rejected:\n{describe_links()}"
        )
        if states and not states[LinkState.SYNCING] and states[LinkState.PENDING] == blocked():
            return time.monotonic() - started
        assert time.monotonic() - started < timeout_s, (
            f"links not synced after {timeout_s:.0f} s:\n{describe_links()}\n"
            f"worker log:\n{worker.tail()}"
        )
        if time.monotonic() >= next_sweep:
            tasks.sweep()
            next_sweep = time.monotonic() + sweep_every_s
        time.sleep(0.1)


# --- what must be true after every drill --------------------------------------------------------
def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def assert_links_settled() -> None:
    """No link pending, syncing, failed or rejected; every one knows its remote id."""
    states = link_states()
    assert set(states) == {LinkState.SYNCED}, describe_links()
    assert not UpstreamLink.objects.filter(remote_id="").exists(), describe_links()


def assert_wattcarbon_exactly_once(
    upstreams: Upstreams, portfolio: Portfolio, *, resent_months: int = 0
) -> None:
    """One device per customId; each device's timeseries is exactly its year, twelve months,
    each month uploaded once (`resent_months`: the uploads a killed worker may have to repeat)."""
    state = upstreams.wattcarbon.app.state
    custom_ids = Counter(record["device"].get("customId") for record in state["devices"].values())
    assert custom_ids == Counter(dict.fromkeys(portfolio.device_readings, 1)), custom_ids
    device_links = {
        link.object_id: link.remote_id
        for link in UpstreamLink.objects.filter(platform="wattcarbon", channel="record")
    }
    uploads = 0
    for device in portfolio.devices:
        remote_id = device_links[device.pk]
        assert state["devices"][remote_id]["device"]["customId"] == device.custom_id
        expected = portfolio.device_readings[device.custom_id]
        stored = {_utc(key): value for key, value in state["timeseries"][remote_id].items()}
        assert stored == expected, f"{device.custom_id}: {len(stored)} of {len(expected)} hours"
        months = Counter(_utc(u["start"]).strftime("%Y-%m") for u in state["uploads"][remote_id])
        assert len(months) == 12, months
        uploads += sum(months.values())
    expected_uploads = 12 * len(portfolio.devices)
    assert expected_uploads <= uploads <= expected_uploads + resent_months, uploads


def assert_wattics_exactly_once(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """Every reading accepted once, in order, none discarded, no packet refused (a 404 is the
    answer to "your last packet?" on a stream that has none yet: how a first push resumes)."""
    state = upstreams.wattics.app.state
    refused = {status: n for status, n in state["refused"].items() if status != "404"}
    assert not refused, state["refused"]
    assert set(state["streams"]) == set(portfolio.meter_readings)
    for stream_id, readings in portfolio.meter_readings.items():
        stream = state["streams"][stream_id]
        expected_ms = [int(instant.timestamp() * 1000) for instant in sorted(readings)]
        assert stream["discarded"] == 0, stream_id
        assert stream["accepted"] == len(readings), (stream_id, stream["accepted"])
        assert stream["instants_ms"] == expected_ms, stream_id  # no duplicate, no hole, in order
        assert stream["values"] == [readings[instant] for instant in sorted(readings)]


def assert_spark_exactly_once(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """One Spark user per customer, holding exactly its home's meter."""
    users = upstreams.spark.app.state["users"]
    links = {
        (link.content_type.model, link.object_id): link.remote_id
        for link in UpstreamLink.objects.filter(platform="spark").select_related("content_type")
    }
    assert len(users) == len(portfolio.customers), sorted(users)
    assert {links[("customer", c.pk)] for c in portfolio.customers} == set(users)
    for home, meter in zip(portfolio.homes, portfolio.meters, strict=True):
        user = users[links[("customer", home.customer_id)]]
        numbers = [m.get("meterNumber") for m in user["meters"].values()]
        assert numbers == [meter.meter_number], (home.customer_id, numbers)


def assert_wattshift_exactly_once(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """One WattShift home per home, each with its solar."""
    state = upstreams.wattshift.app.state
    links = {
        (link.content_type.model, link.object_id): link.remote_id
        for link in UpstreamLink.objects.filter(platform="wattshift").select_related("content_type")
    }
    assert len(state["homes"]) == len(portfolio.homes), sorted(state["homes"])
    assert {links[("home", home.pk)] for home in portfolio.homes} == set(state["homes"])
    assert set(state["solar"]) == set(state["homes"])


def assert_readings_stored_once(portfolio: Portfolio) -> None:
    """Locally: each series holds exactly its file's readings."""
    for device in portfolio.devices:
        assert Reading.objects.filter(series__device=device).count() == YEAR_HOURS, device
    for meter in portfolio.meters:
        expected = len(portfolio.meter_readings[meter.wattics_stream_id])
        assert Reading.objects.filter(series__meter=meter).count() == expected, meter


def assert_exactly_once(
    upstreams: Upstreams, portfolio: Portfolio, *, resent_months: int = 0
) -> None:
    """The end state every drill must reach: the links settled, every reading stored locally once
    (the file's count), each platform holding each record and each reading once. Every check
    runs, so a failure lists all that went wrong."""
    checks: list[tuple[str, Callable[[], None]]] = [
        ("links", assert_links_settled),
        ("readings", lambda: assert_readings_stored_once(portfolio)),
        (
            "WattCarbon",
            lambda: assert_wattcarbon_exactly_once(
                upstreams, portfolio, resent_months=resent_months
            ),
        ),
        ("Wattics", lambda: assert_wattics_exactly_once(upstreams, portfolio)),
        ("Spark", lambda: assert_spark_exactly_once(upstreams, portfolio)),
        ("WattShift", lambda: assert_wattshift_exactly_once(upstreams, portfolio)),
    ]
    problems = []
    for name, check in checks:
        try:
            check()
        except (AssertionError, KeyError) as exc:
            problems.append(f"--- {name}: {type(exc).__name__}: {exc}")
    assert not problems, "\n".join(problems)


def assert_nothing_twice_nothing_refused(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """Before a person settles the links in doubt: no record made twice on any platform, no link
    failed or refused, and every link synced, in doubt (a create noted, no remote id), or waiting
    for a parent in doubt. (A link in doubt is correct: it holds back rather than guess.)"""
    states = link_states()
    assert not states[LinkState.FAILED] and not states[LinkState.REJECTED], describe_links()
    assert not states[LinkState.SYNCING], describe_links()
    assert states[LinkState.PENDING] == blocked(), describe_links()
    in_doubt = UpstreamLink.objects.filter(state=LinkState.IN_DOUBT)
    assert not in_doubt.filter(create_sent_at__isnull=True).exists(), describe_links()
    assert not in_doubt.exclude(remote_id="").exists(), describe_links()
    devices = upstreams.wattcarbon.app.state["devices"].values()
    custom_ids = Counter(record["device"].get("customId") for record in devices)
    assert custom_ids == Counter(dict.fromkeys(portfolio.device_readings, 1)), custom_ids
    users = upstreams.spark.app.state["users"]
    assert len(users) == len(portfolio.customers), sorted(users)
    assert all(len(user["meters"]) <= 1 for user in users.values()), users
    wattshift = upstreams.wattshift.app.state
    assert len(wattshift["homes"]) == len(portfolio.homes), sorted(wattshift["homes"])


def resolve_in_doubt(upstreams: Upstreams) -> dict[str, int]:
    """What a person does on each in-doubt link's page: find the record on its platform (by the
    customId, the only user nobody links to, the home's name) and say "it exists: use id ...".
    Returns how many links of each platform were in doubt."""
    resolved: Counter[str] = Counter()
    linked = set(UpstreamLink.objects.exclude(remote_id="").values_list("remote_id", flat=True))
    for link in UpstreamLink.objects.filter(state=LinkState.IN_DOUBT):
        record = link.record
        if link.platform == "wattcarbon":
            devices = upstreams.wattcarbon.app.state["devices"].items()
            found = [key for key, d in devices if d["device"].get("customId") == record.custom_id]
        elif link.platform == "spark" and isinstance(record, Customer):
            found = [key for key in upstreams.spark.app.state["users"] if key not in linked]
        elif link.platform == "wattshift" and isinstance(record, Home):
            homes = upstreams.wattshift.app.state["homes"].items()
            found = [key for key, home in homes if home["name"] == record.name]
        else:
            raise AssertionError(f"no way to find {link} upstream: {link.last_error}")
        assert len(found) == 1, (link, found)  # one there: the lost create made it once
        assert services.adopt_remote_id(link, found[0]), link
        resolved[link.platform] += 1
    return dict(resolved)


def failed_calls(platform: str, status_code: int | None) -> int:
    return SyncAttempt.objects.filter(link__platform=platform, status_code=status_code).count()
