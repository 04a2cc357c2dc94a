"""The parser's vocabulary: limits, the series context, the report's and the result's types, the
units and layouts it reads, and small helpers every step uses."""

from __future__ import annotations

import hashlib
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

import numpy as np

from .lines import LineNumbers

if TYPE_CHECKING:
    from .report import _Issues
    from .timeline import _Timeline

Severity = Literal["error", "warning"]


# The fast path's slices of a time: the date, then the clock with the suffix (offset, Z or none).
_DATE_PART = itemgetter(slice(0, 10))


_CLOCK_PART = itemgetter(slice(10, None))


_HOUR = 3600


_DAY = 86_400


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# Local seconds are counted from ordinal 0 in the hot loop (cheapest arithmetic); folding the
# 1970 shift into the cached offsets saves a subtraction per row.
_EPOCH_SHIFT = _EPOCH_ORDINAL * _DAY


# Interval data before 1900 or after 2200 is a typo; bounding the range also bounds the work of
# walking the zone's transitions over it.
_MIN_ORDINAL = date(1900, 1, 2).toordinal()


_MAX_ORDINAL = date(2199, 12, 30).toordinal()


# "THH:MM:00" (or with a space) -> seconds into the day: the clock part of the fast path.
_CLOCK = {
    f"{sep}{hour:02d}:{minute:02d}:00": hour * 3600 + minute * 60
    for sep in ("T", " ")
    for hour in range(24)
    for minute in range(60)
}


# Sub-hourly intervals that divide the hour and are summed into hours.
_SUBHOURLY_S = (300, 600, 900, 1200, 1800)


_TIME_COLUMNS = ("datetime", "start_datetime")


_VALUE_COLUMNS = {"value_kwh": "kWh", "energy_kwh": "kWh", "value_wh": "Wh", "energy_wh": "Wh"}


_CUSTOM_ID_COLUMN = "customid"


# 1 TWh in one hour, over 100 times the largest power station: beyond it the unit is wrong, and
# sums of such values could overflow a float.
_MAX_KWH = 1e9


# OWASP's list for CSV injection: a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


_MAX_CUSTOM_IDS = 100


_MAX_GAPS = 20


_MAX_DST_DAYS = 100


# Equal to no UTC offset (nor to None, "naive"), so the first parsed row opens an offset run.
_NO_RUN = object()


@dataclass(frozen=True, slots=True)
class Limits:
    """What one upload may cost; a decade of 5-minute data fits the defaults."""

    max_bytes: int = 100 * 1024 * 1024  # of text, after decompression (and of the upload itself)
    max_rows: int = 5_000_000  # lines after the header
    max_line_bytes: int = 4096
    max_gzip_ratio: int = 100  # interval CSV compresses 6-11x; a bomb of blank lines ~1000x
    max_issues: int = 1000  # stored per severity; the counts stay exact


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class SeriesContext:
    """What the caller knows about the device, for the plausibility warnings."""

    kind: str | None = None  # WattCarbon's device kind: "solar" enables the night checks
    nameplate_kw: float | None = None
    commenced_on: date | None = None  # local date; WattCarbon ignores data before it
    custom_id: str | None = None  # the record's id: a customId column must name it
    owner_kind: str | None = None  # "device" or "meter": a utility's Green Button file is a meter's


# The channels a series may be on (readings.models.ReadingChannel's values), in display order.
CHANNELS = ("delivered", "received", "net")


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """How to read a CSV of another layout (an organization's saved column mapping)."""

    time_column: str
    value_column: str
    unit: str = "kWh"  # or "Wh"
    channel: str = "delivered"
    timezone: str = ""  # of times without an offset; "": the site's


def header_key(names: Iterable[str]) -> str:
    """What makes two headers the same: their column names, trimmed, in any case, in order."""
    normal = "\x1f".join(name.strip().lstrip("\ufeff").lower() for name in names)
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Issue:
    """One error or warning, located by file line (header = 1) and column as written."""

    severity: Severity
    row: int | None  # None: about the file as a whole
    column: str | None
    message: str
    code: str  # stable machine name, e.g. "nonexistent_local_time"


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing hours between two readings: ``start`` is the first missing hour, ``end`` the next
    reading (exclusive)."""

    start: datetime  # UTC
    end: datetime  # UTC
    hours: int
    start_local: datetime
    end_local: datetime


@dataclass(frozen=True, slots=True)
class DstDay:
    """A local day in the data's range that is not 24 hours long."""

    day: date
    hours: float  # 23 or 25 for the usual daylight-saving changes
    readings: int  # hourly readings the file gives for that local day
    note: str


@dataclass(frozen=True, slots=True)
class ChannelSummary:
    """One channel of a file that fills several (or names its own): what it holds."""

    channel: str  # delivered, received or net
    readings: int
    first: datetime | None
    last: datetime | None
    total_kwh: float
    source_interval_minutes: int | None
    source: str  # where in the file it comes from, with the units and multiplier applied


@dataclass(frozen=True, slots=True)
class Summary:
    """What the file holds, for the upload preview."""

    filename: str
    timezone: str
    rows_read: int  # data rows, blank lines not counted
    readings: int  # hourly readings produced
    first: datetime | None  # UTC start of the first hour
    last: datetime | None  # UTC start of the last hour
    first_local: datetime | None
    last_local: datetime | None
    source_interval_minutes: int | None
    resampled: bool
    unit: str  # of the value column in the file; readings are always kWh
    delimiter: str
    compressed: bool
    custom_ids: tuple[str, ...]
    duplicates_dropped: int
    missing_hours: int
    gap_count: int
    gaps: tuple[Gap, ...]  # the first few
    dst_days: tuple[DstDay, ...]
    dst_day_count: int
    # What kind of file it was (csv, greenbutton_xml, greenbutton_csv, channel_csv), its
    # channels when it fills more than one or names them, and what its format meant.
    source_format: str = "csv"
    channels: tuple[ChannelSummary, ...] = ()
    notes: tuple[str, ...] = ()
    header: tuple[str, ...] = ()  # the column names of a header no layout knows (to map them)

    @property
    def expected_hours(self) -> int:
        if self.first is None or self.last is None:
            return 0
        return int((self.last - self.first).total_seconds()) // _HOUR + 1

    @property
    def coverage(self) -> float:
        """Share of the hours between first and last that have a reading (in each channel, for
        a file of several)."""
        expected = self.expected_hours * max(1, len(self.channels))
        return self.readings / expected if expected else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """Every error and warning (the first ``max_issues`` of each, counts exact) and the summary."""

    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]
    error_count: int
    warning_count: int
    summary: Summary
    # False when a row's bounds are in doubt (a quoted value spanning lines swallowed the rows
    # after it): no error is then confined to its row, and none may be skipped.
    row_confined: bool = True

    @property
    def ok(self) -> bool:
        return self.error_count == 0


@dataclass(frozen=True, slots=True)
class HourlyReadings:
    """The hourly series, sorted: UTC epoch seconds of each hour's start and its kWh."""

    epochs: array[int]
    values_kwh: array[float]

    def __len__(self) -> int:
        return len(self.epochs)

    def __iter__(self) -> Iterator[tuple[datetime, float]]:
        fromtimestamp = datetime.fromtimestamp
        for epoch, value in zip(self.epochs, self.values_kwh, strict=True):
            yield fromtimestamp(epoch, UTC), value

    def arrays(self) -> tuple[array[int], array[float]]:
        """The two columns as they are, for COPY or a chart without a datetime per row."""
        return self.epochs, self.values_kwh


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The report and the readings that passed.

    ``readings`` holds the valid subset even when the report has errors, so a preview can chart
    it; store it only when ``ok`` (an upload is all or nothing).
    """

    report: Report
    readings: HourlyReadings
    # (channel, readings) of a file that names its channels; empty: ``readings`` is delivered.
    channels: tuple[tuple[str, HourlyReadings], ...] = ()

    @property
    def ok(self) -> bool:
        return self.report.ok

    def by_channel(self) -> tuple[tuple[str, HourlyReadings], ...]:
        """Each channel's hourly readings (a plain file's are the delivered channel's)."""
        return self.channels or (("delivered", self.readings),)


Sink = Callable[[array, array], None]


class _Rejected(Exception):
    """The file as a whole is unusable: one message, no readings."""

    def __init__(self, code: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


def _show(text: str, limit: int = 40) -> str:
    """A user's cell, quoted and shortened for a message."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"'{text}'"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _size_text(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n:,} bytes"


def _ints(epochs: array[int]) -> np.ndarray:
    """An array('q') as a numpy view (no copy)."""
    return np.frombuffer(epochs, dtype=np.int64) if len(epochs) else np.zeros(0, np.int64)


def _floats(values: array[float]) -> np.ndarray:
    return np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0, np.float64)


class _ParserState:
    """The state of one parse (``core._Parser``), declared once for the type checker: every step
    mixin inherits it, so each sees the attributes ``_Parser.__init__`` (and ``_header``) set and
    the methods another mixin supplies. Declarations only: nothing here exists at run time beyond
    the annotations."""

    tz_name: str
    zone: ZoneInfo
    filename: str
    name: str
    context: SeriesContext
    limits: Limits
    issues: _Issues
    epochs: array[int]
    values: array[float]
    rows: LineNumbers
    rows_read: int
    compressed: bool
    delimiter: str
    unit: str
    time_column: str
    value_column: str
    id_column: str
    # Set by _header: the columns' indexes (id_index -1 without a customId column).
    time_index: int
    value_index: int
    id_index: int
    custom_ids: dict[str, None]
    first_custom_id: tuple[str, int] | None
    day_offsets: dict[int, int]
    change_days: set[int]
    aware_days: dict[str, int]
    naive_days: dict[str, int]
    ambiguous: list[tuple[int, int, int, int, int]]
    offset_runs: list[tuple[int, int | None]]
    header_names: tuple[str, ...]
    duplicates_dropped: int
    interval_s: int | None
    run_off: object  # an offset in seconds, None (naive) or _NO_RUN
    sink: Sink | None
    sunk: int

    if TYPE_CHECKING:
        # Methods one mixin calls and another defines (the signatures are the definitions').

        def _records(
            self, batches: Iterable[tuple[int, list[str], bool]]
        ) -> Iterator[Iterable[tuple[int, list[str]]]]: ...  # core._Parser

        def _time_error(self, line: int, code: str, message: str) -> None: ...  # rows

        def _check_daily(self, steps: Counter[int], n: int) -> None: ...  # checks

        def _naive_day_offset(self, ordinal: int) -> int | None: ...  # timeline

        def _naive_on_change_day(
            self, moment: datetime, ordinal: int, line: int
        ) -> int | None: ...  # timeline

        def _dst_days(
            self, epochs: array[int], timeline: _Timeline, out: list[DstDay]
        ) -> int: ...  # timeline

        def _local_midnight(self, ordinal: int) -> int: ...  # timeline

        def _when(self, epoch: int) -> str: ...  # timeline
