"""Readings ingest: 114 device-years (998,640 hourly rows) through `manage.py import_readings`.

What a user does with a portfolio's yearly export is one file per device and one command per file,
so that is what is timed: 114 `call_command("import_readings", "--org", ..., "--device", ..., FILE)`
in this process (no interpreter start-up per file), each file an hourly `datetime,value_kwh` CSV
with local offsets (America/Chicago), end to end: read, parse, validate, store, record the Upload,
commit. 998,640 rows of 114 other series are in the table before.

- new data: the 114 series have no readings yet;
- re-import: the same files again, every row unchanged;
- 10 % changed: the same files with every tenth reading's value changed.

Each phase runs REPEATS times from "no readings yet" (the fastest counts) and is split by where
the time went: the parser (readings/parser/, which for new data also hands each batch to
the COPY that streams it into the table), the store's other paths (readings.store._write: the
comparison that finds a re-import unchanged), and the rest (the command, the Upload row, the
commit).

The baseline, measured in the same run (twice, the fastest counts): a raw binary COPY of the
same rows, encoded before the clock starts, into an empty table with the same primary key and
nothing else, one COPY and one COMMIT per file, as each file is its own upload (stored for good
when the command says so). Targets: new data <= 1.3x, re-import <= 1.3x, 10 % changed <= 1.6x,
peak RSS <= 200 MB. The same rows as ONE COPY in ONE transaction are timed too (informative: no
per-file import can do less than one commit per file).

Runs in a throwaway database (created, migrated and dropped here) on the DATABASE_URL server, so
nothing is left behind; the CSV files live in a temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
import time
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import Row, peak_rss_mb

DEVICES = 114
HOURS = 8760
TZ = "America/Chicago"
YEAR = datetime(2023, 1, 1, tzinfo=UTC)
SLUG = "bench-ingest"
REPEATS = int(
    os.environ.get("BENCH_INGEST_REPEATS", "3")
)  # each phase; the fastest counts (the machine may be shared)
NAMEPLATE_KW = 10.0


def run() -> list[Row]:
    from django.db import connection

    if connection.vendor != "postgresql":
        print("ingest: skipped (the COPY store needs PostgreSQL: set DATABASE_URL=postgres://...)")
        return []
    original_name = connection.settings_dict["NAME"]
    original_test = dict(connection.settings_dict.get("TEST") or {})
    throwaway = f"bench_ingest_{os.getpid()}"
    connection.settings_dict["TEST"] = {**original_test, "NAME": throwaway}
    print(f"creating and migrating the throwaway database {throwaway} ...", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as directory:
            return _run(Path(directory))
    finally:
        connection.creation.destroy_test_db(original_name, verbosity=0)
        connection.settings_dict["TEST"] = original_test
        print(f"dropped {throwaway}", flush=True)


@dataclass
class Phase:
    """One timed pass over the 114 files, split by where the time went."""

    total_s: float
    parse_s: float
    store_s: float
    cpu_s: float | None  # this process and its PostgreSQL backend

    @property
    def rest_s(self) -> float:
        return self.total_s - self.parse_s - self.store_s

    def note(self) -> str:
        return (
            f"parse (with the streamed COPY) {self.parse_s:.2f}s, other store paths "
            f"{self.store_s:.2f}s, the rest {self.rest_s:.2f}s"
        )


def _run(directory: Path) -> list[Row]:
    org_devices, other_devices = _portfolio()
    # The portfolio's series exist before the new devices' (higher ids, as in real life: new
    # series sort after the others in the primary key).
    other_ids = [_series(device).pk for device in other_devices]
    bench_ids = [_series(device).pk for device in org_devices]
    preloaded = _preload(other_ids)
    print(f"pre-loaded {preloaded:,} readings of {len(other_ids)} other series", flush=True)

    files = _write_files(directory, org_devices)
    changed_files = _write_files(directory / "changed", org_devices, change_every=10)
    total_rows = DEVICES * HOURS
    size_mb = sum(path.stat().st_size for path, _ in files) / 1e6
    print(f"wrote {len(files)} files, {total_rows:,} rows, {size_mb:.1f} MB", flush=True)
    stream = _copy_stream(bench_ids, _parse_only(files, org_devices))

    baselines = [_baseline(stream, per_file=True), _baseline(stream, per_file=False)]
    new, again, changed = _phases(files, changed_files, bench_ids)
    baselines += [_baseline(stream, per_file=True), _baseline(stream, per_file=False)]
    del stream
    per_file = [result for n, result in enumerate(baselines) if n % 2 == 0]
    single = [result for n, result in enumerate(baselines) if n % 2 == 1]
    base_wall = min(wall for wall, _ in per_file)
    single_wall = min(wall for wall, _ in single)
    cpus = [cpu for _, cpu in per_file if cpu is not None]
    base_cpu = min(cpus) if cpus else None
    print(
        "baseline COPY runs, one per file: "
        + ", ".join(f"{wall:.2f} s" for wall, _ in per_file)
        + "; one COPY of all: "
        + ", ".join(f"{wall:.2f} s" for wall, _ in single),
        flush=True,
    )
    peak = peak_rss_mb()
    print(f"peak RSS: {peak:.0f} MB", flush=True)

    base = "vs COPY+COMMIT per file"
    rows = [
        Row(
            "ingest",
            f"new data (1M rows, 114 files) {base}",
            new.total_s,
            base_wall,
            1.3,
            new.note(),
        ),
        Row(
            "ingest",
            f"re-import, all unchanged, {base}",
            again.total_s,
            base_wall,
            1.3,
            again.note(),
        ),
        Row("ingest", f"10 % changed, {base}", changed.total_s, base_wall, 1.6, changed.note()),
        Row(
            "ingest",
            "new data vs ONE COPY of all rows (informative)",
            new.total_s,
            single_wall,
            None,
            "one transaction for 114 files: what no per-file import can match",
        ),
    ]
    if base_cpu is not None and new.cpu_s is not None and again.cpu_s is not None:
        cpu_note = "CPU of this process + its PostgreSQL backend (no target: informative)"
        rows += [
            Row("ingest", "new data, CPU", new.cpu_s, base_cpu, None, cpu_note),
            Row("ingest", "re-import, CPU", again.cpu_s, base_cpu, None, cpu_note),
        ]
    rows.append(
        Row("ingest", "peak memory, MB (ru_maxrss) vs 200 MB", peak, 200.0, 1.0, "MB, not seconds")
    )
    print(
        "CPU rows: CPU seconds of this process and its PostgreSQL backend, against the same for "
        "the COPY (steadier than wall time on a shared machine)."
    )
    return rows


def _phases(
    files: list[tuple[Path, str]], changed_files: list[tuple[Path, str]], bench_ids: list[int]
) -> tuple[Phase, Phase, Phase]:
    """New data, re-import, then 10 % changed, REPEATS times from 'no readings yet'; the
    fastest of each."""
    total_rows = DEVICES * HOURS
    changed_rows = sum(1 for h in range(HOURS) if h % 10 == 0) * DEVICES
    news: list[Phase] = []
    agains: list[Phase] = []
    changes: list[Phase] = []
    for _ in range(REPEATS):
        _forget(bench_ids)
        news.append(_import_all(files))
        _expect("inserted", total_rows)
        agains.append(_import_all(files))
        _expect("unchanged", total_rows)
        changes.append(_import_all(changed_files))
        _expect("updated", changed_rows)
        print(
            f"new {news[-1].total_s:.2f} s, re-import {agains[-1].total_s:.2f} s, "
            f"10 % changed {changes[-1].total_s:.2f} s",
            flush=True,
        )
    return _fastest(news), _fastest(agains), _fastest(changes)


def _fastest(phases: list[Phase]) -> Phase:
    """The fastest run's wall-clock split; the least CPU of all runs."""
    best = min(phases, key=lambda phase: phase.total_s)
    cpus = [phase.cpu_s for phase in phases if phase.cpu_s is not None]
    return Phase(best.total_s, best.parse_s, best.store_s, min(cpus) if cpus else None)


class _Stopwatch:
    """Wall time, and the CPU time of this process plus its PostgreSQL backend.

    On a shared machine the wall clock also counts the waits for a core; the CPU figure is the
    work done, so its ratio is the steadier one. The backend's CPU comes from /proc, so it is
    only measured when the server runs on this machine.
    """

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pid = cursor.fetchone()[0]
        self.started_cpu = self._cpu()
        self.started = time.perf_counter()

    def _cpu(self) -> float | None:
        try:
            stat = Path(f"/proc/{self.backend_pid}/stat").read_text()
        except OSError:
            return None
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        return time.process_time() + ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> tuple[float, float | None]:
        wall = time.perf_counter() - self.started
        cpu = self._cpu()
        if cpu is None or self.started_cpu is None:
            return wall, None
        return wall, cpu - self.started_cpu


# ---- set-up --------------------------------------------------------------------------------


def _portfolio() -> tuple[list[Any], list[Any]]:
    from devices.models import Device
    from homes.models import Customer, Home
    from portal.models import Organization

    org = Organization.objects.create(name="Bench ingest", slug=SLUG, timezone=TZ)
    customer = Customer.objects.create(organization=org, name="Bench customer")
    home = Home.objects.create(
        organization=org, customer=customer, name="Bench home", zip_code="52327", timezone=TZ
    )
    devices = Device.objects.bulk_create(
        Device(
            organization=org,
            home=home,
            name=f"{prefix} array {n}",
            custom_id=f"{prefix}-{n:03d}",
            kind="solar",
            details={"nameplate_capacity_kw": NAMEPLATE_KW},
        )
        # The portfolio's existing devices first: new devices get the higher ids, as they would.
        for prefix in ("OTHER", "BENCH")
        for n in range(DEVICES)
    )
    return devices[DEVICES:], devices[:DEVICES]


def _series(device: Any) -> Any:
    from readings.store import series_for

    return series_for(device)


def _preload(series_ids: list[int]) -> int:
    from django.db import connection

    from readings import summaries

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO devices_reading (series_id, instant, value_kwh)"
            " SELECT s.id, %s::timestamptz + h * interval '1 hour', (h %% 24) / 10.0"
            " FROM unnest(%s::bigint[]) AS s(id), generate_series(0, %s - 1) AS h",
            [YEAR, series_ids, HOURS],
        )
        count = cursor.rowcount
        cursor.execute(
            "UPDATE devices_series SET reading_count = %s, first_instant = %s, last_instant = %s"
            " WHERE id = ANY(%s)",
            [HOURS, YEAR, YEAR + timedelta(hours=HOURS - 1), series_ids],
        )
    summaries.rebuild(series_ids=series_ids)  # as the store would have left them
    _settle()
    return count


def _settle() -> None:
    """Vacuum, analyze and checkpoint so that one phase's writes do not bill the next."""
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE devices_reading")
        # CHECKPOINT needs superuser or pg_checkpoint; without it the figures are only noisier.
        with contextlib.suppress(DatabaseError):
            cursor.execute("CHECKPOINT")


def _change(hour: int, every: int) -> float:
    return 0.5 if every and hour % every == 0 else 0.0


def _solar_kwh(day: int, local_hour: int, factor: float) -> float:
    """A plausible rooftop profile: zero at night, a midday bell, longer days in summer."""
    daylight = 0.5 + 0.5 * math.sin(2 * math.pi * (day - 80) / 365)
    rise, set_ = 7 - daylight, 18 + daylight
    if not rise < local_hour < set_:
        return 0.0
    return round(7.0 * factor * math.sin(math.pi * (local_hour - rise) / (set_ - rise)), 3)


def _write_files(
    directory: Path, devices: list[Any], change_every: int = 0
) -> list[tuple[Path, str]]:
    """One CSV per device; with ``change_every``, every such reading's value is another."""
    directory.mkdir(exist_ok=True)
    zone = ZoneInfo(TZ)
    stamps = []
    shape = []
    for h in range(HOURS):
        local = (YEAR + timedelta(hours=h)).astimezone(zone)
        stamps.append(local.isoformat())
        shape.append((local.timetuple().tm_yday, local.hour))
    files = []
    for n, device in enumerate(devices):
        factor = 0.7 + 0.3 * ((n * 37) % 100) / 100
        path = directory / f"{device.custom_id}.csv"
        with path.open("w", encoding="utf-8") as handle:
            handle.write("datetime,value_kwh\n")
            handle.writelines(
                f"{stamp},{round(_solar_kwh(day, hour, factor) + _change(h, change_every), 3)}\n"
                for h, (stamp, (day, hour)) in enumerate(zip(stamps, shape, strict=True))
            )
        files.append((path, device.custom_id))
    return files


# ---- the measured parts ----------------------------------------------------------------------


def _parse_only(
    files: list[tuple[Path, str]], devices: list[Any]
) -> list[tuple[array[int], array[float]]]:
    """The files' columns, for the baseline's COPY data; and a check that they are clean."""
    from readings.parser import parse_readings
    from readings.store import context_for, series_for

    columns = []
    for (path, _), device in zip(files, devices, strict=True):
        with path.open("rb") as handle:
            result = parse_readings(
                handle, tz=TZ, filename=path.name, context=context_for(series_for(device))
            )
        if not result.ok or result.report.warning_count:
            raise RuntimeError(f"{path.name}: {result.report.errors or result.report.warnings}")
        columns.append(result.readings.arrays())
    return columns


def _copy_stream(
    series_ids: list[int], columns: list[tuple[array[int], array[float]]]
) -> list[bytes]:
    """The same rows as binary COPY data, encoded before the clock starts."""
    from readings import pgcopy

    parts = [pgcopy._COPY_SIGNATURE]
    for series_id, (epochs, values) in zip(series_ids, columns, strict=True):
        parts.append(
            bytes(
                pgcopy._interleave(
                    pgcopy._row_template(series_id),
                    len(epochs),
                    pgcopy._be_micros(epochs),
                    pgcopy._be_doubles(values),
                )
            )
        )
    parts.append(pgcopy._COPY_TRAILER)
    return parts


def _baseline(stream: list[bytes], *, per_file: bool) -> tuple[float, float | None]:
    """The rows by raw binary COPY: one COPY and one COMMIT per file, or all in one."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_copy_baseline (series_id bigint NOT NULL,"
            " instant timestamptz NOT NULL, value_kwh double precision NOT NULL,"
            " PRIMARY KEY (series_id, instant))"
        )
    _settle()
    signature, *parts, trailer = stream
    statement = (
        "COPY bench_copy_baseline (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
    )
    try:
        watch = _Stopwatch()
        for batch in [[part] for part in parts] if per_file else [parts]:
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.cursor.copy(statement) as copy,
            ):
                copy.write(signature)
                for part in batch:
                    copy.write(part)
                copy.write(trailer)
        return watch.stop()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_copy_baseline")


def _import_all(files: list[tuple[Path, str]]) -> Phase:
    from django.core.management import call_command

    from readings import store as readings_store

    _settle()
    parse = _Clock(readings_store, "parse_for")
    store = _Clock(readings_store, "_write")
    sink = io.StringIO()
    try:
        watch = _Stopwatch()
        for path, custom_id in files:
            call_command(
                "import_readings",
                "--org",
                SLUG,
                "--device",
                custom_id,
                str(path),
                stdout=sink,
                stderr=sink,
            )
            sink.seek(0)
            sink.truncate()
        total, cpu = watch.stop()
    finally:
        parse.remove()
        store.remove()
    return Phase(total, parse.seconds, store.seconds, cpu)


class _Clock:
    """Times every call of a module function while installed (the split of each phase)."""

    def __init__(self, module: Any, name: str) -> None:
        self.module, self.name = module, name
        self.original = getattr(module, name)
        self.seconds = 0.0

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(module, name, timed)

    def remove(self) -> None:
        setattr(self.module, self.name, self.original)


def _expect(field: str, total: int) -> None:
    """Check the last 114 uploads did what the figure claims (a benchmark of wrong work is void)."""
    from readings.models import Upload

    latest = Upload.objects.order_by("-pk")[:DEVICES]
    got = sum(getattr(upload, field) for upload in latest)
    statuses = {upload.status for upload in latest}
    if got != total or statuses != {"stored"}:
        raise RuntimeError(f"expected {total:,} {field}, got {got:,} ({statuses})")


def _forget(series_ids: list[int]) -> None:
    """Back to 'no readings yet' for the measured series."""
    from django.db import connection

    from readings.models import Series, Upload

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM devices_reading WHERE series_id = ANY(%s)", [series_ids])
        cursor.execute("DELETE FROM readings_readingday WHERE series_id = ANY(%s)", [series_ids])
    Series.objects.filter(pk__in=series_ids).update(
        reading_count=0, first_instant=None, last_instant=None
    )
    Upload.objects.all().delete()
    _settle()
