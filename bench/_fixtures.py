"""Shared set-up of the benchmarks that run the portal's real processes (sync, wattics, load).

- a throwaway PostgreSQL database (`bench_<label>_<pid>`), created, migrated and dropped here;
- rows written at COPY speed with explicit ids (`copy_models`) and a device-year of readings per
  series written with binary COPY (`insert_readings`), with values the bare loops can recompute;
- a real `celery -A portal worker` subprocess on Redis db 5 (`Worker`), and the bench process
  switched from eager tasks to that broker (`broker_mode`);
- the environment of every subprocess (production settings, the throwaway database);
- CPU seconds of processes from /proc, bounded waits, the load average.

Nothing here asserts: the benches report, the reader judges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC)  # 2023 has 8,760 hours: twelve full UTC months
HOURS_PER_YEAR = 8760


def tiny() -> bool:
    """The smoke test's mode: a few records, so that every step runs in seconds."""
    return os.environ.get("BENCH_TINY", "") == "1"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def broker_url() -> str:
    """Redis db 5 unless BENCH_BROKER_URL says otherwise: the benches purge its `celery` queue."""
    return os.environ.get("BENCH_BROKER_URL", "") or DEFAULT_BROKER_URL


def run_in_throwaway(name: str, body: Callable[[str, Path], list[Any]]) -> list[Any]:
    """A benchmark's run(): skipped (and said why) without PostgreSQL and Redis, else
    ``body(database_url, tmp_dir)`` in a throwaway database and a temporary directory."""
    reason = skip_reason(needs_broker=True)
    if reason:
        print(f"{name}: skipped ({reason})")
        return []
    with throwaway_database(name) as database_url, tempfile.TemporaryDirectory() as tmp:
        return body(database_url, Path(tmp))


def customers_and_homes(organization: Any, count: int, timezone: str) -> list[Any]:
    """``count`` customers with a home each, written with COPY; the homes, in order."""
    from homes.models import Customer, Home

    customers = [
        Customer(organization=organization, name=f"Customer {n:06d}", email=f"c{n}@bench.test")
        for n in range(count)
    ]
    copy_models(Customer, customers)
    homes = [
        Home(
            organization=organization,
            customer=customer,
            name=f"Home {n:06d}",
            street=f"{100 + n % 900} Main St",
            city="Riverside",
            state="IA",
            zip_code="52327",
            timezone=timezone,
        )
        for n, customer in enumerate(customers)
    ]
    copy_models(Home, homes)
    return homes


def skip_reason(*, needs_broker: bool) -> str | None:
    """Why this bench cannot run here (None when it can)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if needs_broker:
        try:
            import redis

            redis.Redis.from_url(broker_url(), socket_connect_timeout=2).ping()
        except Exception as exc:
            return f"needs Redis at {broker_url()} (BENCH_BROKER_URL): {type(exc).__name__}"
    return None


# ---- the throwaway database ----------------------------------------------------------------


def database_url(settings_dict: dict[str, Any]) -> str:
    """A DATABASE_URL (django-environ) for the connection's current database."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{settings_dict['NAME']}"


@contextlib.contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """Create and migrate `bench_<label>_<pid>` on the DATABASE_URL server; yield its URL; drop it."""
    from django.db import connection

    original_name = connection.settings_dict["NAME"]
    original_test = dict(connection.settings_dict.get("TEST") or {})
    name = f"bench_{label}_{os.getpid()}"
    connection.settings_dict["TEST"] = {**original_test, "NAME": name}
    started = time.perf_counter()
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    print(f"created and migrated {name} in {time.perf_counter() - started:.1f} s", flush=True)
    try:
        yield database_url(connection.settings_dict)
    finally:
        # A subprocess that did not exit cleanly may still hold a session: DROP would refuse.
        with contextlib.suppress(Exception), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.creation.destroy_test_db(original_name, verbosity=0)
        connection.settings_dict["TEST"] = original_test
        print(f"dropped {name}", flush=True)


def settle(*tables: str) -> None:
    """Vacuum, analyze and checkpoint, so that set-up writes do not bill the measured phase."""
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'VACUUM ANALYZE "{table}"')
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


def backend_pids() -> list[int]:
    """PostgreSQL backends serving the current database (their CPU is part of the work)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


# ---- data at COPY speed ------------------------------------------------------------------------


def copy_models(model: type, objects: Sequence[Any]) -> None:
    """Insert model instances with one COPY, ids assigned here (then the sequence is moved on).

    Each field's own `pre_save` and `get_db_prep_save` run, so auto_now dates, JSON and foreign
    keys are written exactly as `save()` would write them; no signal is sent (no sync is queued).
    """
    from django.core.management.color import no_style
    from django.db import connection

    if not objects:
        return
    meta = model._meta
    fields = list(meta.concrete_fields)
    quote_name = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(max({quote_name(meta.pk.column)}), 0) FROM {meta.db_table}"
        )
        next_pk = cursor.fetchone()[0] + 1
        for offset, obj in enumerate(objects):
            obj.pk = next_pk + offset
        columns = ", ".join(quote_name(field.column) for field in fields)
        with cursor.cursor.copy(f"COPY {quote_name(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [
                        field.get_db_prep_save(field.pre_save(obj, add=True), connection)
                        for field in fields
                    ]
                )
        for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
            cursor.execute(statement)
    for obj in objects:
        obj._state.adding = False
        obj._state.db = "default"


def value_kwh(series_id: int, hour: int) -> float:
    """The reading of hour `hour` of series `series_id`: k/8 kWh is exact in binary, so what
    PostgreSQL returns is this very float, and the bare loops can rebuild the same bodies."""
    return ((hour * 7 + series_id * 13) % 80) / 8


# PostgreSQL's binary COPY (https://www.postgresql.org/docs/current/sql-copy.html): a signature,
# then per row the field count and each field's length and big-endian value; a timestamptz is
# int64 microseconds since 2000-01-01 UTC.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_COPY_TRAILER = b"\xff\xff"
_ROW = struct.Struct(">hiqiqid")  # 3 fields: series_id int8, instant timestamptz, value float8
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _big_endian(values: array[Any]) -> bytes:
    if sys.byteorder == "little":
        values.byteswap()
    return values.tobytes()


def insert_readings(
    series_ids: Sequence[int], hours: int = HOURS_PER_YEAR, batch: int = 100
) -> int:
    """`hours` hourly readings from YEAR_START for each series, by binary COPY.

    Each row is written in place into copies of a row template (one slice assignment per byte
    position, so the per-row work runs in C); a batch of series is one COPY and one transaction.
    The series rows get their count and range, and their day summaries, as the store would
    leave them.
    """
    from django.db import connection, transaction

    width = _ROW.size
    first_micros = int((YEAR_START - _PG_EPOCH).total_seconds()) * 1_000_000
    micros = _big_endian(array("q", [first_micros + h * 3_600_000_000 for h in range(hours)]))
    template = bytearray(_ROW.pack(3, 8, 0, 8, 0, 8, 0.0)) * hours
    for k in range(8):
        template[18 + k :: width] = micros[k::8]
    ids = list(series_ids)
    total = 0
    started = time.perf_counter()
    # The UTC day of each hour, and where each day's run of hours starts (the day summaries).
    day_of_hour = [(YEAR_START + timedelta(hours=h)).date() for h in range(hours)]
    day_starts = [h for h in range(hours) if h == 0 or day_of_hour[h] != day_of_hour[h - 1]]
    days_per_series = [
        (str(day_of_hour[h]), h, next_h)
        for h, next_h in zip(day_starts, [*day_starts[1:], hours], strict=True)
    ]
    from readings.models import Series

    organization_of = dict(Series.objects.filter(pk__in=ids).values_list("pk", "organization_id"))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        summaries: list[tuple[int, int, str, float, int]] = []
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(
                "COPY devices_reading (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(_COPY_HEADER)
                for series_id in chunk:
                    rows = bytearray(template)
                    own_id = struct.pack(">q", series_id)
                    values = [value_kwh(series_id, h) for h in range(hours)]
                    doubles = _big_endian(array("d", values))
                    for k in range(8):
                        rows[6 + k :: width] = own_id[k : k + 1] * hours
                        rows[30 + k :: width] = doubles[k::8]
                    copy.write(rows)
                    summaries += [
                        (
                            series_id,
                            organization_of[series_id],
                            day,
                            math.fsum(values[low:high]),
                            high - low,
                        )
                        for day, low, high in days_per_series
                    ]
                copy.write(_COPY_TRAILER)
            # The day summaries the store keeps (readings.summaries), as it would leave them.
            with cursor.cursor.copy(
                "COPY readings_readingday (series_id, organization_id, day, kwh, reading_count)"
                " FROM STDIN"
            ) as copy:
                for row in summaries:
                    copy.write_row(row)
        total += len(chunk) * hours
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE devices_series SET reading_count = %s, first_instant = %s,"
                " last_instant = %s::timestamptz + (%s - 1) * interval '1 hour' WHERE id = ANY(%s)",
                [hours, YEAR_START, YEAR_START, hours, chunk],
            )
        if len(ids) > batch and (start // batch) % 4 == 3:
            rate = total / (time.perf_counter() - started)
            print(f"  readings: {total:,} rows ({rate:,.0f} rows/s)", flush=True)
    return total


@contextlib.contextmanager
def quiet_emulator_queue() -> Iterator[None]:
    """waitress logs a WARNING each time a request waits for one of its threads: with 20 keep-alive
    clients that is every few milliseconds, and it says nothing the figures do not."""
    queue_logger = logging.getLogger("waitress.queue")
    previous = queue_logger.level
    queue_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        queue_logger.setLevel(previous)


# ---- Celery ------------------------------------------------------------------------------------


@contextlib.contextmanager
def broker_mode() -> Iterator[Any]:
    """Tasks of this process go to the bench broker instead of running eagerly (bench.settings
    runs them eagerly): set-up then only queues work, and the worker does it."""
    from portal.celery import app

    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker_url()
    try:
        yield app
    finally:
        with contextlib.suppress(Exception):
            purge_queue()
        app.conf.update(previous)


def purge_queue() -> int:
    """Drop every task waiting in the bench broker's default queue (set-up's on-commit tasks)."""
    from portal.celery import app

    with app.connection_for_write() as connection:
        return connection.default_channel.queue_purge(app.conf.task_default_queue) or 0


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """A subprocess's environment: the production settings on the throwaway database.

    Production settings (portal.settings), not bench.settings: the test settings run tasks
    eagerly, so a worker on them would run every task it queues (a child link, a retry) inline.
    The emulators this process serves must be running before the child starts.
    The keys are the bench process's own (tests.settings put the test keys in os.environ), so the
    credentials it encrypted decrypt in the worker.
    """
    from integrations.sandbox.base import served_origins

    env = {key: value for key, value in os.environ.items() if key != "DEBUG"}
    env.update(
        # Production settings have no sandbox: the emulators this process serves are allowed
        # explicitly, as an operator allows a local stand-in.
        UPSTREAM_ALLOWED_ORIGINS=",".join(sorted(served_origins())),
        DJANGO_SETTINGS_MODULE="portal.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url(),
        INTEGRATIONS_SANDBOX="0",
        LOG_LEVEL="WARNING",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        **extra,
    )
    return env


class Worker:
    """`celery -A portal worker` as a subprocess (own process group), ready when it answers a ping."""

    def __init__(
        self, database_url: str, *, pool: str = "prefork", concurrency: int = 2, name: str = "bench"
    ) -> None:
        self.database_url = database_url
        self.pool = pool
        self.concurrency = concurrency
        self.node = f"{name}-{os.getpid()}@{socket.gethostname()}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop)
            prefix="bench-worker-", suffix=".log", delete=False
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Worker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 60.0) -> None:
        from portal.celery import app

        command = [
            str(VENV_BIN / "celery"),
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "WARNING",
            "--pool",
            self.pool,
            "--concurrency",
            str(self.concurrency),
            "--hostname",
            self.node,
            "--without-gossip",
            "--without-mingle",
        ]
        started = time.perf_counter()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(self.database_url),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def answers() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the worker exited ({self.process.returncode}):\n{self.tail()}")
            replies = app.control.ping(destination=[self.node], timeout=0.5)
            return any(self.node in reply for reply in replies)

        if not wait_until(answers, timeout_s, interval_s=0.2):
            said = self.tail()
            self.stop()
            raise RuntimeError(f"the worker did not answer within {timeout_s:.0f} s:\n{said}")
        print(
            f"worker {self.pool} x{self.concurrency} ready in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    def pids(self) -> list[int]:
        """The worker and its pool processes."""
        if self.process is None:
            return []
        return [self.process.pid, *child_pids(self.process.pid)]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process_group(self.process)
        self.process = None
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def errors(self) -> list[str]:
        """Lines the worker logged at ERROR or above (tracebacks of failed tasks)."""
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace")
        return [line for line in text.splitlines() if "ERROR" in line or "CRITICAL" in line]


def stop_process_group(process: subprocess.Popen[Any], timeout_s: float = 15.0) -> None:
    """SIGTERM the group the bench started (warm shutdown), SIGKILL it if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


# ---- subprocess helpers ------------------------------------------------------------------------


def run_child(args: list[str], env: dict[str, str], timeout_s: float) -> dict[str, Any]:
    """Run `python -m ...` (a bare loop), bounded in time; its last stdout line is JSON."""
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_json(directory: Path, name: str, data: Any) -> Path:
    path = directory / name
    path.write_text(json.dumps(data))
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ---- measuring -----------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def child_pids(parent: int) -> list[int]:
    """Direct children of `parent` (from /proc; Linux only, else none)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == parent:
            children.append(int(entry.name))
    return children


def cpu_s(pids: Iterable[int]) -> float:
    """User + system CPU seconds of the processes (0 for those gone or unreadable)."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by groups of processes between start() and stop().

    A process that ends in between counts with what it had spent when last seen: call sample()
    while waiting (short-lived ones, such as a PostgreSQL backend per Celery task, are partly
    missed). The machine's busy share over the same window says how much else was running.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.base: dict[int, float] = {}
        self.seen: dict[str, dict[int, float]] = {name: {} for name in groups}
        self.spent: dict[str, float] = {}
        self.machine_busy = 0.0
        self._machine: tuple[int, int] = (0, 0)
        self._sampled = 0.0

    def start(self) -> None:
        self._machine = _machine_ticks()
        for name, pids in self.groups.items():
            for pid in pids():
                self.base[pid] = self.seen[name][pid] = cpu_s([pid])

    def sample(self, every_s: float = 1.0) -> None:
        """Note what each process has spent so far (at most every `every_s`: reading /proc is
        not free, and the process that calls this may be the one serving the emulator)."""
        now = time.monotonic()
        if now - self._sampled < every_s:
            return
        self._sampled = now
        for name, pids in self.groups.items():
            for pid in pids():
                spent = cpu_s([pid])
                if spent:
                    self.seen[name][pid] = spent

    def stop(self) -> dict[str, float]:
        self.sample(every_s=0.0)
        busy, total = _machine_ticks()
        if total > self._machine[1]:
            self.machine_busy = (busy - self._machine[0]) / (total - self._machine[1])
        self.spent = {
            name: sum(spent - self.base.get(pid, 0.0) for pid, spent in seen.items())
            for name, seen in self.seen.items()
        }
        return self.spent

    def describe(self) -> str:
        parts = [f"{name} {seconds:.1f}" for name, seconds in self.spent.items()]
        return ", ".join(parts) + f" (machine {self.machine_busy:.0%} busy)"


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat ((0, 0) elsewhere)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), math.ceil(fraction * len(ordered)))) - 1]
