"""The database side of bench/scale.py: partitions for the data's months, the binary COPY load,
the queries a request makes (captured and EXPLAINed) and the bytes the readings table takes."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import _fixtures as fx

_PG_EPOCH_S = 946_684_800


def partition_key() -> str | None:
    """How devices_reading is partitioned ("RANGE (instant)"), None for a plain table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_partkeydef(partrelid) FROM pg_partitioned_table"
            " WHERE partrelid = 'devices_reading'::regclass"
        )
        found = cursor.fetchone()
    return found[0] if found else None


def ensure_partitions(hours: int) -> None:
    """When devices_reading is partitioned by range of instant: a monthly partition for each
    month of the data that no partition but the default covers (a month already covered, by a
    monthly or a yearly partition, is left as it is)."""
    from django.db import DatabaseError, connection, transaction

    key = partition_key()
    if key is None:
        print("devices_reading is a plain table", flush=True)
        return
    if key.replace('"', "").lower() != "range (instant)":
        print(f"devices_reading is partitioned by {key}: partitions left as they are")
        return
    month = fx.YEAR_START.date().replace(day=1)
    last = (fx.YEAR_START + timedelta(hours=hours - 1)).date()
    created = covered = 0
    while month <= last:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        name = f"devices_reading_bench_{month:%Y_%m}"
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {name} PARTITION OF devices_reading"
                    " FOR VALUES FROM (%s) TO (%s)",
                    [
                        datetime(month.year, month.month, 1, tzinfo=UTC),
                        datetime(following.year, following.month, 1, tzinfo=UTC),
                    ],
                )
            created += 1
        except DatabaseError:  # overlaps a partition that covers the month already
            covered += 1
        month = following
    print(
        f"devices_reading is partitioned by range (instant): {created} monthly partitions "
        f"created for the data, {covered} months covered already",
        flush=True,
    )


def _profile(hours: int) -> Any:
    """A rooftop day in Chicago for every hour of the data (the shape; each series scales it)."""
    import numpy as np

    hour = np.arange(hours)
    local_hour = (hour - 6) % 24  # UTC-6, close enough for a shape
    day = hour // 24
    daylight = 0.5 + 0.5 * np.sin(2 * np.pi * (day - 80) / 365)
    rise, set_ = 7 - daylight, 18 + daylight
    bell = np.sin(np.pi * (local_hour - rise) / (set_ - rise))
    return np.round(np.where((local_hour > rise) & (local_hour < set_), 7.0 * bell, 0.0), 3)


def _month_major(series_count: int, hours: int) -> Any:
    """The order that sends a chunk's rows month by month (each month's in primary key order):
    COPY into a partitioned table then fills one partition at a time instead of switching every
    730 rows (which flushes its buffers each time: half the speed). Each partition ends up with
    the same rows in the same order."""
    import numpy as np

    months = np.array(
        [(fx.YEAR_START + timedelta(hours=h)).month for h in range(hours)], dtype=np.int64
    )
    starts = [0, *(np.flatnonzero(np.diff(months)) + 1).tolist(), hours]
    index = np.arange(series_count * hours).reshape(series_count, hours)
    return np.concatenate([index[:, a:b].ravel() for a, b in itertools.pairwise(starts)])


def load(series: list[Any], hours: int, chunk: int) -> int:
    """Every series' hours by binary COPY, `chunk` series per COPY and transaction, in
    primary key order (month by month into a partitioned table); each chunk's series rows
    updated in the same transaction; then VACUUM ANALYZE and CHECKPOINT."""
    import numpy as np
    from django.db import connection, transaction

    if not series:
        return 0
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("len_series", ">i4"),
            ("series", ">i8"),
            ("len_instant", ">i4"),
            ("instant", ">i8"),
            ("len_value", ">i4"),
            ("value", ">f8"),
        ]
    )
    first_s = int(fx.YEAR_START.timestamp())
    micros = (first_s - _PG_EPOCH_S + np.arange(hours, dtype=np.int64) * 3600) * 1_000_000
    profile = _profile(hours)
    first = fx.YEAR_START
    last = first + timedelta(hours=hours - 1)
    total = len(series) * hours
    written = 0
    started = time.perf_counter()
    reported = started
    partitioned = partition_key() is not None
    orders: dict[int, Any] = {}
    print(f"loading {total:,} readings of {len(series):,} series ...", flush=True)
    for start in range(0, len(series), chunk):
        ids = np.array([one.pk for one in series[start : start + chunk]], dtype=np.int64)
        rows = np.empty(len(ids) * hours, dtype=row)
        rows["fields"] = 3
        rows["len_series"] = rows["len_instant"] = rows["len_value"] = 8
        rows["series"] = np.repeat(ids, hours)
        rows["instant"] = np.tile(micros, len(ids))
        factors = 0.7 + 0.3 * ((ids * 37) % 100) / 100
        rows["value"] = (np.repeat(factors, hours) * np.tile(profile, len(ids))).round(3)
        if partitioned:
            order = orders.get(len(ids))
            if order is None:
                order = orders[len(ids)] = _month_major(len(ids), hours)
            rows = rows[order]
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            with cursor.cursor.copy(
                "COPY devices_reading (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.write(fx._COPY_HEADER)
                copy.write(rows.tobytes())
                copy.write(fx._COPY_TRAILER)
            cursor.execute(
                "UPDATE devices_series SET reading_count = %s, first_instant = %s,"
                " last_instant = %s, updated_at = now() WHERE id = ANY(%s)",
                [hours, first, last, ids.tolist()],
            )
        written += len(ids) * hours
        now = time.perf_counter()
        if now - reported >= 30 or written == total:
            reported = now
            rate = written / (now - started)
            print(
                f"  {written:,} of {total:,} rows ({written / total:.0%}) in {now - started:.0f} s,"
                f" {rate:,.0f} rows/s, ~{(total - written) / rate:.0f} s to go",
                flush=True,
            )
    copied = time.perf_counter()
    fx.settle("devices_reading", "devices_series", "devices_device")
    print(
        f"  COPY {copied - started:.1f} s ({total / (copied - started):,.0f} rows/s), "
        f"VACUUM ANALYZE + CHECKPOINT {time.perf_counter() - copied:.1f} s",
        flush=True,
    )
    return written


class Queries:
    """Every query of the requests made inside it, with its SQL (parameters in place, as
    PostgreSQL ran it) and how long its execute() took (for a server-side cursor, only the
    DECLARE: EXPLAIN ANALYZE tells the rest)."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, float]] = []

    def __enter__(self) -> Queries:
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._wrapper.__exit__(*exc)

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        # Rendered before it runs: mogrify() resets the cursor's result.
        text: str | bytes = sql
        if params is not None and not many:
            try:
                text = context["cursor"].mogrify(sql, params)
            except Exception:  # a query the client cannot render: kept as written
                text = sql
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - began
            self.queries.append((text if isinstance(text, str) else text.decode(), seconds))


# Every leaf partition of devices_reading when it is partitioned, else the table itself.
_RELATIONS = (
    "SELECT relid FROM pg_partition_tree('devices_reading'::regclass) WHERE isleaf"
    " UNION ALL SELECT 'devices_reading'::regclass WHERE NOT EXISTS"
    " (SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'devices_reading'::regclass)"
)


@dataclass
class Bytes:
    """What devices_reading takes on disk: heap (with TOAST, free space and visibility maps)
    and indexes, summed over its leaf partitions (one relation when it is not partitioned)."""

    table: int
    indexes: int
    relations: int

    def per_row(self, rows: int) -> tuple[float, float]:
        return self.table / max(rows, 1), self.indexes / max(rows, 1)


def bytes_per_reading(rows: int) -> Bytes:
    """The table's sizes now, printed per reading (`rows` is what the loads wrote)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_table_size(relid)), 0), coalesce(sum(pg_indexes_size(relid)), 0),"
            f" count(*) FROM ({_RELATIONS}) AS leaves"
        )
        table, indexes, relations = cursor.fetchone()
    found = Bytes(int(table), int(indexes), int(relations))
    heap, index = found.per_row(rows)
    print(
        f"devices_reading at {rows:,} rows: {found.relations} relation(s), "
        f"table {found.table / 1e6:,.1f} MB + indexes {found.indexes / 1e6:,.1f} MB = "
        f"{heap + index:.1f} B per reading ({heap:.1f} + {index:.1f})",
        flush=True,
    )
    return found


def raw_heap_bytes_per_row(series_ids: list[int]) -> float:
    """Heap bytes per row of a plain, unindexed table holding the first load's rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_scale_raw_heap AS SELECT series_id, instant, value_kwh"
            " FROM devices_reading WHERE series_id = ANY(%s)",
            [series_ids],
        )
        rows = cursor.rowcount
        cursor.execute("SELECT pg_table_size('bench_scale_raw_heap')")
        size = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_scale_raw_heap")
    print(f"raw heap: {rows:,} rows in {size / 1e6:,.1f} MB = {size / rows:.1f} B per row")
    return size / max(rows, 1)


@dataclass(frozen=True)
class Plan:
    """What EXPLAIN (ANALYZE, BUFFERS) says of one query: the pages it touched (shared buffers
    hit or read, planning included) and its execution time. Pages do not depend on what else
    runs on the machine: the flatness of a query, without the noise."""

    sql: str
    pages: int
    execution_ms: float
    text: str


def explain(sql: str) -> Plan:
    """EXPLAIN (ANALYZE, BUFFERS) of a captured query (a server-side cursor's DECLARE dropped)."""
    from django.db import connection

    sql = re.sub(r"^DECLARE .*? FOR ", "", sql, flags=re.DOTALL)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        found = cursor.fetchone()[0]
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        text = "\n".join(line for (line,) in cursor.fetchall())
    top = (json.loads(found) if isinstance(found, str) else found)[0]
    pages = sum(
        int(part.get(key, 0))
        for part in (top["Plan"], top.get("Planning", {}))
        for key in ("Shared Hit Blocks", "Shared Read Blocks")
    )
    return Plan(sql, pages, float(top["Execution Time"]), text)


class CpuClock:
    """CPU seconds of this process and of its PostgreSQL backend (from /proc, in clock ticks:
    summed over many requests, not one). Steadier than wall time on a shared machine: a wait
    for a core is not counted."""

    def __init__(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = Path(f"/proc/{cursor.fetchone()[0]}/stat")

    def backend_s(self) -> float:
        try:
            stat = self.backend.read_text()
        except OSError:  # the server is not on this machine
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def now(self) -> tuple[float, float]:
        return time.process_time(), self.backend_s()


def current() -> Any:
    """The default connection's wrapper (not the proxy): what `use` switches back to."""
    from django.db import connections

    return connections["default"]


def use(wrapper: Any) -> None:
    """Make `wrapper` the default connection: the views' queries go to its database."""
    from django.db import connections

    connections["default"] = wrapper


@contextlib.contextmanager
def twin_database(suffix: str) -> Iterator[Any]:
    """A copy of the current database as it is now (CREATE DATABASE ... TEMPLATE), and a
    connection wrapper for it, so the small table can be measured beside the big one at the same
    moment; dropped on the way out, the default connection given back."""
    main = current()
    name = f"{main.settings_dict['NAME']}_{suffix}"
    quote = main.ops.quote_name
    main.close()  # a template database must have no session
    with main._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(name)}")
        cursor.execute(
            f"CREATE DATABASE {quote(name)} TEMPLATE {quote(main.settings_dict['NAME'])}"
        )
    twin = type(main)({**main.settings_dict, "NAME": name}, "default")
    try:
        yield twin
    finally:
        use(main)
        twin.close()
        with main._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
