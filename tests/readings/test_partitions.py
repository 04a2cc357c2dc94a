"""The readings table's yearly partitions (readings/partitions.py, migration readings 0008).

On PostgreSQL ``devices_reading`` is partitioned by year of ``instant`` with a default partition;
the migration moves a live table's rows while it is written, and the hourly maintenance makes
years ahead and moves rows out of the default partition. SQLite keeps one plain table: the
PostgreSQL tests are skipped there, and the tests at the top show everything is a no-op.
"""

from __future__ import annotations

import random
import re
import threading
import time
from array import array
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from readings import charts, partitions
from readings.counts import StoreCounts
from readings.models import Reading, Series
from readings.parser import HourlyReadings
from readings.store import series_for, store_readings
from readings.tasks import ensure_partitions as ensure_task
from tests.factories import DeviceFactory

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="partitions exist only on PostgreSQL; run with DATABASE_URL=postgres://...",
)
PARTITION = re.compile(r"devices_reading_(?:y\d{4}|default)")


def readings_at(first: datetime, hours: int, value: float | None = None) -> HourlyReadings:
    start = int(first.timestamp())
    return HourlyReadings(
        array("q", [start + 3600 * n for n in range(hours)]),
        array("d", [value if value is not None else 1.0 + n / 1000 for n in range(hours)]),
    )


def stored(series_id: int) -> dict[datetime, float]:
    return dict(Reading.objects.filter(series_id=series_id).values_list("instant", "value_kwh"))


def homes_of_rows(series_id: int) -> dict[str, int]:
    """Rows of a series per partition holding them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text, count(*) FROM devices_reading"
            " WHERE series_id = %s GROUP BY 1",
            [series_id],
        )
        return dict(cursor.fetchall())


def table_rows() -> dict[tuple[int, datetime], float]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT series_id, instant, value_kwh FROM devices_reading")
        return {(s, at): value for s, at, value in cursor.fetchall()}


@pytest.fixture
def series(org) -> Series:
    return series_for(DeviceFactory(organization=org))


# ---- everywhere ------------------------------------------------------------------------------


def test_years_and_names():
    assert partitions.month_of(datetime(2025, 1, 31, 23, 30, tzinfo=UTC)) == date(2025, 1, 1)
    # A New York evening on the 31st is already February in UTC: the window counts UTC months.
    late = datetime(2025, 1, 31, 20, 0, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert partitions.month_of(late + timedelta(hours=5)) == date(2025, 2, 1)
    assert partitions.add_months(date(2025, 11, 1), 3) == date(2026, 2, 1)
    assert partitions.add_months(date(2025, 1, 1), -1) == date(2024, 12, 1)
    assert partitions.partition_name(2019) == "devices_reading_y2019"
    # Next year's partition is made three months ahead; last year's stays in the window a year.
    assert partitions.years_around(date(2025, 10, 1), 12, 3) == {2024, 2025, 2026}
    assert partitions.years_around(date(2025, 9, 30), 0, 3) == {2025}


def test_the_copy_chunks_cover_every_series_id():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    # Series 1-3 hold 100 hours each, series 9 one: chunks of ~200 rows.
    spans = [(n, at, at + timedelta(hours=99)) for n in (1, 2, 3)] + [(9, at, at)]
    assert partitions._chunks(spans, 200) == [(None, 3), (3, None)]
    assert partitions._chunks(spans, 10**9) == [(None, None)]
    assert partitions._chunks([], 200) == [(None, None)]  # an empty table: one (empty) copy


def test_the_beat_runs_the_maintenance_hourly():
    entry = next(
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "readings.tasks.ensure_partitions"
    )
    assert entry["schedule"] == 3600.0
    assert ensure_task.name == "readings.tasks.ensure_partitions"


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite keeps one plain table")
def test_sqlite_keeps_one_plain_table(db, series):
    assert not partitions.is_partitioned()
    assert partitions.partitions() == []
    assert partitions.ensure_partitions() == partitions.Maintenance()
    assert partitions.partition_live_table() == 0
    assert ensure_task.delay().get() == 0
    with pytest.raises(CommandError, match="not partitioned"):
        call_command("readings_partitions", "show")
    counts = store_readings(series, readings_at(datetime(2019, 1, 1, tzinfo=UTC), 48))
    assert counts == StoreCounts(48, 0, 0)


# ---- PostgreSQL --------------------------------------------------------------------------------


@needs_postgresql
def test_the_migrated_table_is_partitioned_by_year(db):
    assert partitions.is_partitioned()
    found = partitions.partitions()
    years = {p.year for p in found if p.year is not None}
    # The years around now exist (the window of the migration / the last maintenance).
    assert partitions.years_around(datetime.now(UTC), 12, 3) <= years
    assert found[-1].name == partitions.DEFAULT_PARTITION
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s", [partitions.DEFAULT_PARTITION]
        )
        assert "autovacuum_vacuum_scale_factor=0.02" in cursor.fetchone()[0]


@needs_postgresql
def test_store_counts_are_the_same_on_the_partitioned_table(series):
    partitions.ensure_partitions(today=date(2024, 6, 1), months_back=0, months_ahead=0)
    # Across the new year from a year with no partition (the default partition takes it).
    first = datetime(2023, 12, 31, tzinfo=UTC)
    assert store_readings(series, readings_at(first, 48)) == StoreCounts(48, 0, 0)
    assert store_readings(series, readings_at(first, 48)) == StoreCounts(0, 0, 48)
    changed = readings_at(first + timedelta(hours=24), 24 * 30, value=2.0)
    assert store_readings(series, changed) == StoreCounts(24 * 29, 24, 0)
    assert homes_of_rows(series.pk) == {
        "devices_reading_default": 24,
        "devices_reading_y2024": 24 * 30,
    }
    series.refresh_from_db()
    assert series.reading_count == 24 * 31 == len(stored(series.pk))


@needs_postgresql
def test_the_maintenance_moves_an_old_upload_into_its_own_years(series):
    old = datetime(2019, 12, 31, tzinfo=UTC)
    store_readings(series, readings_at(old, 48))
    assert homes_of_rows(series.pk) == {"devices_reading_default": 48}
    before = stored(series.pk)

    done = partitions.ensure_partitions()

    assert done.moved == {"devices_reading_y2019": 24, "devices_reading_y2020": 24}
    assert {"devices_reading_y2019", "devices_reading_y2020"} <= set(done.created)
    assert homes_of_rows(series.pk) == done.moved
    assert stored(series.pk) == before
    assert partitions.default_rows() == 0
    # The moved years are real partitions: a new upload there goes straight in, keyed.
    assert store_readings(series, readings_at(old, 72, value=5.0)) == StoreCounts(24, 48, 0)
    assert homes_of_rows(series.pk)["devices_reading_y2020"] == 48
    assert partitions.ensure_partitions() == partitions.Maintenance()  # nothing left to do


@needs_postgresql
def test_the_command_shows_and_ensures(series, capsys):
    store_readings(series, readings_at(datetime(2018, 6, 1, tzinfo=UTC), 5))
    call_command("readings_partitions", "show")
    assert "5 row(s) in devices_reading_default" in capsys.readouterr().out
    call_command("readings_partitions", "ensure")
    out = capsys.readouterr().out
    assert "devices_reading_y2018" in out
    assert "5 row(s) moved out of the default partition" in out
    assert "0 row(s) in devices_reading_default" in out
    assert ensure_task.delay().get() == 0  # the beat's task: nothing more to create


def _partitions_in(plan: str) -> set[str]:
    return set(PARTITION.findall(plan))


@needs_postgresql
def test_a_device_year_reads_only_its_years(series):
    partitions.ensure_partitions(today=date(2025, 7, 1), months_back=6, months_ahead=6)
    store_readings(series, readings_at(datetime(2025, 3, 1, tzinfo=UTC), 24 * 10))
    span = charts.DateRange(date(2025, 3, 2), date(2025, 3, 8), "America/New_York")
    week = charts._readings(series, span.start_utc, span.end_utc)
    assert _partitions_in(week.order_by("instant").explain()) == {"devices_reading_y2025"}
    # A local (New York) year starts and ends at 05:00 UTC: two UTC years, no default.
    year = charts.DateRange(date(2025, 1, 1), date(2025, 12, 31), "America/New_York")
    plan = charts._readings(series, year.start_utc, year.end_utc).order_by("instant").explain()
    assert _partitions_in(plan) == {"devices_reading_y2025", "devices_reading_y2026"}
    # Every partition is read by its key, in key order: the partitions one after the other need
    # no sort of the device's rows (the planner may still sort a handful of rows it expects).
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
    plan = charts._readings(series, year.start_utc, year.end_utc).order_by("instant").explain()
    assert "Sort" not in plan
    assert "Seq Scan" not in plan
    assert plan.count("Index Scan using devices_reading_y") == 2


@needs_postgresql
def test_export_reads_each_series_in_key_order(org):
    partitions.ensure_partitions(today=date(2025, 7, 1), months_back=6, months_ahead=6)
    owner = DeviceFactory(organization=org)
    delivered, received = series_for(owner), series_for(owner, "received")
    first = datetime(2025, 3, 31, 22, tzinfo=UTC)
    store_readings(delivered, readings_at(first, 4, value=1.0))
    store_readings(received, readings_at(first, 4, value=2.0))
    with CaptureQueriesContext(connection) as queries:
        lines = list(
            charts.export_rows(
                {"delivered": delivered, "received": received}, first, first + timedelta(hours=4)
            )
        )
    reads = [q["sql"] for q in queries.captured_queries if "devices_reading" in q["sql"]]
    assert len(reads) == 2, reads
    for sql, one in zip(reads, (delivered, received), strict=True):
        assert f'"series_id" = {one.pk}' in sql
        assert sql.endswith("ORDER BY 1 ASC")  # the instant: the key after series_id
    rows = "".join(lines).splitlines()
    assert rows[0] == "datetime,channel,value_kwh"
    # Instant by instant, each with its channels in order (as before: the file reads back).
    assert [row.split(",")[1:] for row in rows[1:5]] == [
        ["delivered", "1.0"],
        ["received", "2.0"],
        ["delivered", "1.0"],
        ["received", "2.0"],
    ]
    assert len(rows) == 1 + 8


@needs_postgresql
def test_deleting_a_device_deletes_its_rows_in_every_partition(series):
    store_readings(series, readings_at(datetime(2019, 12, 31, tzinfo=UTC), 48))
    partitions.ensure_partitions()
    store_readings(series, readings_at(datetime(2018, 1, 1, tzinfo=UTC), 3))  # the default
    assert len(homes_of_rows(series.pk)) == 3
    series.owner.delete()
    assert homes_of_rows(series.pk) == {}


# ---- the live move (migration 0005) ------------------------------------------------------------


def _seed(series_ids: list[int], hours: int) -> None:
    """A few months of rows per series straight into the table, one in 2019."""
    with connection.cursor() as cursor:
        for series_id in series_ids:
            cursor.execute(
                "INSERT INTO devices_reading (series_id, instant, value_kwh)"
                " SELECT %s, h, 0.5 FROM generate_series(%s::timestamptz,"
                " %s::timestamptz + (%s - 1) * interval '1 hour', interval '1 hour') h",
                [
                    series_id,
                    datetime(2024, 11, 15, tzinfo=UTC),
                    datetime(2024, 11, 15, tzinfo=UTC),
                    hours,
                ],
            )
            cursor.execute(
                "INSERT INTO devices_reading (series_id, instant, value_kwh) VALUES (%s, %s, 9)",
                [series_id, datetime(2019, 7, 4, 12, tzinfo=UTC)],
            )


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_migration_goes_back_to_a_plain_table_and_forward_with_the_rows(org):
    ids = [series_for(DeviceFactory(organization=org)).pk for _ in range(3)]
    _seed(ids, 24 * 70)
    before = table_rows()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([("readings", "0007_fill_reading_days")])
        assert not partitions.is_partitioned()
        assert table_rows() == before
        executor = MigrationExecutor(connection)
        executor.migrate([("readings", "0008_partition_readings")])
    finally:
        partitions.partition_live_table()  # whatever happened, the next tests get their table
    assert partitions.is_partitioned()
    assert table_rows() == before
    homes = {name for s in ids for name in homes_of_rows(s)}
    assert homes == {"devices_reading_y2019", "devices_reading_y2024", "devices_reading_y2025"}
    assert partitions.default_rows() == 0
    # Years are made where rows are, not for every year between a series' first and last.
    assert "devices_reading_y2021" not in {p.name for p in partitions.partitions()}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('devices_reading_legacy'), to_regclass(%s)", [partitions._MOVING]
        )
        assert cursor.fetchone() == (None, None)
        cursor.execute("TRUNCATE devices_reading")
    assert table_rows() == {}


class Writer(threading.Thread):
    """Stores, changes and deletes readings of some series on its own connection until stopped,
    keeping what the table should hold."""

    def __init__(self, series: list[Series], expected: dict[tuple[int, datetime], float]) -> None:
        super().__init__(daemon=True)
        self.series = series
        self.expected = expected
        self.stop = threading.Event()
        self.progress = threading.Semaphore(0)
        self.error: BaseException | None = None
        self.writes = 0

    def run(self) -> None:
        pick = random.Random(21)
        try:
            while not self.stop.is_set():
                one = pick.choice(self.series)
                first = datetime(2024, 12, 1, tzinfo=UTC) + timedelta(hours=pick.randrange(24 * 62))
                if pick.random() < 0.1:  # a year the move made no partition for
                    first = datetime(2021, 3, 1, tzinfo=UTC) + timedelta(hours=pick.randrange(99))
                hours = pick.randrange(1, 80)
                if pick.random() < 0.25:
                    self._remove(one.pk, first, hours)
                else:
                    value = float(self.writes)
                    store_readings(one, readings_at(first, hours, value=value))
                    for n in range(hours):
                        self.expected[(one.pk, first + timedelta(hours=n))] = value
                self.writes += 1
                self.progress.release()
        except BaseException as exc:  # reported by the test
            self.error = exc
            self.progress.release()
        finally:
            connections.close_all()

    def _remove(self, series_id: int, first: datetime, hours: int) -> None:
        end = first + timedelta(hours=hours)
        with connections["default"].cursor() as cursor:
            cursor.execute(
                "DELETE FROM devices_reading WHERE series_id = %s AND instant >= %s AND instant < %s",
                [series_id, first, end],
            )
        for n in range(hours):
            self.expected.pop((series_id, first + timedelta(hours=n)), None)


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_writer_during_the_move_loses_nothing(org):
    chosen = [series_for(DeviceFactory(organization=org)) for _ in range(4)]
    _seed([s.pk for s in chosen], 24 * 90)
    partitions.unpartition()
    assert not partitions.is_partitioned()
    expected = table_rows()
    writer = Writer(chosen, expected)
    chunks: list[int] = []

    def between_chunks(copied: int) -> None:
        chunks.append(copied)
        for _ in range(3):  # some writes land between chunks, more while the next one copies
            writer.progress.acquire(timeout=30)

    writer.start()
    try:
        # One series a chunk: every series is copied in its own transaction.
        partitions.partition_live_table(chunk_rows=1, between_chunks=between_chunks)
    finally:
        writer.stop.set()
        writer.join(timeout=60)
        partitions.partition_live_table()
    assert writer.error is None, writer.error
    assert len(chunks) == 4
    assert writer.writes >= 12
    assert partitions.is_partitioned()
    assert table_rows() == expected
    # The rows the writer put in years the move did not foresee wait in the default partition
    # no longer: the move ended with the maintenance.
    assert partitions.default_rows() == 0


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_delete_in_flight_when_its_rows_are_copied_stays_deleted(org):
    # A transaction deletes rows of the next chunk's series and commits only after that chunk's
    # copy has started: the copy waits for it (else it would copy rows deleted since).
    chosen = [series_for(DeviceFactory(organization=org)) for _ in range(2)]
    _seed([s.pk for s in chosen], 24 * 10)
    partitions.unpartition()
    doomed = chosen[1].pk
    deleted = threading.Event()
    errors: list[BaseException] = []

    def delete_slowly() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM devices_reading WHERE series_id = %s", [doomed])
                deleted.set()
                time.sleep(1.0)  # the copy of the series starts meanwhile
        except BaseException as exc:  # reported by the test
            errors.append(exc)
            deleted.set()
        finally:
            connections.close_all()

    deleter = threading.Thread(target=delete_slowly, daemon=True)

    def between_chunks(copied: int) -> None:
        if not deleter.is_alive() and not deleted.is_set():
            deleter.start()
            deleted.wait(timeout=30)

    try:
        partitions.partition_live_table(chunk_rows=1, between_chunks=between_chunks)
    finally:
        deleter.join(timeout=60)
        partitions.partition_live_table()
    assert errors == []
    assert homes_of_rows(doomed) == {}
    assert len(stored(chosen[0].pk)) == 24 * 10 + 1


@needs_postgresql
@pytest.mark.django_db(transaction=True)
def test_an_interrupted_move_runs_again(org):
    chosen = [series_for(DeviceFactory(organization=org)) for _ in range(3)]
    _seed([s.pk for s in chosen], 24 * 5)
    partitions.unpartition()
    before = table_rows()

    def interrupt(copied: int) -> None:
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            partitions.partition_live_table(chunk_rows=1, between_chunks=interrupt)
        # The old table is still the table, its triggers still mirror; writes go on.
        assert not partitions.is_partitioned()
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM devices_reading WHERE series_id = %s", [chosen[2].pk])
    finally:
        copied = partitions.partition_live_table()
    assert copied == len(before) - (24 * 5 + 1)
    assert table_rows() == {k: v for k, v in before.items() if k[0] != chosen[2].pk}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'devices_reading_mirror%%'"
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["ensure", "--months-ahead", "100000"], "--months-ahead takes 0 to 1200 months"),
        (["ensure", "--months-back", "-3"], "--months-back takes 0 to 1200 months"),
        (["show", "--database", "elsewhere"], "No database is configured as 'elsewhere'"),
    ],
)
def test_the_command_refuses_what_it_cannot_do_naming_the_option(args, said):
    with pytest.raises(CommandError, match=said):
        call_command("readings_partitions", *args)
