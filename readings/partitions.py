"""Yearly partitions of the readings table on PostgreSQL (``devices_reading``, by ``instant``).

Why yearly, measured (README, "Running at scale"): a device-year query reads one series' rows
either way (the key is (series_id, instant) in every partition) and took the same time with
monthly or yearly partitions, but a device-year COPY (every upload, the ingest's fast path) cost
about 1.5x as much into monthly partitions (twelve partitions opened and filled per file) and
the same as into a plain table into yearly ones. The partitions are ``devices_reading_y2025``...
(UTC years) and ``devices_reading_default``, which catches any instant with no partition yet.

:func:`partition_live_table` turns the plain table into the partitioned one while it is written
(migration 0005); :func:`ensure_partitions` (hourly, beat; ``manage.py readings_partitions``)
creates the years around now and moves rows that landed in the default partition (a 2019
upload) into their own year. SQLite keeps its one plain table: every function here is a no-op
there. Nothing here changes Django's model: the table keeps its name, columns and key.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import pairwise

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.backends.utils import CursorWrapper

log = logging.getLogger(__name__)

TABLE = "devices_reading"
DEFAULT_PARTITION = f"{TABLE}_default"
# The window kept ready around the current month (the years it touches): uploads of the last year
# land in their own partition straight away, next year's exists three months before it starts;
# anything older waits in the default partition until the next run.
MONTHS_BACK = 12
MONTHS_AHEAD = 3
# Rows per copy transaction of the live move, during which writers wait: 200,000 rows took 2-3 s
# on a busy 2-core machine (README, "Running at scale"), a quarter of that well under a second.
COPY_CHUNK_ROWS = 50_000
# Set on every partition (PostgreSQL refuses storage parameters on the partitioned parent). The
# table is insert-mostly: the insert threshold vacuums new rows (visibility map, so index-only
# scans, and freezing in small steps); a re-upload's updates are vacuumed at 2% dead rather than
# 20% of a multi-million-row year; the current year is analyzed as it fills.
AUTOVACUUM = (
    "autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.05,"
    " autovacuum_analyze_scale_factor = 0.02"
)
# Maintenance waits this long for a lock, then leaves the year for the next run, so a long
# query on the default partition never queues every reader behind the maintenance.
MAINTENANCE_LOCK_TIMEOUT = "5s"

_MOVING = f"{TABLE}_partitioned"  # the new table while the rows move
_LEGACY = f"{TABLE}_legacy"
_MIRROR = f"{TABLE}_mirror"
_ADVISORY_KEY = 2_106_210_021  # one maintenance at a time (issue 21)
_NAME = re.compile(rf"^{TABLE}_y(\d{{4}})$")
_COLUMNS = "instant, value_kwh, series_id"


def month_of(moment: date | datetime) -> date:
    """The first day of the (UTC) month of a day or an instant."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def years_around(today: date | datetime, months_back: int, months_ahead: int) -> set[int]:
    """The years that the months from ``months_back`` before ``today`` to ``months_ahead`` after
    touch."""
    this = month_of(today)
    return {add_months(this, k).year for k in range(-months_back, months_ahead + 1)}


def partition_name(year: int) -> str:
    return f"{TABLE}_y{year:04d}"


def _bounds(year: int) -> tuple[str, str]:
    """The partition's range as literals: from the year's first instant (UTC) to the next's."""
    return f"'{year:04d}-01-01 00:00:00+00'", f"'{year + 1:04d}-01-01 00:00:00+00'"


def _postgresql(using: str) -> bool:
    return connections[using].vendor == "postgresql"


def is_partitioned(using: str = DEFAULT_DB_ALIAS) -> bool:
    if not _postgresql(using):
        return False
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [TABLE])
        row = cursor.fetchone()
    return row is not None and row[0] == "p"


@dataclass(frozen=True, slots=True)
class Partition:
    """One partition: its year (None for the default), estimated rows and bytes on disk."""

    name: str
    year: int | None
    rows: int
    bytes: int


def partitions(using: str = DEFAULT_DB_ALIAS, parent: str = TABLE) -> list[Partition]:
    """The partitions of the readings table, years in order, the default last."""
    if not _postgresql(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid)"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s)",
            [parent],
        )
        rows = cursor.fetchall()
    found = []
    for name, estimate, size in rows:
        match = _NAME.match(name)
        year = int(match[1]) if match else None
        found.append(Partition(name, year, int(estimate), int(size)))
    return sorted(found, key=lambda p: (p.year is None, p.year or 0, p.name))


def default_rows(using: str = DEFAULT_DB_ALIAS) -> int:
    """Rows in the default partition, counted (it is small unless maintenance is not running)."""
    if not is_partitioned(using):
        return 0
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")  # noqa: S608 (a constant)
        return int(cursor.fetchone()[0])


@dataclass
class Maintenance:
    """What a maintenance run did: partitions created, rows moved out of the default partition
    (by partition), years left for the next run (a lock not granted in time)."""

    created: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def ensure_partitions(
    using: str = DEFAULT_DB_ALIAS,
    *,
    today: date | None = None,
    months_back: int = MONTHS_BACK,
    months_ahead: int = MONTHS_AHEAD,
) -> Maintenance:
    """Create the partitions of the years the months around ``today`` (UTC) touch that are
    missing, and give every year with rows in the default partition its own partition, those
    rows moved into it.

    Each year is one short transaction. PostgreSQL refuses a partition whose range has rows in
    the default partition, so a year is made as a plain table, filled with the default's rows
    of that year (deleted there), then attached: ATTACH takes only a SHARE UPDATE EXCLUSIVE
    lock on the readings table (reads and writes go on); the default partition is locked for the
    move, so nothing lands there meanwhile.
    """
    done = Maintenance()
    if not is_partitioned(using):
        return done
    wanted = years_around(today or datetime.now(UTC), months_back, months_ahead)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_part('year', instant AT TIME ZONE 'UTC') FROM {DEFAULT_PARTITION}"  # noqa: S608
        )
        stray = {int(row[0]) for row in cursor.fetchall()}
    existing = {p.name for p in partitions(using)}
    for year in sorted(wanted | stray):
        name = partition_name(year)
        if name in existing:
            continue
        try:
            moved = _add_year(using, year)
        except OperationalError as exc:  # lock_timeout: a long query held the default partition
            log.warning("Partition %s left for the next run: %s", name, exc)
            done.skipped.append(name)
            continue
        if moved is None:
            continue  # another run made it meanwhile
        done.created.append(name)
        if moved:
            done.moved[name] = moved
            log.info("Moved %d readings from %s into %s", moved, DEFAULT_PARTITION, name)
    return done


def _add_year(using: str, year: int) -> int | None:
    """One year's partition, with the default partition's rows of that year moved in: the
    rows moved, or None when the partition exists already."""
    name = partition_name(year)
    low, high = _bounds(year)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{MAINTENANCE_LOCK_TIMEOUT}'")
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_KEY])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return None
        cursor.execute(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {name} (instant timestamptz NOT NULL, value_kwh float8 NOT NULL,"
            f" series_id bigint NOT NULL) WITH ({AUTOVACUUM})"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION}"  # noqa: S608 (constants and dates)
            f" WHERE instant >= {low} AND instant < {high} RETURNING {_COLUMNS})"
            f" INSERT INTO {name} ({_COLUMNS}) SELECT {_COLUMNS} FROM moved"
        )
        moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (series_id, instant)")
        # The constraint spares ATTACH a scan of the new partition; it is redundant after.
        cursor.execute(
            f"ALTER TABLE {name} ADD CONSTRAINT {name}_range"
            f" CHECK (instant >= {low} AND instant < {high})"
        )
        cursor.execute(
            f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ({low}) TO ({high})"
        )
        cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")
    return max(moved, 0)


# ---- the live move (migration 0005) ------------------------------------------------------------


def partition_live_table(
    using: str = DEFAULT_DB_ALIAS,
    *,
    today: date | None = None,
    chunk_rows: int = COPY_CHUNK_ROWS,
    between_chunks: Callable[[int], None] | None = None,
) -> int:
    """Turn the plain readings table into the partitioned one while it is read and written; the
    rows copied. A no-op on SQLite and on a table already partitioned.

    1. The new table is made beside the old one (``devices_reading_partitioned``) with a
       partition for every year that holds rows (found by index probes: each series' first
       reading, then its first in the next year with any, and so on) and the years around now.
    2. Triggers on the old table mirror every write (insert, update, delete, truncate) into the
       new one from then on. Creating them waits for the writes in flight to commit.
    3. The rows are copied range of series after range of series (about ``chunk_rows`` each),
       one short transaction each that holds off writers (SHARE lock) so the copy sees a settled
       range: a write after it is mirrored onto the copied row, a write before it is in the
       copy. ON CONFLICT DO NOTHING keeps a mirrored row already there (it is the newer).
    4. One short transaction locks the old table, drops the triggers and swaps the names; the
       old table is dropped. Readers wait only for this step.
    5. Rows that fell in no year (a series' write into a year not foreseen) are moved out of
       the default partition by :func:`ensure_partitions`.

    ``between_chunks`` (tests) is called with the rows copied so far after each chunk commits.
    Interrupted, it can simply run again: the new table is dropped and made afresh.
    """
    if not _postgresql(using) or is_partitioned(using):
        return 0
    connection = connections[using]
    _drop_moving(using)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE ids(series_id) AS ("  # noqa: S608 (constants)
            f" SELECT min(series_id) FROM {TABLE}"
            f" UNION ALL SELECT (SELECT min(series_id) FROM {TABLE} WHERE series_id > ids.series_id)"
            f" FROM ids WHERE ids.series_id IS NOT NULL)"
            f" SELECT series_id,"
            f" (SELECT min(instant) FROM {TABLE} r WHERE r.series_id = ids.series_id),"
            f" (SELECT max(instant) FROM {TABLE} r WHERE r.series_id = ids.series_id)"
            f" FROM ids WHERE series_id IS NOT NULL ORDER BY series_id"
        )
        spans: list[tuple[int, datetime, datetime]] = cursor.fetchall()
        years = years_around(today or datetime.now(UTC), MONTHS_BACK, MONTHS_AHEAD)
        years |= _years_with_rows(cursor, spans)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _create_moving(cursor, sorted(years))
    copied = 0
    for low, high in _chunks(spans, chunk_rows):
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")
            where = " AND ".join(
                ([] if low is None else [f"series_id >= {int(low)}"])
                + ([] if high is None else [f"series_id < {int(high)}"])
            )
            cursor.execute(
                f"INSERT INTO {_MOVING} ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}"  # noqa: S608
                f"{' WHERE ' + where if where else ''}"
                " ON CONFLICT (series_id, instant) DO NOTHING"
            )
            copied += max(cursor.rowcount, 0)
        if between_chunks is not None:
            between_chunks(copied)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {_MOVING}")
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        for event in ("insert", "update", "delete", "truncate"):
            cursor.execute(f"DROP TRIGGER {_MIRROR}_{event} ON {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {_LEGACY}")
        # Its key's index frees the name devices_reading_pkey for the new table's (an old
        # database's key may carry another name: then there is nothing to free).
        cursor.execute(
            "SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conname = %s",
            [_LEGACY, f"{TABLE}_pkey"],
        )
        if cursor.fetchone():
            cursor.execute(
                f"ALTER TABLE {_LEGACY} RENAME CONSTRAINT {TABLE}_pkey TO {_LEGACY}_pkey"
            )
        cursor.execute(f"ALTER TABLE {_MOVING} RENAME TO {TABLE}")
        cursor.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {_MOVING}_pkey TO {TABLE}_pkey")
        cursor.execute(f"DROP TABLE {_LEGACY}")
        for event in ("insert", "update", "delete", "truncate"):
            cursor.execute(f"DROP FUNCTION {_MIRROR}_{event}()")
    ensure_partitions(using, today=today)
    log.info("%s is partitioned by year: %d rows copied", TABLE, copied)
    return copied


def _years_with_rows(
    cursor: CursorWrapper, spans: list[tuple[int, datetime, datetime]]
) -> set[int]:
    """The UTC years in which some series has readings: one probe of the key per series and
    year with data (a loose index scan), not a scan of the table."""
    if not spans:
        return set()
    cursor.execute(
        "WITH RECURSIVE steps(series_id, year) AS ("  # noqa: S608 (constants)
        " SELECT s, date_trunc('year', f, 'UTC') FROM unnest(%s::bigint[], %s::timestamptz[])"
        " AS u(s, f)"
        " UNION ALL SELECT series_id, date_trunc('year', (SELECT min(instant)"
        f" FROM {TABLE} r WHERE r.series_id = steps.series_id AND r.instant >="
        " (steps.year AT TIME ZONE 'UTC' + interval '1 year') AT TIME ZONE 'UTC'), 'UTC')"
        " FROM steps WHERE year IS NOT NULL)"
        " SELECT DISTINCT year FROM steps WHERE year IS NOT NULL",
        [[series_id for series_id, _, _ in spans], [first for _, first, _ in spans]],
    )
    return {row[0].astimezone(UTC).year for row in cursor.fetchall()}


def _chunks(
    spans: list[tuple[int, datetime, datetime]], chunk_rows: int
) -> list[tuple[int | None, int | None]]:
    """Ranges of series_id [low, high) of about ``chunk_rows`` readings each (a series holds at
    most one reading an hour of its span), the first and last open so every row is in one."""
    starts: list[int] = []
    rows = 0
    for series_id, first, last in spans:
        if not starts or rows >= chunk_rows:
            starts.append(series_id)
            rows = 0
        rows += int((last - first).total_seconds() // 3600) + 1
    if not starts:
        return [(None, None)]
    bounds: list[int | None] = [None, *starts[1:], None]
    return list(pairwise(bounds))


def _create_moving(cursor: CursorWrapper, years: list[int]) -> None:
    """The partitioned table, its partitions, and the triggers mirroring the old table into it
    (statement-level, with transition tables: one statement per COPY, not one per row)."""
    run = cursor.execute
    run(
        f"CREATE TABLE {_MOVING} (instant timestamptz NOT NULL, value_kwh float8 NOT NULL,"
        f" series_id bigint NOT NULL, CONSTRAINT {_MOVING}_pkey PRIMARY KEY (series_id, instant))"
        " PARTITION BY RANGE (instant)"
    )
    for year in years:
        low, high = _bounds(year)
        run(
            f"CREATE TABLE {partition_name(year)} PARTITION OF {_MOVING}"
            f" FOR VALUES FROM ({low}) TO ({high}) WITH ({AUTOVACUUM})"
        )
    run(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF {_MOVING} DEFAULT WITH ({AUTOVACUUM})")
    upsert = (
        f"INSERT INTO {_MOVING} ({_COLUMNS}) SELECT {_COLUMNS} FROM changed"  # noqa: S608
        " ON CONFLICT (series_id, instant) DO UPDATE SET value_kwh = excluded.value_kwh"
    )
    forget = (
        f"DELETE FROM {_MOVING} m USING gone g"  # noqa: S608 (constants)
        " WHERE m.series_id = g.series_id AND m.instant = g.instant"
    )
    bodies = {
        "insert": (upsert, "REFERENCING NEW TABLE AS changed"),
        # A changed key leaves its old row behind: delete the old keys, upsert the new rows.
        "update": (
            f"{forget} AND NOT EXISTS (SELECT FROM changed c"
            " WHERE c.series_id = g.series_id AND c.instant = g.instant); " + upsert,
            "REFERENCING OLD TABLE AS gone NEW TABLE AS changed",
        ),
        "delete": (forget, "REFERENCING OLD TABLE AS gone"),
        "truncate": (f"TRUNCATE {_MOVING}", ""),
    }
    for event, (body, referencing) in bodies.items():
        run(
            f"CREATE FUNCTION {_MIRROR}_{event}() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN {body}; RETURN NULL; END $$"
        )
        run(
            f"CREATE TRIGGER {_MIRROR}_{event} AFTER {event.upper()} ON {TABLE} {referencing}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {_MIRROR}_{event}()"
        )


def _drop_moving(using: str) -> None:
    """What an interrupted move left: the triggers, their functions and the new table."""
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for event in ("insert", "update", "delete", "truncate"):
            cursor.execute(f"DROP TRIGGER IF EXISTS {_MIRROR}_{event} ON {TABLE}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {_MIRROR}_{event}()")
        cursor.execute(f"DROP TABLE IF EXISTS {_MOVING}")


def unpartition(using: str = DEFAULT_DB_ALIAS) -> int:
    """Back to one plain table (migration 0005 reversed): one transaction that blocks the table
    while every row is copied, for development and tests, not for a live database. The rows."""
    if not is_partitioned(using):
        return 0
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TABLE {_LEGACY} (instant timestamptz NOT NULL, value_kwh float8 NOT NULL,"
            " series_id bigint NOT NULL)"
        )
        cursor.execute(
            f"INSERT INTO {_LEGACY} ({_COLUMNS}) SELECT {_COLUMNS} FROM {TABLE}"  # noqa: S608
            " ORDER BY series_id, instant"
        )
        rows = max(cursor.rowcount, 0)
        cursor.execute(f"DROP TABLE {TABLE}")
        cursor.execute(f"ALTER TABLE {_LEGACY} RENAME TO {TABLE}")
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (series_id, instant)"
        )
    return rows
