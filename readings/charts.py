"""Reading aggregates for the charts of a device or meter page, computed in the database.

Totals are grouped by the series' *local* day or month: Django's ``TruncDate``/``TruncMonth``
with ``tzinfo`` become ``DATE_TRUNC(...) / ::date`` on ``instant AT TIME ZONE 'zone'`` on
PostgreSQL, and Django's own timezone-aware SQL functions on SQLite (the portable fallback), so
a 23-hour spring day and a 25-hour autumn day are summed as the site sees them. Only the small
per-bucket results come back to Python, where each bucket learns how many hours it should have
(from zoneinfo), so a missing hour and a daylight-saving day are never confused.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, Max, Min, Sum
from django.db.models.functions import ExtractHour, TruncDate, TruncMonth

from .models import Reading, Series

# What one request may chart: a year of hourly points (uPlot draws 9k points easily) and a
# heat map of a year of days; monthly totals cover the whole series up to ten years.
MAX_RANGE_DAYS = 366
MAX_MONTHS = 120
DEFAULT_RANGE_DAYS = 31
BUCKETS = ("hour", "day", "month", "coverage")
# Heat map cell classes: what an hour is, then how much energy it holds (five steps of the
# range's largest hourly value). A fixed set, styled in portal.css (no inline style).
HEAT_LEVELS = 5


class RangeError(ValueError):
    """A chart or export range the user typed that can't be used; the message says why."""


@dataclass(frozen=True, slots=True)
class DateRange:
    """Local calendar days ``start`` to ``end``, both included, in ``tz``."""

    start: date
    end: date
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start, self.zone)

    @property
    def end_utc(self) -> datetime:
        """The instant after the range (the next day's local midnight)."""
        return local_midnight(self.end + timedelta(days=1), self.zone)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of a daily or monthly chart: local start, kWh, hours present and expected."""

    start: date
    value_kwh: float
    hours: int
    expected_hours: int

    @property
    def complete(self) -> bool:
        return self.hours >= self.expected_hours


@dataclass(frozen=True, slots=True)
class HeatCell:
    """One local hour of one local day in the coverage heat map."""

    hour: int
    css: str  # "hm-none" (no such hour), "hm-out", "hm-missing", "hm-partial", "hm-1".."hm-5"
    present: int
    expected: int
    value_kwh: float | None


@dataclass(frozen=True, slots=True)
class HeatDay:
    """A column of the heat map: a local day, its hours, and what it lacks."""

    day: date
    cells: tuple[HeatCell, ...]
    present: int
    expected: int
    missing: int = 0  # hours without their reading between the series' first and last
    outside: int = 0  # hours before the first reading or after the last

    @property
    def label(self) -> str:
        text = f"{self.day:%a %Y-%m-%d}: {self.present} of {self.expected} hours"
        if self.expected != 24:
            text += f" ({self.expected}-hour day: daylight saving)"
        if self.missing:
            text += f", {self.missing} missing"
        if self.outside and self.present:
            text += f" ({self.outside} before or after the data)"
        return text


# ---- time helpers ---------------------------------------------------------------------------


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a local day starts (fold=0: a skipped midnight starts at the change)."""
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def hours_in_day(day: date, zone: ZoneInfo) -> int:
    return round(
        (local_midnight(day + timedelta(days=1), zone) - local_midnight(day, zone)).total_seconds()
        / 3600
    )


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def hours_in_month(month: date, zone: ZoneInfo) -> int:
    return round(
        (local_midnight(_next_month(month), zone) - local_midnight(month, zone)).total_seconds()
        / 3600
    )


# Days outside these years are refused: the first and last days Python can represent overflow
# on the way to UTC, and no series holds readings that old or that far ahead.
FIRST_YEAR, LAST_YEAR = 1900, 2199


def _parse_day(text: str, what: str) -> date:
    """The whole of `text` as a date (2024-03-01) or a date and time (its date as written)."""
    cleaned = text.strip()
    try:
        try:
            day = date.fromisoformat(cleaned)
        except ValueError:
            day = datetime.fromisoformat(cleaned).date()
    except ValueError as exc:
        raise RangeError(f"The {what} date {text[:40]!r} is not a date like 2024-03-01.") from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise RangeError(f"The {what} date must be between {FIRST_YEAR} and {LAST_YEAR}.")
    return day


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a series holds: its first and last hour (UTC) and how many readings."""

    first: datetime | None
    last: datetime | None
    count: int


def series_bounds(series: Series | Mapping[str, Series] | None) -> Bounds:
    """Counted from the readings themselves (one index range scan of each series' key); of
    every channel when given an owner's series by channel."""
    if series is None:
        return Bounds(None, None, 0)
    ids = [s.pk for s in series.values()] if isinstance(series, Mapping) else [series.pk]
    if not ids:
        return Bounds(None, None, 0)
    found = Reading.objects.filter(series_id__in=ids).aggregate(
        first=Min("instant"), last=Max("instant"), count=Count("instant")
    )
    return Bounds(found["first"], found["last"], found["count"])


def series_range(
    bounds: Bounds,
    tz: str,
    start: str | None = None,
    end: str | None = None,
    *,
    default_days: int = DEFAULT_RANGE_DAYS,
    max_days: int | None = MAX_RANGE_DAYS,
) -> DateRange:
    """The range the user asked for (``YYYY-MM-DD`` strings, both days included), else the last
    ``default_days`` of the series' data (or up to today when it has none)."""
    zone = ZoneInfo(tz)
    last_day = (
        bounds.last.astimezone(zone).date()
        if bounds.last is not None
        else datetime.now(zone).date()
    )
    end_day = _parse_day(end, "end") if end else None
    start_day = _parse_day(start, "start") if start else None
    if end_day is None:
        end_day = last_day if start_day is None else start_day + timedelta(days=default_days - 1)
    if start_day is None:
        start_day = end_day - timedelta(days=default_days - 1)
    if start_day > end_day:
        raise RangeError("The start date is after the end date.")
    if max_days is not None and (end_day - start_day).days + 1 > max_days:
        raise RangeError(f"Choose at most {max_days} days (a year) at a time.")
    return DateRange(start_day, end_day, tz)


# ---- queries --------------------------------------------------------------------------------


def _readings(series: Series, start: datetime, end: datetime):
    return Reading.objects.filter(series=series, instant__gte=start, instant__lt=end)


def hourly_points(series: Series, span: DateRange) -> tuple[list[int], list[float]]:
    """The hourly readings of the range: UTC epoch seconds and kWh (they are hourly already)."""
    rows = _readings(series, span.start_utc, span.end_utc).order_by("instant")
    xs: list[int] = []
    ys: list[float] = []
    for instant, value in rows.values_list("instant", "value_kwh").iterator(chunk_size=5000):
        xs.append(int(instant.timestamp()))
        ys.append(value)
    return xs, ys


def daily_totals(series: Series, span: DateRange) -> list[Bucket]:
    """kWh per local day of the range, summed in the database; days without data included."""
    zone = span.zone
    rows = (
        _readings(series, span.start_utc, span.end_utc)
        .annotate(bucket=TruncDate("instant", tzinfo=zone))
        .values("bucket")
        .annotate(total=Sum("value_kwh"), hours=Count("instant"))
        .order_by("bucket")
    )
    found = {row["bucket"]: row for row in rows}
    out = []
    day = span.start
    while day <= span.end:
        row = found.get(day)
        out.append(
            Bucket(
                day,
                row["total"] if row else 0.0,
                row["hours"] if row else 0,
                hours_in_day(day, zone),
            )
        )
        day += timedelta(days=1)
    return out


def monthly_totals(
    series: Series, tz: str, bounds: Bounds, *, months: int = MAX_MONTHS
) -> list[Bucket]:
    """kWh per local calendar month over the series' whole span (its last ``months``)."""
    if bounds.first is None or bounds.last is None:
        return []
    zone = ZoneInfo(tz)
    last = bounds.last.astimezone(zone).date().replace(day=1)
    first = bounds.first.astimezone(zone).date().replace(day=1)
    floor = last
    for _ in range(months - 1):
        floor = (floor - timedelta(days=1)).replace(day=1)
    first = max(first, floor)
    rows = (
        _readings(series, local_midnight(first, zone), local_midnight(_next_month(last), zone))
        .annotate(bucket=TruncMonth("instant", tzinfo=zone, output_field=DateField()))
        .values("bucket")
        .annotate(total=Sum("value_kwh"), hours=Count("instant"))
        .order_by("bucket")
    )
    found = {row["bucket"]: row for row in rows}
    out = []
    month = first
    while month <= last:
        row = found.get(month)
        out.append(
            Bucket(
                month,
                row["total"] if row else 0.0,
                row["hours"] if row else 0,
                hours_in_month(month, zone),
            )
        )
        month = _next_month(month)
    return out


def _local_hours(day: date, zone: ZoneInfo) -> list[list[datetime]]:
    """The UTC starts of each local wall-clock hour 0-23 on ``day``: none for the hour the
    clocks skip, two for the hour they repeat."""
    hours: list[list[datetime]] = [[] for _ in range(24)]
    moment = local_midnight(day, zone)
    end = local_midnight(day + timedelta(days=1), zone)
    while moment < end:
        hours[moment.astimezone(zone).hour].append(moment)
        moment += timedelta(hours=1)
    return hours


def coverage(series: Series, span: DateRange, bounds: Bounds) -> list[HeatDay]:
    """The heat map: for each local day and local hour, the readings present (grouped in the
    database) against the hours that exist (zoneinfo), and an energy level for the colour."""
    zone = span.zone
    rows = (
        _readings(series, span.start_utc, span.end_utc)
        .annotate(
            day=TruncDate("instant", tzinfo=zone),
            hour=ExtractHour("instant", tzinfo=zone),
        )
        .values("day", "hour")
        .annotate(total=Sum("value_kwh"), n=Count("instant"))
        .order_by()
    )
    found = {(row["day"], row["hour"]): (row["n"], row["total"]) for row in rows}
    peak = max((abs(total) for n, total in found.values() if n), default=0.0)
    first, last = bounds.first, bounds.last
    days: list[HeatDay] = []
    day = span.start
    while day <= span.end:
        instants = _local_hours(day, zone)
        expected = [len(starts) for starts in instants]
        cells = []
        present_total = missing = out_of_range = 0
        for hour in range(24):
            n, total = found.get((day, hour), (0, None))
            present_total += n
            # Before the series' first reading or after its last, an hour is not a gap.
            outside = (
                first is None
                or last is None
                or all(start < first or start > last for start in instants[hour])
            )
            if expected[hour] == 0:
                css = "hm-none"
            elif n == 0:
                css = "hm-out" if outside else "hm-missing"
            elif n < expected[hour]:
                css = "hm-partial"
            else:
                css = f"hm-{_level(total or 0.0, peak)}"
            if css == "hm-out":
                out_of_range += expected[hour]
            elif n < expected[hour]:
                missing += expected[hour] - n
            cells.append(HeatCell(hour, css, n, expected[hour], total))
        days.append(HeatDay(day, tuple(cells), present_total, sum(expected), missing, out_of_range))
        day += timedelta(days=1)
    return days


def _level(value: float, peak: float) -> int:
    if peak <= 0:
        return 1
    return min(HEAT_LEVELS, 1 + int(abs(value) / peak * HEAT_LEVELS))


# What a chart calls each channel, and the net it draws when a meter has both directions.
CHANNEL_LABELS = {
    "delivered": "Delivered (import)",
    "received": "Received (export)",
    "net": "Net (delivered - received)",
}


def ordered_channels(series: Mapping[str, Series]) -> list[tuple[str, Series]]:
    return sorted(series.items(), key=lambda item: list(CHANNEL_LABELS).index(item[0]))


def primary_series(series: Mapping[str, Series]) -> Series | None:
    """The channel a single-series view (the heat map, an upload's record) shows."""
    ordered = ordered_channels(series)
    return ordered[0][1] if ordered else None


def merge_payloads(parts: list[tuple[str, dict]]) -> dict:
    """Several channels' payloads as one: ``x`` the union of their instants, ``lines`` one per
    channel (None where a channel has no reading) and, when a meter has delivered and received
    but no net of its own, the net computed from them; ``y`` stays the first line's."""
    if len(parts) == 1:
        return parts[0][1]
    xs = sorted(set().union(*(part["x"] for _, part in parts)))
    lines: list[dict[str, Any]] = []
    for channel, part in parts:
        by_x = dict(zip(part["x"], part["y"], strict=True))
        lines.append(
            {"channel": channel, "label": CHANNEL_LABELS[channel], "y": [by_x.get(x) for x in xs]}
        )
    channels = [line["channel"] for line in lines]
    if "delivered" in channels and "received" in channels and "net" not in channels:
        delivered: list[float | None] = lines[channels.index("delivered")]["y"]
        received: list[float | None] = lines[channels.index("received")]["y"]
        lines.append(
            {
                "channel": "net",
                "label": CHANNEL_LABELS["net"],
                "computed": True,
                "y": [
                    None if a is None or b is None else round(a - b, 6)
                    for a, b in zip(delivered, received, strict=True)
                ],
            }
        )
    payload = dict(parts[0][1])
    if payload["x"] != xs:  # hourly points differ by channel; buckets share their days
        for key in ("labels", "hours", "expected_hours"):
            payload.pop(key, None)
    payload.update(x=xs, y=lines[0]["y"], lines=lines)
    return payload


def chart_payload(
    series: Series | Mapping[str, Series] | None, span: DateRange, bucket: str, bounds: Bounds
) -> dict:
    """The JSON of ``readings/chart.json``: x in UTC epoch seconds (uPlot draws them in the
    series' timezone), y in kWh; for day and month buckets the hours present and expected.
    An owner's several channels give ``lines`` (each channel, and the net), the coverage map
    the first channel's."""
    if isinstance(series, Mapping):
        ordered = ordered_channels(series)
        if len(ordered) > 1 and bucket != "coverage":
            return merge_payloads(
                [(channel, chart_payload(one, span, bucket, bounds)) for channel, one in ordered]
            )
        series = ordered[0][1] if ordered else None
    payload: dict = {
        "bucket": bucket,
        "timezone": span.tz,
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "unit": "kWh",
        "x": [],
        "y": [],
    }
    if series is None:
        return payload
    if bucket == "hour":
        payload["x"], payload["y"] = hourly_points(series, span)
        return payload
    if bucket == "coverage":
        days = coverage(series, span, bounds)
        payload["x"] = [int(local_midnight(d.day, span.zone).timestamp()) for d in days]
        payload["labels"] = [d.day.isoformat() for d in days]
        payload["present"] = [[c.present for c in d.cells] for d in days]
        payload["expected"] = [[c.expected for c in d.cells] for d in days]
        payload["y"] = [
            [None if c.value_kwh is None else round(c.value_kwh, 6) for c in d.cells] for d in days
        ]
        return payload
    buckets = (
        daily_totals(series, span) if bucket == "day" else monthly_totals(series, span.tz, bounds)
    )
    zone = span.zone
    payload["x"] = [int(local_midnight(b.start, zone).timestamp()) for b in buckets]
    payload["y"] = [round(b.value_kwh, 6) if b.hours else None for b in buckets]
    payload["labels"] = [
        b.start.isoformat() if bucket == "day" else b.start.strftime("%Y-%m") for b in buckets
    ]
    payload["hours"] = [b.hours for b in buckets]
    payload["expected_hours"] = [b.expected_hours for b in buckets]
    if bucket == "month" and buckets:
        payload["start"] = buckets[0].start.isoformat()
        payload["end"] = (_next_month(buckets[-1].start) - timedelta(days=1)).isoformat()
    return payload


def export_rows(
    series: Series | Mapping[str, Series], start: datetime | None, end: datetime | None
) -> Iterator[str]:
    """CSV lines ``datetime,value_kwh`` with the site's UTC offset, as the upload reads them;
    ``datetime,channel,value_kwh`` for an owner with more channels than delivered.

    ``repr`` of a float is the shortest text that reads back as the same float, so a download
    uploaded again is unchanged. Nothing here is text a spreadsheet would evaluate (a negative
    number starts with '-' but is a number), so no cell is altered."""
    by_channel = series if isinstance(series, Mapping) else {series.channel: series}
    ordered = ordered_channels(by_channel)
    with_channel = [channel for channel, _ in ordered] != ["delivered"]
    zone = ZoneInfo(ordered[0][1].timezone)
    channel_of = {one.pk: channel for channel, one in ordered}
    yield "datetime,channel,value_kwh\n" if with_channel else "datetime,value_kwh\n"
    batch: list[str] = []
    # Each series read in its key order (series_id, instant), merged here by instant: every
    # partition is read along its primary key, and nothing is sorted in the database.
    streams = [_key_ordered(series_id, start, end) for series_id in sorted(channel_of)]
    for instant, series_id, value in heapq.merge(*streams, key=itemgetter(0, 1)):
        if with_channel:
            batch.append(
                f"{instant.astimezone(zone).isoformat()},{channel_of[series_id]},{value!r}\n"
            )
        else:
            batch.append(f"{instant.astimezone(zone).isoformat()},{value!r}\n")
        if len(batch) >= 2000:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


def _key_ordered(
    series_id: int, start: datetime | None, end: datetime | None
) -> Iterator[tuple[datetime, int, float]]:
    rows = Reading.objects.filter(series_id=series_id)
    if start is not None:
        rows = rows.filter(instant__gte=start)
    if end is not None:
        rows = rows.filter(instant__lt=end)
    for instant, value in (
        rows.order_by("instant").values_list("instant", "value_kwh").iterator(chunk_size=5000)
    ):
        yield instant, series_id, value


# ---- an upload's own data (the preview, before anything is stored) -----------------------------

# Up to this many hours the preview draws every hour; beyond, daily totals.
PREVIEW_HOURLY_MAX = 92 * 24


# Longer previews are monthly totals: a chart of a century of days says no more and would
# hold tens of thousands of points (and their dictionary) in the request.
PREVIEW_DAILY_MAX = 3 * 366


PREVIEW_LABELS = {"hour": "kWh per hour", "day": "kWh per day", "month": "kWh per month"}


def preview_bucket(first: datetime | None, last: datetime | None) -> str:
    """The bucket of an upload's chart, before it is stored and after (one rule for the data
    and the page's label): every hour up to three months, days up to three years, else months."""
    if first is None or last is None:
        return "hour"
    hours = (last - first) / timedelta(hours=1) + 1
    if hours <= PREVIEW_HOURLY_MAX:
        return "hour"
    return "day" if hours <= PREVIEW_DAILY_MAX * 24 else "month"


def readings_payload(epochs: Sequence[int], values: Sequence[float], tz: str) -> dict:
    """The chart of parsed readings (sorted UTC epochs and kWh), not in the database yet, in
    :func:`preview_bucket`'s bucket (the same shapes as chart.json)."""
    zone = ZoneInfo(tz)
    payload: dict = {"bucket": "hour", "timezone": tz, "unit": "kWh", "x": [], "y": []}
    if not epochs:
        return payload
    bucket = preview_bucket(
        datetime.fromtimestamp(epochs[0], UTC), datetime.fromtimestamp(epochs[-1], UTC)
    )
    if bucket == "hour":
        payload["x"] = list(epochs)
        payload["y"] = list(values)
        return payload
    monthly = bucket == "month"
    totals: dict[date, list[float]] = {}
    for epoch, value in zip(epochs, values, strict=True):
        day = datetime.fromtimestamp(epoch, zone).date()
        total = totals.setdefault(day.replace(day=1) if monthly else day, [0.0, 0])
        total[0] += value
        total[1] += 1
    starts = sorted(totals)
    payload.update(
        bucket=bucket,
        x=[int(local_midnight(start, zone).timestamp()) for start in starts],
        y=[round(totals[start][0], 6) for start in starts],
        labels=[start.strftime("%Y-%m") if monthly else start.isoformat() for start in starts],
        hours=[int(totals[start][1]) for start in starts],
        expected_hours=[
            hours_in_month(start, zone) if monthly else hours_in_day(start, zone)
            for start in starts
        ],
    )
    if monthly:
        payload["start"] = starts[0].isoformat()
        payload["end"] = (_next_month(starts[-1]) - timedelta(days=1)).isoformat()
    return payload


def stored_payload(series: Series, first: datetime, last: datetime) -> dict:
    """The chart of an upload's range once it is stored, read back from the database."""
    zone = ZoneInfo(series.timezone)
    span = DateRange(first.astimezone(zone).date(), last.astimezone(zone).date(), series.timezone)
    bucket = preview_bucket(first, last)
    if bucket == "hour":
        xs, ys = [], []
        rows = Reading.objects.filter(series=series, instant__gte=first, instant__lte=last)
        for instant, value in rows.order_by("instant").values_list("instant", "value_kwh"):
            xs.append(int(instant.timestamp()))
            ys.append(value)
        return {"bucket": "hour", "timezone": span.tz, "unit": "kWh", "x": xs, "y": ys}
    return chart_payload(series, span, bucket, Bounds(first, last, 0))
