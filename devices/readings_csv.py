"""Parse and validate hourly interval-data CSV files: the pure half of the readings upload.

The upload view, the import command and the Celery task all call :func:`parse_readings`. Nothing
here touches Django, the database or the network, so a file gets the same report wherever it
arrives. The output is one hourly kWh series in UTC (what WattCarbon's
``POST /devices/{id}/timeseries`` takes) and a row-level report that can be downloaded and fixed
in a spreadsheet (:func:`report_to_csv`).

Conventions:

- A timestamp is the *start* of its interval (WattCarbon's ``datetime``; the ``start_datetime``
  alias says so), so the 15-minute readings 10:00, 10:15, 10:30 and 10:45 make the hour from 10:00.
- "On the hour" means on the hour in UTC, as WattCarbon takes it (``timeseries_csv`` in
  ``integrations/wattcarbon.py`` refuses anything else). In whole-hour zones that is the local
  hour too; in a half-hour zone (Asia/Kolkata) hours start at :30 local, and 15- or 30-minute
  data is summed into those UTC hours. Night, day and daylight-saving checks use local time.
- Row numbers are the file's line numbers (header = 1), as a text editor shows them.
- A problem with the file as a whole (binary, not UTF-8, too big, no usable header, no data)
  rejects it with exactly one error. Everything else is a row-level error or warning, and all of
  them are reported in one pass so the user can fix the file once.

Memory stays bounded: the file is streamed in 1 MiB chunks, a line may not exceed
``Limits.max_line_bytes``, gzip output is bounded in size and in ratio, and each accepted row costs
20 bytes in three ``array`` columns (epoch seconds, kWh, line number).
"""

from __future__ import annotations

import csv
import io
import math
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import chain, compress, count, islice, repeat
from operator import eq, ge, itemgetter, le, mod, ne, sub, truediv
from typing import BinaryIO, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

__all__ = [
    "DEFAULT_LIMITS",
    "DstDay",
    "Gap",
    "HourlyReadings",
    "Issue",
    "Limits",
    "ParseResult",
    "Report",
    "SeriesContext",
    "Sink",
    "Summary",
    "parse_readings",
    "report_to_csv",
]

Severity = Literal["error", "warning"]

_CHUNK = 1 << 20
_FIRST_CHUNK = 64 << 10
# Lines per batch of the row pass: small enough that a sink (the store's COPY) gets the first
# rows early and the database works while the rest is parsed, big enough that the per-batch
# costs of the fast path (a few sets and dicts) don't show.
_BATCH_LINES = 2048
_FIRST_BATCH_LINES = 256
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
_NIGHT_HOURS = frozenset((21, 22, 23, 0, 1, 2, 3, 4))
# The same hours in seconds: a local time shifted by three hours is night when under eight hours.
_NIGHT_SHIFT_S = 3 * 3600
_NIGHT_SPAN_S = 8 * 3600
_SOLAR_NIGHT_KWH = 0.1
# 1 TWh in one hour, over 100 times the largest power station: beyond it the unit is wrong, and
# sums of such values could overflow a float.
_MAX_KWH = 1e9
# OWASP's list for CSV injection: a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_MAX_CUSTOM_IDS = 100
_MAX_GAPS = 20
_MAX_DST_DAYS = 100
# Below this much output a gzip ratio says nothing (headers dominate a tiny file).
_RATIO_FLOOR_BYTES = 1 << 20
# Equal to no UTC offset (nor to None, "naive"), so the first parsed row opens an offset run.
_NO_RUN = object()


# --------------------------------------------------------------------------------------------
# Public types
# --------------------------------------------------------------------------------------------


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

    @property
    def expected_hours(self) -> int:
        if self.first is None or self.last is None:
            return 0
        return int((self.last - self.first).total_seconds()) // _HOUR + 1

    @property
    def coverage(self) -> float:
        """Share of the hours between first and last that have a reading."""
        expected = self.expected_hours
        return self.readings / expected if expected else 0.0


@dataclass(frozen=True, slots=True)
class Report:
    """Every error and warning (the first ``max_issues`` of each, counts exact) and the summary."""

    errors: tuple[Issue, ...]
    warnings: tuple[Issue, ...]
    error_count: int
    warning_count: int
    summary: Summary

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

    @property
    def ok(self) -> bool:
        return self.report.ok


Sink = Callable[[array, array], None]


def parse_readings(
    fileobj: BinaryIO,
    *,
    tz: str,
    filename: str = "",
    context: SeriesContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    sink: Sink | None = None,
) -> ParseResult:
    """Read an interval-data CSV (plain or gzip) from a binary stream and validate it.

    ``tz`` is the site's IANA timezone: naive timestamps are local to it, and it decides local
    hours, days and the daylight-saving notes. Never raises for anything in the file; an unknown
    ``tz`` is the caller's bug and raises ``ValueError``.

    ``sink``, when given, is called with each batch of rows as they are read, before the file is
    known to be valid: ``sink(epochs, kwh)``, two arrays in file order, for as long as no error
    has been found. It lets a caller start storing while the rest is parsed; what it received
    is the final series only if the result is ``ok`` and its readings are exactly the
    concatenation of the batches (the whole-file checks may still sort, drop, resample or
    re-resolve rows). Exceptions from ``sink`` propagate.
    """
    zone = _zone(tz)
    parser = _Parser(tz, zone, filename, context or SeriesContext(), limits)
    parser.sink = sink
    return parser.run(fileobj)


def report_to_csv(report: Report) -> str:
    """The report as CSV (severity,row,column,message), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["severity", "row", "column", "message"])
    for issues, total, severity in (
        (report.errors, report.error_count, "error"),
        (report.warnings, report.warning_count, "warning"),
    ):
        for issue in issues:
            writer.writerow(
                [
                    issue.severity,
                    "" if issue.row is None else str(issue.row),
                    _safe_cell(issue.column or ""),
                    _safe_cell(issue.message),
                ]
            )
        if total > len(issues):
            writer.writerow([severity, "", "", f"... and {total - len(issues):,} more not listed"])
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


class _Rejected(Exception):
    """The file as a whole is unusable: one message, no readings."""

    def __init__(self, code: str, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.row = row


class _Issues:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.error_count = 0
        self.warning_count = 0

    def error(self, row: int | None, column: str | None, code: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < self.cap:
            self.errors.append(Issue("error", row, column, message, code))

    def warning(self, row: int | None, column: str | None, code: str, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.cap:
            self.warnings.append(Issue("warning", row, column, message, code))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown IANA timezone: {name!r}") from exc


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


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


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), _HOUR)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


def _wall_text(local_seconds: int) -> str:
    """Format seconds since ordinal 0, local wall clock."""
    days, secs = divmod(local_seconds, _DAY)
    moment = datetime.fromordinal(days) + timedelta(seconds=secs)
    return moment.strftime("%Y-%m-%d %H:%M")


def _offset_seconds(zone: tzinfo, moment: datetime) -> int:
    offset = zone.utcoffset(moment)
    return int(offset.total_seconds()) if offset is not None else 0


# ---- bytes -----------------------------------------------------------------------------------


def _raw_chunks(fileobj: BinaryIO, limits: Limits, name: str) -> Iterator[bytes]:
    total = 0
    # The first read is small: the first rows reach a sink (and its database) sooner.
    size = _FIRST_CHUNK
    while chunk := fileobj.read(size):
        size = _CHUNK
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("parse_readings needs a binary stream (open the file with 'rb')")
        total += len(chunk)
        if total > limits.max_bytes:
            raise _Rejected(
                "too_large",
                f"{name} is larger than {_size_text(limits.max_bytes)}, the limit for one "
                "upload. Split it into several files (one per year, say).",
            )
        yield bytes(chunk)


def _gunzip(raw: Iterable[bytes], limits: Limits, name: str) -> Iterator[bytes]:
    """Decompress gzip members as they stream in, bounding the output in size and in ratio."""
    decompressor: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
    raw_total = 0
    out_total = 0
    for data in raw:
        raw_total += len(data)
        while True:
            if decompressor is None:
                # gzip allows several members in a row; zero padding after the last is tolerated.
                if not data.strip(b"\x00"):
                    break
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = decompressor.decompress(data, _CHUNK)
            except zlib.error as exc:
                raise _Rejected(
                    "bad_gzip", f"{name} starts like a gzip file but is damaged ({exc})."
                ) from exc
            if out:
                out_total += len(out)
                if out_total > limits.max_bytes:
                    raise _Rejected(
                        "too_large",
                        f"{name} expands to more than {_size_text(limits.max_bytes)} when "
                        "decompressed, the limit for one upload. Split it into several files.",
                    )
                if out_total > _RATIO_FLOOR_BYTES and out_total > limits.max_gzip_ratio * raw_total:
                    raise _Rejected(
                        "gzip_bomb",
                        f"{name} expands more than {limits.max_gzip_ratio}-fold when "
                        "decompressed, which interval data never does; it was refused as a "
                        "possible compression bomb.",
                    )
                yield out
            if decompressor.eof:
                data = decompressor.unused_data
                decompressor = None
                if not data:
                    break
            else:
                data = decompressor.unconsumed_tail
                # A full output chunk with no input left may still have output pending.
                if not data and len(out) < _CHUNK:
                    break
    if decompressor is not None and not decompressor.eof:
        raise _Rejected("bad_gzip", f"{name} is a gzip file that ends early (truncated).")


def _text_bytes(fileobj: BinaryIO, limits: Limits, name: str, parser: _Parser) -> Iterator[bytes]:
    raw = _raw_chunks(fileobj, limits, name)
    first = next(raw, b"")
    # A read() may return less than asked; the magic number needs two bytes.
    while 0 < len(first) < 2:
        more = next(raw, b"")
        if not more:
            break
        first += more
    if first[:2] == _GZIP_MAGIC:
        parser.compressed = True
        return _gunzip(chain([first], raw), limits, name)
    return chain([first], raw)


def _refuse_non_text(head: bytes, name: str) -> None:
    """Name the common wrong files precisely: the fix differs for each."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _Rejected(
            "not_utf8",
            f"{name} is UTF-16 text; save it as 'CSV UTF-8' (comma or semicolon separated).",
        )
    if head.startswith(b"PK\x03\x04"):
        raise _Rejected(
            "binary_file",
            f"{name} is a ZIP archive or an Excel workbook (.xlsx), not a CSV file. "
            "In Excel use Save As, CSV UTF-8; a single CSV may be gzip-compressed.",
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _Rejected(
            "binary_file",
            f"{name} is an old Excel workbook (.xls), not a CSV file. "
            "In Excel use Save As, CSV UTF-8.",
        )
    if head.startswith(b"%PDF"):
        raise _Rejected("binary_file", f"{name} is a PDF, not a CSV file.")
    if b"\x00" in head:
        raise _Rejected("binary_file", f"{name} is a binary file, not a CSV text file.")


def _line_batches(
    chunks: Iterator[bytes], limits: Limits, name: str
) -> Iterator[tuple[int, list[str], bool]]:
    """Split the byte stream into decoded lines, a chunk at a time: (number of the first line,
    the lines without their newline, whether the chunk has a quote character).

    Chunks are cut after the last newline, so a UTF-8 sequence never straddles two decodes (none
    of its bytes is 0x0A) and a bad byte is located by line. Batches keep the per-line cost in C.
    """
    max_line = limits.max_line_bytes
    max_lines = limits.max_rows + 1
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 4:
            break
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    _refuse_non_text(head[:_CHUNK], name)

    def too_long(line_no: int, piece: bytes) -> _Rejected:
        hint = " (are its lines ended by CR alone?)" if b"\r" in piece[:max_line] else ""
        return _Rejected(
            "line_too_long",
            f"Line {line_no:,} of {name} is longer than {max_line:,} bytes{hint}; interval "
            "data lines are short, so this is not an interval-data CSV.",
            line_no,
        )

    def decode(body: bytes, first_line: int) -> list[str]:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line_no = first_line + body.count(b"\n", 0, exc.start)
            bad = body[exc.start : exc.start + 1].hex().upper()
            raise _Rejected(
                "not_utf8",
                f"{name} is not UTF-8 text (line {line_no:,} has the byte 0x{bad}). "
                "Save it as 'CSV UTF-8' and upload it again.",
                line_no,
            ) from exc
        if "\x00" in text:
            line_no = first_line + text.count("\n", 0, text.index("\x00"))
            raise _Rejected(
                "binary_file",
                f"{name} has binary data (a NUL byte) on line {line_no:,}; it is not a CSV "
                "text file.",
                line_no,
            )
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        longest = max(map(len, lines))
        # Characters undercount bytes only outside ASCII; then measure the bytes themselves.
        if longest > max_line or (not text.isascii() and 4 * longest > max_line):
            for index, raw_line in enumerate(body.split(b"\n")):
                if len(raw_line.rstrip(b"\r")) > max_line:
                    raise too_long(first_line + index, raw_line)
        return lines

    line_count = 0
    carry = b""
    for chunk in chain([head], chunks):
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            if len(carry) > max_line + 1:
                raise too_long(line_count + 1, carry)
            continue
        carry = buf[cut + 1 :]
        lines = decode(buf[: cut + 1], line_count + 1)
        lines.pop()  # the empty piece after the final newline
        start = line_count + 1
        line_count += len(lines)
        if line_count > max_lines:
            raise _Rejected(
                "too_many_rows",
                f"{name} has more than {limits.max_rows:,} rows, the limit for one upload. "
                "Split it into several files.",
            )
        if len(carry) > max_line + 1:
            raise too_long(line_count + 1, carry)
        yield start, lines, b'"' in buf
    if carry:
        lines = decode(carry, line_count + 1)
        yield line_count + 1, lines, b'"' in carry


# ---- the fast path's vector pieces ---------------------------------------------------------

# By the width of the time (where the first delimiter is): the layout of its suffix.
_FAST_SUFFIXES = {19: "", 20: "Z", 25: "offset"}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


class _FixedLayout:
    """A fixed-width text layout: which columns must be digits, which must be given characters
    (a column may allow two). ``check`` is a few whole-grid comparisons."""

    def __init__(self, digits: tuple[int, ...], literals: dict[int, str]) -> None:
        self.digits = np.array(digits)
        self.columns = np.array(list(literals))
        self.first = np.array([ord(allowed[0]) for allowed in literals.values()], np.uint32)
        self.second = np.array([ord(allowed[-1]) for allowed in literals.values()], np.uint32)

    def check(self, chars: np.ndarray) -> bool:
        # Unsigned: a character below "0" wraps round to a large number.
        if ((chars[:, self.digits] - np.uint32(48)) > 9).any():
            return False
        literal = chars[:, self.columns]
        return bool(((literal == self.first) | (literal == self.second)).all())


# YYYY-MM-DDTHH:MM:00 (or a space for the T): on the minute, seconds zero, as _CLOCK takes.
_FAST_TIME_FIXED = _FixedLayout(
    digits=(0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15),
    literals={4: "-", 7: "-", 10: "T ", 13: ":", 16: ":", 17: "0", 18: "0"},
)
# +HH:MM or -HH:MM after the seconds.
_FAST_OFFSET_FIXED = _FixedLayout(digits=(20, 21, 23, 24), literals={19: "+-", 22: ":"})
# A decimal exactly as float() reads it when its digits fit a double's integers: the division
# of two exact doubles is correctly rounded, so M / 10**k is float("M with k decimals").
_MAX_FAST_DIGITS = 15
_POWERS_OF_TEN = 10.0 ** np.arange(0, 23)
_INT_POWERS_OF_TEN = 10 ** np.arange(0, _MAX_FAST_DIGITS, dtype=np.int64)


def _two_digits(chars: np.ndarray, column: int) -> np.ndarray:
    return (chars[:, column].astype(np.int64) - 48) * 10 + (
        chars[:, column + 1].astype(np.int64) - 48
    )


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _fast_numbers(chars: np.ndarray, decimal_comma: bool) -> np.ndarray | None:
    """The numbers of a NUL-padded grid of code points, one per row, or None when any row is
    not a plain decimal (an optional sign, digits with at most one point, at most 15 digits),
    which float() then reads or refuses in the row loop."""
    filled = chars != 0
    # The text, then only padding: no NUL before a character.
    if (filled[:, 1:] & ~filled[:, :-1]).any():
        return None
    first = chars[:, 0]
    negative = first == ord("-")
    signed = negative | (first == ord("+"))
    body = chars.copy()
    body[signed, 0] = 0
    is_digit = (body >= ord("0")) & (body <= ord("9"))
    is_point = body == ord(".")
    if decimal_comma:
        is_point |= body == ord(",")
    if ((body != 0) & ~is_digit & ~is_point).any():
        return None
    digit_count = is_digit.sum(axis=1)
    if (digit_count == 0).any() or (digit_count > _MAX_FAST_DIGITS).any():
        return None
    if (is_point.sum(axis=1) > 1).any():
        return None
    # Each digit's weight: how many digits follow it in its row.
    after = np.cumsum(is_digit[:, ::-1], axis=1)[:, ::-1] - 1
    weights = _INT_POWERS_OF_TEN[np.where(is_digit, after, 0)]
    mantissa = ((body.astype(np.int64) - 48) * weights * is_digit).sum(axis=1)
    # Decimals: the digits after the point (none without one).
    has_point = is_point.any(axis=1)
    point_at = np.where(has_point, is_point.argmax(axis=1), chars.shape[1])
    decimals = (is_digit & (np.arange(chars.shape[1]) > point_at[:, None])).sum(axis=1)
    values = mantissa.astype(np.float64) / _POWERS_OF_TEN[decimals]
    return np.where(negative, -values, values)


# ---- the zone over the data's range ----------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _offset_at(zone: ZoneInfo, epoch: int) -> int:
    """The zone's UTC offset at an instant (ZoneInfo instances are cached per key: hashable)."""
    return _offset_seconds(zone, datetime.fromtimestamp(epoch, zone))


class _Timeline:
    """The zone's UTC offset over a range of instants, as steps: ``offsets[i]`` applies from
    ``starts[i]``. Walking the range a day at a time finds every change (zones change at most
    a few times a year); two changes within one day that cancel out would be missed."""

    def __init__(self, zone: ZoneInfo, lo: int, hi: int) -> None:
        self.zone = zone
        self.starts = [lo]
        self.offsets = [self._at(lo)]
        moment = lo
        while moment < hi:
            # UTC midnights: the same few hundred points for every file of the same period,
            # so the cached offsets of one file serve the next.
            step = min((moment // _DAY + 1) * _DAY, hi)
            offset = self._at(step)
            if offset != self.offsets[-1]:
                self.starts.append(self._change_between(moment, step))
                self.offsets.append(offset)
            moment = step
        self.ends = [*self.starts[1:], hi + 1]

    def _at(self, epoch: int) -> int:
        return _offset_at(self.zone, epoch)

    def _change_between(self, lo: int, hi: int) -> int:
        """The first second of the new offset, given a change in (lo, hi]."""
        before = self._at(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._at(mid) == before:
                lo = mid
            else:
                hi = mid
        return hi

    def offset_at(self, epoch: int) -> int:
        return self.offsets[max(bisect_right(self.starts, epoch) - 1, 0)]

    def transitions(self) -> Iterator[tuple[int, int, int]]:
        """(instant, offset before, offset after) of each change."""
        for index in range(1, len(self.starts)):
            yield self.starts[index], self.offsets[index - 1], self.offsets[index]


# ---- the parser ------------------------------------------------------------------------------


class _Parser:
    def __init__(
        self, tz_name: str, zone: ZoneInfo, filename: str, context: SeriesContext, limits: Limits
    ) -> None:
        self.tz_name = tz_name
        self.zone = zone
        self.filename = filename
        self.name = f"'{filename}'" if filename else "The file"
        self.context = context
        self.limits = limits
        self.issues = _Issues(limits.max_issues)
        self.epochs: array[int] = array("q")
        self.values: array[float] = array("d")
        self.rows: array[int] = array("I")
        self.rows_read = 0
        self.compressed = False
        self.delimiter = ","
        self.unit = "kWh"
        self.time_column = "datetime"
        self.value_column = "value_kwh"
        self.id_column = "customId"
        self.custom_ids: dict[str, None] = {}
        self.first_custom_id: tuple[str, int] | None = None
        # Naive local times: the offset (plus the 1970 shift) of each local day without a change.
        self.day_offsets: dict[int, int] = {}
        self.change_days: set[int] = set()
        # Fast-path caches by the date as written: the day's base epoch, for aware times before
        # their offset is subtracted, for naive ones with the zone's offset already applied.
        self.aware_days: dict[str, int] = {}
        self.naive_days: dict[str, int] = {}
        # Repeated autumn hours, resolved once the file's order is known:
        # (index, line, local seconds, offset of the first pass, offset of the second).
        self.ambiguous: list[tuple[int, int, int, int, int]] = []
        # Where the file's own UTC offset changes: (index, offset seconds or None for naive).
        self.offset_runs: list[tuple[int, int | None]] = []
        self.duplicates_dropped = 0
        self.interval_s: int | None = None
        # The offset of the current run of offset_runs (_NO_RUN before the first row).
        self.run_off: object = _NO_RUN
        self.sink: Sink | None = None
        self.sunk = 0  # rows handed to the sink so far

    # -- driving --

    def run(self, fileobj: BinaryIO) -> ParseResult:
        try:
            self._stream(fileobj)
        except _Rejected as exc:
            return self._rejected(exc)
        return self._finish()

    def _rejected(self, exc: _Rejected) -> ParseResult:
        issue = Issue("error", exc.row, None, exc.message, exc.code)
        report = Report((issue,), (), 1, 0, self._summary(array("q"), 0))
        return ParseResult(report, HourlyReadings(array("q"), array("d")))

    def _stream(self, fileobj: BinaryIO) -> None:
        batches = _line_batches(
            _text_bytes(fileobj, self.limits, self.name, self), self.limits, self.name
        )
        header: tuple[int, str] | None = None
        rest: list[tuple[int, list[str], bool]] = []
        for start, lines, quoted in batches:
            for index, line in enumerate(lines):
                if line.strip():
                    header = (start + index, line)
                    rest.append((start + index + 1, lines[index + 1 :], quoted))
                    break
            if header is not None:
                break
        if header is None:
            raise _Rejected("empty_file", f"{self.name} is empty.")
        line_no, line = header
        names = self._header(line, line_no)
        self._read_rows(chain(rest, batches), names)
        if self.rows_read == 0:
            raise _Rejected("header_only", f"{self.name} has a header but no readings.", line_no)

    def _records(
        self, batches: Iterable[tuple[int, list[str], bool]]
    ) -> Iterator[Iterable[tuple[int, list[str]]]]:
        """Each batch as (line number, fields) pairs.

        Without a quote character a CSV line is its fields joined by the delimiter, so
        ``str.split`` (in C, via map) does the csv module's work at a fraction of the cost.
        A chunk with quotes goes through the csv module; a quoted field that spans lines (never
        valid in interval data) is then numbered by its last line, as csv counts.
        """
        delimiter = self.delimiter
        for start, lines, quoted in batches:
            if not quoted:
                yield enumerate(map(str.split, lines, repeat(delimiter)), start)
                continue
            reader = csv.reader(lines, delimiter=delimiter)
            pairs: list[tuple[int, list[str]]] = []
            try:
                for fields in reader:
                    pairs.append((start + reader.line_num - 1, fields))
            except csv.Error:
                # A stray CR or the like: read this chunk line by line, and let a line csv
                # can't read be split plainly so the row checks say what is wrong with it.
                pairs = []
                for number, line in enumerate(lines, start):
                    try:
                        fields = next(csv.reader([line], delimiter=delimiter), [])
                    except csv.Error:
                        fields = line.split(delimiter)
                    pairs.append((number, fields))
            yield pairs

    def _header(self, line: str, line_no: int) -> list[str]:
        """Sniff the delimiter from the header and find the columns; reject what can't work."""
        candidates = []
        for delimiter in (",", ";"):
            try:
                names = next(csv.reader([line], delimiter=delimiter), [])
            except csv.Error:  # e.g. a lone CR: no usable header, said below
                names = line.split(delimiter)
            keys = [name.strip().lstrip("\ufeff").lower() for name in names]
            times = [i for i, key in enumerate(keys) if key in _TIME_COLUMNS]
            values = [i for i, key in enumerate(keys) if key in _VALUE_COLUMNS]
            candidates.append((delimiter, names, keys, times, values))
            if times and values:
                break
        else:
            _, names, keys, times, values = max(candidates, key=lambda c: len(c[1]))
            shown = _show(line, 120)
            first_field = names[0].strip() if names else ""
            if _looks_like_time(first_field):
                message = (
                    f"The first line of {self.name} is data, not a header ({shown}). "
                    "Add the header line datetime,value_kwh."
                )
            else:
                missing = []
                if not times:
                    missing.append("a time column (datetime or start_datetime)")
                if not values:
                    missing.append("a value column (value_kwh, energy_kwh, value_wh or energy_wh)")
                message = (
                    f"The header of {self.name} must name {' and '.join(missing)}, separated "
                    f"by commas or semicolons; its first line is {shown}."
                )
            raise _Rejected("missing_columns", message, line_no)
        delimiter, names, keys, times, values = candidates[-1]
        if len(times) > 1 or len(values) > 1:
            both = [names[i].strip() for i in (times if len(times) > 1 else values)]
            raise _Rejected(
                "ambiguous_columns",
                f"The header of {self.name} has {len(both)} columns that could hold the same "
                f"thing ({', '.join(both)}); keep one.",
                line_no,
            )
        ids = [i for i, key in enumerate(keys) if key == _CUSTOM_ID_COLUMN]
        if len(ids) > 1:
            raise _Rejected(
                "ambiguous_columns", f"The header of {self.name} has customId twice.", line_no
            )
        self.delimiter = delimiter
        self.time_index = times[0]
        self.value_index = values[0]
        self.id_index = ids[0] if ids else -1
        self.time_column = names[self.time_index].strip()
        self.value_column = names[self.value_index].strip()
        if ids:
            self.id_column = names[ids[0]].strip()
        self.unit = _VALUE_COLUMNS[keys[self.value_index]]
        used = {self.time_index, self.value_index, self.id_index}
        ignored = [name.strip() for i, name in enumerate(names) if i not in used and name.strip()]
        if ignored:
            self.issues.warning(
                line_no,
                None,
                "ignored_columns",
                f"Columns ignored: {', '.join(ignored)}.",
            )
        return names

    # -- the hot loop --

    def _read_rows(self, batches: Iterable[tuple[int, list[str], bool]], names: list[str]) -> None:
        """One pass over the rows, appending (epoch, kWh, line) to the three arrays, a batch of
        lines at a time; after each batch the new rows go to the sink while the file is clean.

        A two-column batch without quotes first tries :meth:`_fast_batch` (whole-batch
        operations in C); a batch it declines goes row by row through :meth:`_row_loop`,
        which also finds and words every problem.
        """
        fast = len(names) == 2 and self.id_index < 0
        for start, lines, quoted in batches:
            if quoted:  # a quoted field may span lines: the batch stays whole for the csv module
                pieces = [(start, lines)]
            else:
                bounds = list(range(0, len(lines), _BATCH_LINES))
                if (
                    self.sink is not None
                    and not self.epochs
                    and min(_BATCH_LINES, len(lines)) > _FIRST_BATCH_LINES
                ):
                    # A small first batch: the sink's database starts sooner.
                    bounds.insert(1, _FIRST_BATCH_LINES)
                ends = [*bounds[1:], len(lines)] if bounds else []
                pieces = [(start + a, lines[a:b]) for a, b in zip(bounds, ends, strict=True)]
            for first, piece in pieces:
                if not (fast and not quoted and self._fast_batch(first, piece)):
                    self._row_loop(first, piece, quoted, len(names))
                if self.sink is not None:
                    self._feed_sink()

    def _feed_sink(self) -> None:
        if self.issues.error_count or self.sunk == len(self.epochs):
            return
        start = self.sunk
        epochs = self.epochs[start:]
        values = self.values[start:]
        if self.unit == "Wh":  # as _finish converts
            values = array("d", map(truediv, values, repeat(1000.0)))
        self.sunk = len(self.epochs)
        self.sink(epochs, values)

    def _fast_batch(self, first_line: int, lines: list[str]) -> bool:
        """The usual file, a batch at a time in numpy: every line ``time<d>value`` with a time
        ``YYYY-MM-DD[T ]HH:MM:00`` plus one suffix layout for the batch (``+HH:MM``, ``Z`` or
        none) and a plain decimal number. Returns False, having changed nothing, for a batch
        that needs the row loop (which then reports what is wrong, or takes the rarer layouts);
        accepts exactly what the row loop accepts, with the same epochs and the same floats.
        """
        n = len(lines)
        delimiter = ord(self.delimiter)
        width = lines[0].find(self.delimiter)
        suffix = _FAST_SUFFIXES.get(width)
        if suffix is None:
            return False
        # One row of UTF-32 code points per line, padded with NULs (the file has none of its own).
        grid = np.array(lines)
        if grid.dtype.kind != "U":
            return False
        chars = grid.view(np.uint32).reshape(n, -1)
        if chars.shape[1] <= width + 1:
            return False
        # The delimiter where the first line has it, and only there, on every line.
        if not (chars[:, width] == delimiter).all():
            return False
        if np.count_nonzero(chars == delimiter) != n:
            return False
        epochs = self._fast_times(chars[:, :width], suffix)
        if epochs is None:
            return False
        values = _fast_numbers(chars[:, width + 1 :], self.delimiter == ";")
        if values is None:
            return False
        max_value = _MAX_KWH * (1000 if self.unit == "Wh" else 1)
        if values.min() < -max_value or values.max() > max_value:
            return False
        times, offsets = epochs
        # Nothing is refused from here on: append.
        index = len(self.epochs)
        if offsets is None:
            runs = [(0, None)]
        else:
            cuts = np.flatnonzero(offsets[1:] != offsets[:-1]) + 1
            runs = [(0, int(offsets[0]))] + [(int(cut), int(offsets[cut])) for cut in cuts]
        for at, offset in runs:
            if offset != self.run_off:
                self.offset_runs.append((index + at, offset))
                self.run_off = offset
        self.epochs.frombytes(times.astype(np.int64).tobytes())
        self.values.frombytes(values.astype(np.float64).tobytes())
        self.rows.frombytes(
            np.arange(first_line, first_line + n, dtype=f"u{self.rows.itemsize}").tobytes()
        )
        self.rows_read += n
        return True

    def _fast_times(
        self, chars: np.ndarray, suffix: str
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Epoch seconds (and the file's offsets, None when naive) of fixed-width times, or
        None when any of them is not one the fast path takes."""
        if not _FAST_TIME_FIXED.check(chars):
            return None
        if suffix == "offset":
            if not _FAST_OFFSET_FIXED.check(chars):
                return None
            sign = np.where(chars[:, 19] == ord("-"), -1, 1)
            off_h, off_m = _two_digits(chars, 20), _two_digits(chars, 23)
            if (off_h > 23).any() or (off_m > 59).any():
                return None
            offsets = sign * (off_h * _HOUR + off_m * 60)
        elif suffix == "Z":
            if not (chars[:, 19] == ord("Z")).all():
                return None
            offsets = np.zeros(len(chars), dtype=np.int64)
        else:
            offsets = None
        year = _two_digits(chars, 0) * 100 + _two_digits(chars, 2)
        month, day = _two_digits(chars, 5), _two_digits(chars, 8)
        hour, minute = _two_digits(chars, 11), _two_digits(chars, 14)
        if (hour > 23).any() or (minute > 59).any() or (month < 1).any() or (month > 12).any():
            return None
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        if (day < 1).any() or (day > _MONTH_DAYS[month] + (leap & (month == 2))).any():
            return None
        days = _days_from_civil(year, month, day)  # since 1970-01-01
        ordinals = days + _EPOCH_ORDINAL
        if ordinals.min() < _MIN_ORDINAL or ordinals.max() > _MAX_ORDINAL:
            return None
        seconds = days * _DAY + hour * _HOUR + minute * 60
        if offsets is not None:
            return seconds - offsets, offsets
        # Naive: local to the zone; a day with a clock change goes row by row.
        unique, inverse = np.unique(days, return_inverse=True)
        shifts = []
        for day_number in unique.tolist():
            shift = self._naive_day_offset(day_number + _EPOCH_ORDINAL)
            if shift is None:
                return None
            shifts.append(shift - _EPOCH_SHIFT)
        return seconds - np.array(shifts, dtype=np.int64)[inverse], None

    def _naive_day_offset(self, ordinal: int) -> int | None:
        """The zone's offset (with the 1970 shift) over a local day, None on a change day."""
        known = self.day_offsets.get(ordinal)
        if known is not None or ordinal in self.change_days:
            return known
        midnight = datetime.fromordinal(ordinal)
        first = _offset_seconds(self.zone, midnight)
        last = _offset_seconds(self.zone, midnight.replace(hour=23, minute=59, second=59, fold=1))
        if first != last:
            self.change_days.add(ordinal)
            return None
        self.day_offsets[ordinal] = _EPOCH_SHIFT + first
        return _EPOCH_SHIFT + first

    def _row_loop(self, first_line: int, lines: list[str], quoted: bool, ncols: int) -> None:
        """Row by row, for whatever the fast path declines: every check, every message.

        Its own fast path covers a run of the usual layout, ``YYYY-MM-DDTHH:MM:00`` plus one
        suffix that repeats from row to row: the epoch is a cached day base plus a cached clock
        time minus the suffix's offset, three slices and two dict lookups. Whatever doesn't fit
        (a new day, a new suffix, seconds, another layout, a day with a clock change) goes
        through ``_slow_time`` with ``datetime.fromisoformat``, which also primes the caches
        for the rows after it.
        """
        epochs = self.epochs
        epoch_append = epochs.append
        value_append = self.values.append
        row_append = self.rows.append
        clock_get = _CLOCK.get
        slow_time = self._slow_time
        runs = self.offset_runs
        ti, vi, ci = self.time_index, self.value_index, self.id_index
        decimal_comma = self.delimiter == ";"
        max_value = _MAX_KWH * (1000 if self.unit == "Wh" else 1)
        no_tail = "\x00"  # matches no real suffix, so the next row takes the slow path
        fast_tail = no_tail
        fast_off = 0
        day_get = self.aware_days.get
        run_off = self.run_off
        last_id = ""
        rows_read = self.rows_read
        for records in self._records([(first_line, lines, quoted)]):
            for line_no, row in records:
                if len(row) != ncols:
                    if row and any(map(str.strip, row)):
                        rows_read += 1
                        self._row_width(row, ncols, line_no)
                    continue
                rows_read += 1
                if ci >= 0:
                    # First: a row of another device is not judged on anything else.
                    custom_id = row[ci]
                    if custom_id != last_id:
                        if not self._custom_id(custom_id, line_no):
                            continue
                        last_id = custom_id
                text = row[vi]
                try:
                    value = float(text.replace(",", ".")) if decimal_comma else float(text)
                    # The bound also fails NaN and +-inf (every comparison with NaN is false);
                    # float() takes "1_000", which no meter writes.
                    if not -max_value <= value <= max_value or "_" in text:
                        raise ValueError(text)
                except ValueError:
                    if self._bad_value(row, text, line_no):
                        rows_read -= 1
                        continue
                    slow_time(row[ti], line_no, keep=False)
                    continue
                stamp = row[ti]
                base = day_get(stamp[:10])
                clock = clock_get(stamp[10:19])
                if base is None or clock is None or stamp[19:] != fast_tail:
                    parsed = slow_time(stamp, line_no, keep=True)
                    if parsed is None:
                        continue
                    epoch, file_off, tail = parsed
                    if file_off != run_off:
                        runs.append((len(epochs), file_off))
                        run_off = file_off
                    if tail is None:
                        fast_tail = no_tail
                    else:
                        fast_tail = tail
                        fast_off = file_off or 0
                        day_get = (self.naive_days if file_off is None else self.aware_days).get
                else:
                    epoch = base + clock - fast_off
                epoch_append(epoch)
                value_append(value)
                row_append(line_no)
        self.rows_read = rows_read
        self.run_off = run_off

    def _slow_time(
        self, stamp: str, line: int, *, keep: bool
    ) -> tuple[int, int | None, str | None] | None:
        """Parse a time with ``fromisoformat``: (epoch, the file's UTC offset or None when naive,
        the suffix the fast path may now use or None), or None after reporting an error.
        ``keep`` is False when the row is already rejected: the time is only checked."""
        try:
            moment = datetime.fromisoformat(stamp)
            if len(stamp) <= 10:  # a date alone parses as midnight
                raise ValueError(stamp)
        except ValueError:
            moment = self._retry_time(stamp, line)
            if moment is None:
                return None
        if not keep:
            return None
        if moment.microsecond:
            self._time_error(
                line,
                "fractional_seconds",
                f"{_show(stamp)} has a fraction of a second; readings start on the hour.",
            )
            return None
        ordinal = moment.toordinal()
        if not _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL:
            self._time_error(
                line,
                "time_out_of_range",
                f"{_show(stamp)} is outside 1900-2199; is the year right?",
            )
            return None
        local = (ordinal * 24 + moment.hour) * 3600 + moment.minute * 60 + moment.second
        zone = moment.tzinfo
        file_off: int | None
        if zone is None:
            file_off = None
            off = self.day_offsets.get(ordinal)
            if off is None:
                off = self._naive_on_change_day(moment, ordinal, line)
                if off is None:
                    return None
        else:
            file_off = _offset_seconds(zone, moment)
            off = _EPOCH_SHIFT + file_off
        # Prime the fast path for the rows of this day with this suffix (when the layout is
        # the usual one and, for naive times, the day has no clock change).
        tail = None
        if _CLOCK.get(stamp[10:19]) is not None:
            day_base = ordinal * _DAY - _EPOCH_SHIFT
            if file_off is not None:
                self.aware_days[stamp[:10]] = day_base
                tail = stamp[19:]
            elif ordinal not in self.change_days:
                self.naive_days[stamp[:10]] = day_base - (off - _EPOCH_SHIFT)
                tail = stamp[19:]
        return local - off, file_off, tail

    # -- row-level helpers (the slow, rare paths) --

    def _time_error(self, line: int, code: str, message: str) -> None:
        self.issues.error(line, self.time_column, code, message)

    def _row_width(self, row: list[str], ncols: int, line: int) -> None:
        hint = ""
        if len(row) == ncols + 1 and self.delimiter == ",":
            hint = " A decimal comma in a comma-separated file? Use a dot, or separate with ';'."
        self.issues.error(
            line,
            None,
            "column_count",
            f"This row has {len(row)} fields and the header {ncols}.{hint}",
        )

    def _bad_value(self, row: list[str], text: str, line: int) -> bool:
        """Report a bad value; True when the row is a blank spreadsheet row (to be skipped)."""
        if not text.strip():
            if not any(map(str.strip, row)):
                return True
            self.issues.error(line, self.value_column, "empty_value", "The value is empty.")
            return False
        candidate = text.strip().replace(",", ".") if self.delimiter == ";" else text.strip()
        try:
            number = float(candidate)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            message = f"{_show(text)} is not a finite number; give a number of kWh."
            code = "non_finite_value"
        elif number is not None and "_" not in text:
            message = (
                f"{_show(text)} is beyond ±{_MAX_KWH:,.0f} kWh in one hour; is the unit right?"
            )
            code = "value_out_of_range"
        else:
            message = f"{_show(text)} is not a number."
            if self.delimiter == "," and "," in text:
                message += " Use a dot for decimals in a comma-separated file."
            code = "bad_value"
        self.issues.error(line, self.value_column, code, message)
        return False

    def _custom_id(self, text: str, line: int) -> bool:
        custom_id = text.strip()
        if not custom_id:
            return True
        if len(self.custom_ids) < _MAX_CUSTOM_IDS:
            self.custom_ids.setdefault(custom_id)
        expected = self.context.custom_id
        if expected and custom_id.casefold() != expected.casefold():
            self.issues.error(
                line,
                self.id_column,
                "custom_id_mismatch",
                f"customId {_show(custom_id)} is not {_show(expected)}, the record this file is "
                "uploaded to: upload it on that record's page, or fix the column.",
            )
            return False
        if self.first_custom_id is None:
            self.first_custom_id = (custom_id, line)
            return True
        first, first_line = self.first_custom_id
        if custom_id == first:
            return True
        self.issues.error(
            line,
            self.id_column,
            "custom_id_mismatch",
            f"customId {_show(custom_id)} differs from {_show(first)} on row {first_line}: "
            "a file holds one device's readings, so upload one file per device.",
        )
        return False

    def _retry_time(self, stamp: str, line: int) -> datetime | None:
        """Second chance for a time that failed the fast parse, then the error."""
        cleaned = stamp.strip()
        if not cleaned:
            self._time_error(line, "empty_time", "The time is empty.")
            return None
        if len(cleaned) > 10:
            try:
                # Spaces around the cell, a lower-case 't' or 'z': harmless, so accepted.
                return datetime.fromisoformat(cleaned.upper())
            except ValueError:
                pass
        elif _looks_like_time(cleaned):
            self._time_error(
                line,
                "bad_time",
                f"{_show(stamp)} is a date without a time of day; give the start of each hour, "
                "e.g. 2024-01-01T13:00:00-05:00.",
            )
            return None
        self._time_error(
            line,
            "bad_time",
            f"{_show(stamp)} is not an ISO 8601 date and time, e.g. 2024-01-01T13:00:00-05:00.",
        )
        return None

    def _naive_on_change_day(self, moment: datetime, ordinal: int, line: int) -> int | None:
        """The offset (with the 1970 shift) for a naive time on a day not cached yet, or None."""
        whole_day = self._naive_day_offset(ordinal)
        if whole_day is not None:
            return whole_day
        # PEP 495: fold=0 takes the offset in force before a change, fold=1 the one after.
        # Both equal: the time exists once. The offset grows: clocks jumped over it. It shrinks:
        # the clocks went back and the time happens twice.
        offset_0 = _offset_seconds(self.zone, moment)
        offset_1 = _offset_seconds(self.zone, moment.replace(fold=1))
        local = (ordinal * 24 + moment.hour) * 3600 + moment.minute * 60 + moment.second
        if offset_0 == offset_1:
            return _EPOCH_SHIFT + offset_0
        if offset_0 < offset_1:
            change = _Timeline(
                self.zone, local - _EPOCH_SHIFT - offset_1 - 1, local - _EPOCH_SHIFT - offset_0
            )
            instant = change.starts[-1] + _EPOCH_SHIFT
            self._time_error(
                line,
                "nonexistent_local_time",
                f"{_wall_text(local)} does not exist in {self.tz_name}: that night the clocks "
                f"go from {_wall_text(instant + offset_0)[11:]} straight to "
                f"{_wall_text(instant + offset_1)[11:]}. Give the time with its UTC offset, or "
                "leave the row out.",
            )
            return None
        self.ambiguous.append((len(self.epochs), line, local, offset_0, offset_1))
        return _EPOCH_SHIFT + offset_0

    # -- after the stream --

    def _finish(self) -> ParseResult:
        epochs, values, rows = self.epochs, self.values, self.rows
        if self.unit == "Wh":
            # Division, not * 0.001: 1234 / 1000 is the float nearest 1.234, as typed in kWh.
            values = array("d", map(truediv, values, repeat(1000.0)))
        dropped = self._resolve_ambiguous()
        timeline = None
        if epochs:
            timeline = _Timeline(self.zone, min(epochs) - 2 * _DAY, max(epochs) + 2 * _DAY)
            self._check_file_offsets(timeline)
        if dropped:
            keep = bytearray(b"\x01") * len(epochs)
            for index in dropped:
                keep[index] = 0
            epochs = array("q", compress(epochs, keep))
            values = array("d", compress(values, keep))
            rows = array("I", compress(rows, keep))
        # One pass over the spacing answers "in order?", "duplicates?", "what interval?" and
        # "any gaps?"; the sort and the duplicate scan only run when it says they must.
        steps = _steps(epochs)
        if steps and min(steps) <= 0:
            epochs, values, rows = _sorted_columns(epochs, values, rows, steps)
            epochs, values, rows = self._drop_duplicates(epochs, values, rows)
            steps = _steps(epochs)
        if timeline is not None and epochs:
            epochs, values, rows, steps = self._to_hours(epochs, values, rows, timeline, steps)
        if timeline is not None and epochs:
            self._check_context(epochs, values, rows, timeline)
        summary = self._summary(epochs, len(epochs), timeline, steps)
        errors = sorted(self.issues.errors, key=_issue_order)
        warnings = sorted(self.issues.warnings, key=_issue_order)
        report = Report(
            tuple(errors),
            tuple(warnings),
            self.issues.error_count,
            self.issues.warning_count,
            summary,
        )
        return ParseResult(report, HourlyReadings(epochs, values))

    def _resolve_ambiguous(self) -> set[int]:
        """Place each repeated autumn hour by the file's order; return the indexes left out.

        In a file in time order the first of two equal local times is the earlier instant
        (daylight time) and the second the later one; a file in reverse order says the
        opposite. Once, three times, or in a file in no order: the row can't be placed.
        """
        if not self.ambiguous:
            return set()
        epochs = self.epochs
        certain = bytearray(b"\x01") * len(epochs)
        for entry in self.ambiguous:
            certain[entry[0]] = 0
        known = array("q", compress(epochs, certain))
        if all(map(le, known, islice(known, 1, None))):
            order: str | None = "rising"
        elif all(map(ge, known, islice(known, 1, None))):
            order = "falling"
        else:
            order = None
        groups: dict[int, list[tuple[int, int, int, int, int]]] = {}
        for entry in self.ambiguous:
            groups.setdefault(entry[2], []).append(entry)
        dropped: set[int] = set()
        for local, entries in groups.items():
            offset_0, offset_1 = entries[0][3], entries[0][4]
            if len(entries) == 2 and order is not None:
                first, second = entries if order == "rising" else entries[::-1]
                epochs[first[0]] = local - _EPOCH_SHIFT - offset_0
                epochs[second[0]] = local - _EPOCH_SHIFT - offset_1
                continue
            twice = (
                f"{_wall_text(local)} happens twice in {self.tz_name} (at UTC"
                f"{_offset_text(offset_0)}, then at UTC{_offset_text(offset_1)})"
            )
            if len(entries) == 1:
                why = "and the file has it once, so it can't tell which"
            elif len(entries) == 2:
                why = "and the file is not in time order, so its order can't tell which is which"
            else:
                why = f"but the file has it {len(entries)} times"
            example = _wall_text(local).replace(" ", "T") + ":00" + _offset_text(offset_0)
            for entry in entries:
                dropped.add(entry[0])
                self._time_error(
                    entry[1],
                    "ambiguous_local_time",
                    f"{twice}, {why}. Give the time with its UTC offset, e.g. {example}.",
                )
        return dropped

    def _check_file_offsets(self, timeline: _Timeline) -> None:
        """Warn when the file's UTC offsets are ones the site's zone doesn't use at that instant
        (a file in standard time all year, or the site's timezone set wrong). UTC itself is a
        fine way to write instants, so offset zero is not questioned."""
        epochs, runs = self.epochs, self.offset_runs
        starts, offsets = timeline.starts, timeline.offsets
        mismatched = 0
        first: tuple[int, int, int] | None = None  # (index, file offset, zone offset)
        for number, (start, offset) in enumerate(runs):
            if not offset:
                continue
            end = runs[number + 1][0] if number + 1 < len(runs) else len(epochs)
            part = epochs[start:end]
            if (np.diff(_ints(part)) >= 0).all():
                # In order: count each zone span's share of the run by bisection.
                spans = range(
                    max(bisect_right(starts, part[0]) - 1, 0), bisect_right(starts, part[-1])
                )
                for span in spans:
                    if offsets[span] == offset:
                        continue
                    lo = bisect_left(part, starts[span])
                    hi = bisect_left(part, timeline.ends[span])
                    if hi > lo:
                        mismatched += hi - lo
                        if first is None or start + lo < first[0]:
                            first = (start + lo, offset, offsets[span])
                continue
            for index, epoch in enumerate(part, start):
                zone_offset = timeline.offset_at(epoch)
                if zone_offset != offset:
                    mismatched += 1
                    if first is None or index < first[0]:
                        first = (index, offset, zone_offset)
        if first is not None:
            index, offset, zone_offset = first
            self.issues.warning(
                self.rows[index],
                self.time_column,
                "offset_mismatch",
                f"{_plural(mismatched, 'row gives', 'rows give')} a UTC offset that "
                f"{self.tz_name} doesn't use at that instant (this one says "
                f"{_offset_text(offset)}, {self.tz_name} is at {_offset_text(zone_offset)}). "
                "The instants are taken as written; check the file's timezone, or the site's.",
            )

    def _drop_duplicates(
        self, epochs: array[int], values: array[float], rows: array[int]
    ) -> tuple[array[int], array[float], array[int]]:
        if not any(map(eq, epochs, islice(epochs, 1, None))):
            return epochs, values, rows
        kept_e, kept_v, kept_r = array("q"), array("d"), array("I")
        for epoch, value, row in zip(epochs, values, rows, strict=True):
            if kept_e and epoch == kept_e[-1]:
                other_value, other_row = kept_v[-1], kept_r[-1]
                earlier, later = (other_row, row) if other_row < row else (row, other_row)
                if value == other_value:
                    self.duplicates_dropped += 1
                    self.issues.warning(
                        later,
                        None,
                        "duplicate_dropped",
                        f"Repeats row {earlier} (same time and value); dropped.",
                    )
                else:
                    early_v, late_v = (
                        (other_value, value) if other_row < row else (value, other_value)
                    )
                    self._time_error(
                        later,
                        "conflicting_duplicate",
                        f"{self._when(epoch)} is also on row {earlier} with a different value "
                        f"({early_v:g} there, {late_v:g} here).",
                    )
                if row < other_row:  # the file's first row wins, whatever the sort did
                    kept_v[-1], kept_r[-1] = value, row
                continue
            kept_e.append(epoch)
            kept_v.append(value)
            kept_r.append(row)
        return kept_e, kept_v, kept_r

    def _to_hours(
        self,
        epochs: array[int],
        values: array[float],
        rows: array[int],
        timeline: _Timeline,
        steps: Counter[int],
    ) -> tuple[array[int], array[float], array[int], Counter[int]]:
        """Check the spacing; sum complete sub-hourly hours; drop and report what doesn't fit.
        Returns the hourly columns and their spacing."""
        # The most frequent spacing decides the grid, so one stray row is an error on that row
        # rather than a reason to read the whole file at another interval.
        interval = max((_HOUR, *_SUBHOURLY_S), key=lambda s: (steps[s], s))
        self.interval_s = interval
        self._check_daily(steps, len(epochs))
        off_grid = self._off_grid(epochs, interval)
        if off_grid:
            minutes = interval // 60
            for index in off_grid:
                if interval == _HOUR:
                    message = (
                        f"{self._when(epochs[index])} is not on the hour; readings are hourly, "
                        "each starting on the hour in UTC."
                    )
                    local_offset = timeline.offset_at(epochs[index])
                    if local_offset % _HOUR:
                        message += (
                            f" In {self.tz_name} (UTC{_offset_text(local_offset)}) that is at "
                            f":{local_offset % _HOUR // 60:02d} local time; 15- or 30-minute data "
                            "is summed into those hours."
                        )
                    code = "not_on_hour"
                else:
                    message = (
                        f"{self._when(epochs[index])} is off the {minutes}-minute grid of the "
                        "rest of the file (irregular spacing)."
                    )
                    code = "off_grid"
                self._time_error(rows[index], code, message)
            keep = bytearray(b"\x01") * len(epochs)
            for index in off_grid:
                keep[index] = 0
            epochs = array("q", compress(epochs, keep))
            values = array("d", compress(values, keep))
            rows = array("I", compress(rows, keep))
            steps = _steps(epochs)
        if interval == _HOUR or not epochs:
            return epochs, values, rows, steps
        epochs, values, rows = self._sum_hours(epochs, values, rows, interval)
        return epochs, values, rows, _steps(epochs)

    def _check_daily(self, steps: Counter[int], n: int) -> None:
        """Daily totals stamped at midnight would pass as hourly readings with 23-hour gaps,
        each a day's energy booked to one hour: name that. Sparse hourly files (corrections,
        a few hours) must not trip it, hence a week of rows nearly all a day or more apart."""
        if n < 7:
            return
        step, times = steps.most_common(1)[0]
        if step >= 23 * _HOUR and times >= 0.8 * (n - 1):
            self.issues.error(
                None,
                self.time_column,
                "not_hourly",
                f"Most readings are {step / _HOUR:g} hours apart: this looks like daily (or "
                "coarser) data, but readings must be hourly (5- to 30-minute data is summed "
                "into hours).",
            )

    def _off_grid(self, epochs: array[int], interval: int) -> list[int]:
        """Indexes of readings not on the UTC grid of ``interval`` seconds."""
        return np.flatnonzero(_ints(epochs) % interval).tolist()

    def _sum_hours(
        self, epochs: array[int], values: array[float], rows: array[int], interval: int
    ) -> tuple[array[int], array[float], array[int]]:
        """Sum each complete UTC hour; report the incomplete ones (sorted, unique, on the grid)."""
        per_hour = _HOUR // interval
        minutes = interval // 60
        n = len(epochs)
        if n % per_hour == 0:
            # Fast path: if every group of per_hour readings starts on an hour and spans exactly
            # one hour, every hour is complete (they are sorted, unique and on the grid).
            starts = epochs[0::per_hour]
            ends = epochs[per_hour - 1 :: per_hour]
            if not any(map(mod, starts, repeat(_HOUR))) and all(
                map(eq, map(sub, ends, starts), repeat(_HOUR - interval))
            ):
                groups = zip(*[iter(values)] * per_hour, strict=True)
                sums = array("d", map(math.fsum, groups))
                self._resampled_warning(minutes, per_hour, len(starts))
                return starts, sums, rows[0::per_hour]
        hour_e, hour_v, hour_r = array("q"), array("d"), array("I")
        group_start = 0
        for index in range(1, n + 1):
            if index < n and epochs[index] // _HOUR == epochs[group_start] // _HOUR:
                continue
            size = index - group_start
            hour = epochs[group_start] // _HOUR * _HOUR
            if size == per_hour:
                hour_e.append(hour)
                hour_v.append(math.fsum(values[group_start:index]))
                hour_r.append(rows[group_start])
            else:
                first_row, last_row = rows[group_start], rows[index - 1]
                where = f"row {first_row}" if size == 1 else f"rows {first_row}-{last_row}"
                self._time_error(
                    first_row,
                    "incomplete_hour",
                    f"The hour from {self._when(hour)} has {size} of its {per_hour} "
                    f"{minutes}-minute readings ({where}); an incomplete hour can't be summed.",
                )
            group_start = index
        self._resampled_warning(minutes, per_hour, len(hour_e))
        return hour_e, hour_v, hour_r

    def _resampled_warning(self, minutes: int, per_hour: int, hours: int) -> None:
        self.issues.warning(
            None,
            self.value_column,
            "resampled",
            f"The file has {minutes}-minute readings; each complete hour's {per_hour} readings "
            f"were summed into one hourly reading ({hours:,} hours).",
        )

    def _check_context(
        self, epochs: array[int], values: array[float], rows: array[int], timeline: _Timeline
    ) -> None:
        context = self.context
        if context.commenced_on is not None:
            commenced = self._local_midnight(context.commenced_on.toordinal())
            before = bisect_left(epochs, commenced)
            if before:
                where = f"row {rows[0]}" if before == 1 else f"rows {rows[0]}-{rows[before - 1]}"
                self.issues.warning(
                    rows[0],
                    self.time_column,
                    "before_commenced",
                    f"{_plural(before, 'hourly reading', 'hourly readings')} ({where}) "
                    f"{'is' if before == 1 else 'are'} before the commenced operation "
                    f"date {context.commenced_on.isoformat()}; WattCarbon ignores them.",
                )
        if context.nameplate_kw is not None and context.nameplate_kw > 0:
            cap = context.nameplate_kw
            for index in np.flatnonzero(_floats(values) > cap).tolist():
                self.issues.warning(
                    rows[index],
                    self.value_column,
                    "above_nameplate",
                    f"{values[index]:g} kWh in the hour from {self._when(epochs[index])} is more "
                    f"than the nameplate capacity allows ({cap:g} kW for one hour).",
                )
        if (context.kind or "").strip().lower() != "solar":
            return
        for index in self._solar_at_night(epochs, values, timeline):
            self.issues.warning(
                rows[index],
                self.value_column,
                "solar_at_night",
                f"{values[index]:g} kWh of solar in the hour from {self._when(epochs[index])}, "
                "between 21:00 and 05:00 local time; check the timezone and the device kind.",
            )
        negative = np.flatnonzero(_floats(values) < 0.0).tolist()
        if negative:
            self.issues.warning(
                rows[negative[0]],
                self.value_column,
                "negative_solar",
                f"{_plural(len(negative), 'solar reading is', 'solar readings are')} negative; "
                "WattCarbon counts a negative value as added consumption. Check the sign "
                "convention.",
            )

    def _solar_at_night(
        self, epochs: array[int], values: array[float], timeline: _Timeline
    ) -> list[int]:
        """Indexes of the hours above the night threshold that start between 21:00 and 05:00
        local time: shifted by the UTC offset plus three hours, a night hour starts less than
        eight hours after midnight."""
        instants, kwh = _ints(epochs), _floats(values)
        offsets = np.array(timeline.offsets, dtype=np.int64)
        spans = np.searchsorted(np.array(timeline.starts, dtype=np.int64), instants, "right") - 1
        local = instants + offsets[np.maximum(spans, 0)] + _NIGHT_SHIFT_S
        night = (local % _DAY) < _NIGHT_SPAN_S
        return np.flatnonzero(night & (kwh > _SOLAR_NIGHT_KWH)).tolist()

    # -- summary --

    def _summary(
        self,
        epochs: array[int],
        readings: int,
        timeline: _Timeline | None = None,
        steps: Counter[int] | None = None,
    ) -> Summary:
        gaps: list[Gap] = []
        gap_count = missing_hours = 0
        dst_days: list[DstDay] = []
        dst_day_count = 0
        first = last = first_local = last_local = None
        if readings:
            first = datetime.fromtimestamp(epochs[0], UTC)
            last = datetime.fromtimestamp(epochs[-1], UTC)
            first_local = first.astimezone(self.zone)
            last_local = last.astimezone(self.zone)
            gapless = steps is not None and not steps.keys() - {_HOUR}
            after_gap = (
                ()
                if gapless
                else compress(
                    count(1), map(ne, map(sub, islice(epochs, 1, None), epochs), repeat(_HOUR))
                )
            )
            for index in after_gap:
                missing = round((epochs[index] - epochs[index - 1]) / _HOUR) - 1
                if missing <= 0:
                    continue
                gap_count += 1
                missing_hours += missing
                if len(gaps) < _MAX_GAPS:
                    start = datetime.fromtimestamp(epochs[index - 1] + _HOUR, UTC)
                    end = datetime.fromtimestamp(epochs[index], UTC)
                    gaps.append(
                        Gap(
                            start,
                            end,
                            missing,
                            start.astimezone(self.zone),
                            end.astimezone(self.zone),
                        )
                    )
            if timeline is not None:
                dst_day_count = self._dst_days(epochs, timeline, dst_days)
        interval = self.interval_s
        return Summary(
            filename=self.filename,
            timezone=self.tz_name,
            rows_read=self.rows_read,
            readings=readings,
            first=first,
            last=last,
            first_local=first_local,
            last_local=last_local,
            source_interval_minutes=interval // 60 if interval else None,
            resampled=bool(interval and interval < _HOUR),
            unit=self.unit,
            delimiter=self.delimiter,
            compressed=self.compressed,
            custom_ids=tuple(self.custom_ids),
            duplicates_dropped=self.duplicates_dropped,
            missing_hours=missing_hours,
            gap_count=gap_count,
            gaps=tuple(gaps),
            dst_days=tuple(dst_days),
            dst_day_count=dst_day_count,
        )

    def _dst_days(self, epochs: array[int], timeline: _Timeline, out: list[DstDay]) -> int:
        """The local days in the data's range that are not 24 hours long, with what to expect."""
        seen: set[int] = set()
        total = 0
        range_end = epochs[-1] + _HOUR
        for instant, before, after in timeline.transitions():
            ordinal = (instant + after) // _DAY + _EPOCH_ORDINAL
            if ordinal in seen:
                continue
            seen.add(ordinal)
            start, end = self._local_midnight(ordinal), self._local_midnight(ordinal + 1)
            hours = (end - start) / _HOUR
            if end <= epochs[0] or start >= range_end or hours == 24:
                continue
            total += 1
            if len(out) >= _MAX_DST_DAYS:
                continue
            present = bisect_left(epochs, end) - bisect_left(epochs, start)
            from_wall = _wall_text(instant + before + _EPOCH_SHIFT)[11:]
            to_wall = _wall_text(instant + after + _EPOCH_SHIFT)[11:]
            if after > before:
                what = f"the clocks go forward at {from_wall} to {to_wall}, so that hour is skipped"
            else:
                what = (
                    f"the clocks go back at {from_wall} to {to_wall}, so the hour from {to_wall} "
                    "happens twice"
                )
            out.append(
                DstDay(
                    date.fromordinal(ordinal),
                    hours,
                    present,
                    f"{hours:g}-hour day: {what}; the file has {present} of {hours:g} hourly "
                    "readings.",
                )
            )
        return total

    # -- small helpers --

    def _local_midnight(self, ordinal: int) -> int:
        """The instant a local day starts (its midnight, or the first instant after a skipped
        one: fold=0 uses the offset before the change)."""
        return int(datetime.fromordinal(ordinal).replace(tzinfo=self.zone).timestamp())

    def _when(self, epoch: int) -> str:
        return datetime.fromtimestamp(epoch, self.zone).strftime("%Y-%m-%d %H:%M %Z")


def _issue_order(issue: Issue) -> int:
    return issue.row or 0


def _looks_like_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return False
    return True


def _steps(epochs: array[int]) -> Counter[int]:
    """How often each spacing occurs between consecutive instants (vectorized)."""
    if len(epochs) < 2:
        return Counter()
    steps = np.diff(_ints(epochs))
    if (steps == steps[0]).all():  # the usual file: one spacing throughout
        return Counter({int(steps[0]): len(steps)})
    spacings, counts = np.unique(steps, return_counts=True)
    return Counter(dict(zip(spacings.tolist(), counts.tolist(), strict=True)))


def _ints(epochs: array[int]) -> np.ndarray:
    """An array('q') as a numpy view (no copy)."""
    return np.frombuffer(epochs, dtype=np.int64) if len(epochs) else np.zeros(0, np.int64)


def _floats(values: array[float]) -> np.ndarray:
    return np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0, np.float64)


def _sorted_columns(
    epochs: array[int], values: array[float], rows: array[int], steps: Counter[int]
) -> tuple[array[int], array[float], array[int]]:
    """Sort the three columns by instant; in order or reversed costs no sort."""
    if min(steps) >= 0:
        return epochs, values, rows
    if max(steps) <= 0:
        # The columns are this parse's own, so reversing in place is safe.
        epochs.reverse()
        values.reverse()
        rows.reverse()
        return epochs, values, rows
    order = sorted(range(len(epochs)), key=epochs.__getitem__)
    return (
        array("q", map(epochs.__getitem__, order)),
        array("d", map(values.__getitem__, order)),
        array("I", map(rows.__getitem__, order)),
    )
