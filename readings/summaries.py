"""Day summaries of the readings (``ReadingDay``): kept by the store, read by the dashboard.

Each series has one row per UTC day it has readings on: their sum and their count. The store
(``readings.store``) keeps the rows current in the transaction that writes the readings, with
work in proportion to what it wrote: a file whose every reading was new adds its own per-day
sums (:func:`add_days`); otherwise the days between the first and the last reading that changed
are recomputed from the readings of those days (:func:`refresh_days`). Deleting a series deletes
its days (the cascade). :func:`rebuild` recomputes everything (``manage.py
rebuild_reading_summaries``, an operator's repair after writing readings by hand).

:func:`totals` answers "the sum and count of the readings from ``start`` (to ``end``)" for any
set of series: the whole UTC days in between from the summaries, and the hours at each edge
from the readings of those hours only (a month begins at the organization's midnight, which is
rarely a UTC midnight: New York's is 05:00 UTC, Kolkata's 18:30). Counts are exact; sums are the
same sums added in another order (equal to the last bits of a double).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from django.db import connections, router, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.expressions import Combinable

from portal.models import Organization

from .models import Reading, ReadingDay, Series
from .pgcopy import execute_with_columns

DAY_S = 86_400
_DAY = timedelta(days=1)
_EPOCH_DAY = date(1970, 1, 1)

# Series per statement when rebuilding (each statement reads all their readings).
_REBUILD_BATCH = 100


@dataclass(frozen=True, slots=True)
class Totals:
    """The sum (kWh) and the count of some readings."""

    kwh: float = 0.0
    count: int = 0


def _tables(using: str) -> tuple[Any, str, str, str]:
    db = connections[using]
    quote = db.ops.quote_name
    day = (
        "(instant AT TIME ZONE 'UTC')::date"
        if db.vendor == "postgresql"
        else "date(instant)"  # SQLite keeps an aware datetime as its UTC text
    )
    return db, quote(ReadingDay._meta.db_table), quote(Reading._meta.db_table), day


def add_days(
    using: str,
    series: Series,
    epochs: array[int] | np.ndarray,
    values: array[float] | np.ndarray,
    counts: np.ndarray | None = None,
) -> None:
    """Add to the series' days what a store changed, sorted by instant: readings that were all
    new (``counts`` None: one reading each), or a store's deltas (``readings.counts.Deltas``:
    the kWh each instant added and whether it was a new reading). Per-day sums, upserted."""
    if not len(epochs):
        return
    db, days_table, _, _ = _tables(using)
    day_list, sums, added = _per_day(_column(epochs, np.int64), _column(values, np.float64), counts)
    upsert = (
        f"INSERT INTO {days_table} (series_id, organization_id, day, kwh, reading_count) {{rows}}"
        " ON CONFLICT (series_id, day) DO UPDATE"
        f" SET kwh = {days_table}.kwh + excluded.kwh,"
        f" reading_count = {days_table}.reading_count + excluded.reading_count"
    )
    if db.vendor == "postgresql":
        # One statement, the days as three binary arrays (a row per day would be a round trip
        # each; a list per column, a Python object per day and their text).
        execute_with_columns(
            db,
            upsert.format(
                rows="SELECT %s, %s, DATE '1970-01-01' + d::int4, k, c"
                " FROM unnest(%s::int8[], %s::float8[], %s::int8[]) AS t(d, k, c)"
            ),
            [series.pk, series.organization_id],
            [day_list, sums, added],
        )
        return
    firsts = [_EPOCH_DAY + timedelta(days=n) for n in day_list.tolist()]
    with db.cursor() as cursor:
        cursor.executemany(
            upsert.format(rows="VALUES (%s, %s, %s, %s, %s)"),
            [
                (series.pk, series.organization_id, db.ops.adapt_datefield_value(day), k, n)
                for day, k, n in zip(firsts, sums.tolist(), added.tolist(), strict=True)
            ],
        )


# Readings per block when adding them up by day: whole-file temporaries of a 100 MB file would
# hold tens of MB at once (see readings.parser.hourly).
_BLOCK = 1 << 18


def _column(column: Any, dtype: type) -> np.ndarray:
    if isinstance(column, np.ndarray):
        return column
    return np.frombuffer(column, dtype=dtype) if len(column) else np.zeros(0, dtype)


def _per_day(
    seconds: np.ndarray, kwh: np.ndarray, counts: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The UTC day numbers (since 1970) of sorted instants, with each day's kWh and count (of
    ``counts``, else one a reading), a block of readings at a time."""
    days, sums, added = [], [], []
    for at in range(0, len(seconds), _BLOCK):
        day_numbers = seconds[at : at + _BLOCK] // DAY_S
        starts = np.flatnonzero(np.r_[True, day_numbers[1:] != day_numbers[:-1]])
        days.append(day_numbers[starts])
        sums.append(np.add.reduceat(kwh[at : at + _BLOCK], starts))
        added.append(
            np.diff(np.r_[starts, len(day_numbers)])
            if counts is None
            else np.add.reduceat(np.asarray(counts[at : at + _BLOCK], dtype=np.int64), starts)
        )
    # A day split by a block's edge is one day: the blocks' few rows, summed again by day.
    unique, where = np.unique(np.concatenate(days), return_inverse=True)
    return (
        unique,
        np.bincount(where, weights=np.concatenate(sums), minlength=len(unique)),
        np.bincount(where, weights=np.concatenate(added), minlength=len(unique)).astype(np.int64),
    )


def refresh_days(using: str, series: Series, first: int | None, last: int | None) -> None:
    """Recompute the series' days from the UTC day of epoch ``first`` to that of ``last`` from
    its readings of those days (both None: all its days). Two statements."""
    db, days_table, readings_table, day = _tables(using)
    where, params = "series_id = %s", [series.organization_id, series.pk]
    day_where, day_params = "series_id = %s", [series.pk]
    if first is not None and last is not None:
        low = first - first % DAY_S
        high = last - last % DAY_S + DAY_S
        where += " AND instant >= %s AND instant < %s"
        params += [db.ops.adapt_datetimefield_value(_utc(t)) for t in (low, high)]
        day_where += " AND day >= %s AND day < %s"
        day_params += [
            db.ops.adapt_datefield_value(_EPOCH_DAY + timedelta(days=t // DAY_S))
            for t in (low, high)
        ]
    with db.cursor() as cursor:
        cursor.execute(f"DELETE FROM {days_table} WHERE {day_where}", day_params)  # noqa: S608
        cursor.execute(
            f"INSERT INTO {days_table} (series_id, organization_id, day, kwh, reading_count)"  # noqa: S608
            f" SELECT series_id, %s, {day}, SUM(value_kwh), COUNT(*) FROM {readings_table}"
            f" WHERE {where} GROUP BY series_id, {day}",
            params,
        )


def rebuild(using: str | None = None, series_ids: Iterable[int] | None = None) -> int:
    """Recompute the days of every series (or of ``series_ids``) from the readings, a batch of
    series per transaction, each batch's series locked as a store locks one (a store running
    meanwhile waits, then keeps its days current itself). Returns how many series."""
    using = using or router.db_for_write(ReadingDay)
    series = Series.objects.using(using).order_by("pk")
    if series_ids is not None:
        series = series.filter(pk__in=list(series_ids))
    ids = list(series.values_list("pk", flat=True))
    db, days_table, readings_table, day = _tables(using)
    series_table = db.ops.quote_name(Series._meta.db_table)
    for start in range(0, len(ids), _REBUILD_BATCH):
        batch = ids[start : start + _REBUILD_BATCH]
        marks = ", ".join(["%s"] * len(batch))
        with transaction.atomic(using=using):
            list(
                Series.objects.using(using)
                .select_for_update(no_key=True)
                .filter(pk__in=batch)
                .values_list("pk", flat=True)
            )
            with db.cursor() as cursor:
                cursor.execute(f"DELETE FROM {days_table} WHERE series_id IN ({marks})", batch)  # noqa: S608
                cursor.execute(
                    f"INSERT INTO {days_table}"  # noqa: S608
                    " (series_id, organization_id, day, kwh, reading_count)"
                    f" SELECT r.series_id, s.organization_id, {day}, SUM(r.value_kwh), COUNT(*)"
                    f" FROM {readings_table} r JOIN {series_table} s ON s.id = r.series_id"
                    f" WHERE r.series_id IN ({marks}) GROUP BY r.series_id, s.organization_id, {day}",
                    batch,
                )
    return len(ids)


def totals(
    organization: Organization,
    where: Q,
    start: datetime,
    end: datetime | None = None,
    group: str | Combinable | None = None,
) -> dict[Any, Totals]:
    """The sum and count of the readings with ``start <= instant`` (``< end`` when given) of the
    organization's series that ``where`` selects (lookups through ``series__``, as on Reading),
    by ``group`` (a lookup or an expression on the same terms; None: one total, under the key
    None).

    Whole UTC days come from the summaries (one range of the organization's days in their
    index); the hours at an edge from the readings, by the shorter way: the hours between the
    edge and the next midnight are added, or the day holding the edge is taken whole and the
    hours before the edge taken off (at most twelve hours of readings per series at each edge).
    Spans under two days are read from the readings.
    """
    key = F(group) if isinstance(group, str) else group
    parts: list[tuple[int, Any]] = []  # (sign, values queryset with key, kwh and n)
    where &= Q(series__organization=organization)

    def readings(low: datetime, high: datetime | None, sign: int = 1) -> None:
        rows = Reading.objects.filter(where, instant__gte=low)
        if high is not None:
            rows = rows.filter(instant__lt=high)
        parts.append((sign, _grouped(rows, key, Sum("value_kwh"), Count("*"))))

    if end is not None and end - start < 2 * _DAY:
        if end > start:
            readings(start, end)
        return _combine(parts)
    first_day = _midnight(start)
    if start - first_day > _DAY / 2:
        readings(start, first_day + _DAY)
        first_day += _DAY
    elif start > first_day:
        readings(first_day, start, -1)
    # The organization's own column, so that its days are one index range whatever the plan.
    days = ReadingDay.objects.filter(where, organization=organization, day__gte=first_day.date())
    if end is not None:
        last_day = _midnight(end)  # the summaries run to this midnight, excluded
        if last_day + _DAY - end < _DAY / 2:
            readings(end, last_day + _DAY, -1)
            last_day += _DAY
        elif end > last_day:
            readings(last_day, end)
        days = days.filter(day__lt=last_day.date())
    parts.append((1, _grouped(days, key, Sum("kwh"), Sum("reading_count"))))
    return _combine(parts)


def _grouped(rows: Any, key: Any, kwh: Any, n: Any) -> Any:
    rows = rows.order_by()
    if key is None:
        return [rows.aggregate(kwh=kwh, n=n) | {"key": None}]
    return rows.values(key=key).annotate(kwh=kwh, n=n)


def _combine(parts: list[tuple[int, Any]]) -> dict[Any, Totals]:
    kwh: dict[Any, float] = defaultdict(float)
    count: dict[Any, int] = defaultdict(int)
    for sign, rows in parts:
        for row in rows:
            if not row["n"]:
                continue
            kwh[row["key"]] += sign * (row["kwh"] or 0.0)
            count[row["key"]] += sign * row["n"]
    return {k: Totals(kwh[k], count[k]) for k in count if count[k]}


def _midnight(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
