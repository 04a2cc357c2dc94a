"""The parser's numpy fast path (``_Parser._fast_batch``) against its row loop, the reference.

Every file here is parsed twice: once as it comes (the fast path takes the batches it can), once
with the fast path switched off (every batch through ``_row_loop``). The two must give the same
report, to the last field of every issue and summary, and the same readings to the last bit
(``-0.0`` is not ``0.0``), and hand the sink the same batches. The clean files also assert that
the fast path did take their batches, so a change that makes it decline everything cannot pass
as "both agree".
"""

from __future__ import annotations

import gzip
import io
from array import array
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readings.parser import HourlyReadings, ParseResult, SeriesContext, core, parse_readings
from readings.parser import fast as fast_path

CHICAGO = "America/Chicago"
DUBLIN = "Europe/Dublin"
KOLKATA = "Asia/Kolkata"
HOUR = 3600
# Solar with a small nameplate and a commencement date: the night, nameplate, negative and
# before-commenced warnings all get their chance to differ.
SOLAR = SeriesContext(kind="solar", nameplate_kw=5.0, commenced_on=date(2024, 1, 2))
VALUES = ("0.5", "1.25", "0", "12.125", "3", "0.001", "7.5", "0.04", "2.6", "0.333")


# ---- the two parses ------------------------------------------------------------------------


@dataclass
class Both:
    fast: ParseResult
    slow: ParseResult
    calls: list[bool]  # what each _fast_batch call of the first parse returned


def _parse(data: bytes, tz: str, context: SeriesContext) -> tuple[ParseResult, list]:
    sunk: list[tuple[bytes, bytes]] = []

    def sink(epochs, values) -> None:
        sunk.append((epochs.tobytes(), values.tobytes()))

    result = parse_readings(io.BytesIO(data), tz=tz, filename="f.csv", context=context, sink=sink)
    return result, sunk


def parse_both(data: bytes, tz: str = CHICAGO, context: SeriesContext = SOLAR) -> Both:
    """Parse with and without the fast path; assert they agree; return both and the calls."""
    calls: list[bool] = []
    original = core._Parser._fast_batch

    def counted(self, first_line, lines):
        taken = original(self, first_line, lines)
        assert taken in (True, False)
        calls.append(taken)
        return taken

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core._Parser, "_fast_batch", counted)
        fast, fast_sunk = _parse(data, tz, context)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core._Parser, "_fast_batch", lambda self, first, lines: False)
        slow, slow_sunk = _parse(data, tz, context)
    assert_same(fast, slow)
    assert fast_sunk == slow_sunk, "the sink got other batches"
    return Both(fast, slow, calls)


def assert_same(fast: ParseResult, slow: ParseResult) -> None:
    fast_report, slow_report = fast.report, slow.report
    assert fast_report.errors == slow_report.errors
    assert fast_report.warnings == slow_report.warnings
    assert (fast_report.error_count, fast_report.warning_count) == (
        slow_report.error_count,
        slow_report.warning_count,
    )
    assert fast_report.summary == slow_report.summary
    # Equal aware datetimes may still carry another tzinfo; the repr shows it.
    assert repr(fast_report.summary) == repr(slow_report.summary)
    fast_epochs, fast_values = fast.readings.arrays()
    slow_epochs, slow_values = slow.readings.arrays()
    assert (fast_epochs.typecode, fast_values.typecode) == (slow_epochs.typecode, "d")
    assert len(fast_epochs) == len(slow_epochs)
    if fast_epochs.tobytes() != slow_epochs.tobytes():
        diff = [
            (i, a, b)
            for i, (a, b) in enumerate(zip(fast_epochs, slow_epochs, strict=True))
            if a != b
        ]
        raise AssertionError(f"epochs differ (index, fast, loop): {diff[:5]}")
    if fast_values.tobytes() != slow_values.tobytes():
        diff = [
            (i, repr(a), repr(b))
            for i, (a, b) in enumerate(zip(fast_values, slow_values, strict=True))
            if repr(a) != repr(b)
        ]
        raise AssertionError(f"values differ (index, fast, loop): {diff[:5]}")


# ---- building files ------------------------------------------------------------------------


def stamps(start: datetime, n: int, tz: str, style: str, step: int = HOUR) -> list[str]:
    """n times from the UTC instant ``start``, ``step`` seconds apart, written in ``style``:
    offset (local with its offset), naive (local wall clock), Z (UTC), space (offset, ' ')."""
    zone = ZoneInfo(tz)
    out = []
    for index in range(n):
        moment = start + timedelta(seconds=index * step)
        local = moment.astimezone(zone)
        if style == "offset":
            out.append(local.isoformat())
        elif style == "space":
            out.append(local.isoformat(sep=" "))
        elif style == "naive":
            out.append(local.replace(tzinfo=None).isoformat())
        elif style == "Z":
            out.append(moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z")
        else:
            raise ValueError(style)
    return out


def local_day(tz: str, day: date, style: str = "naive") -> list[str]:
    """Every hour of one local day, as written in ``style``."""
    zone = ZoneInfo(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    end = (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1)).astimezone(UTC)
    return stamps(start, int((end - start).total_seconds()) // HOUR, tz, style)


def values_for(n: int) -> list[str]:
    return [VALUES[index % len(VALUES)] for index in range(n)]


def csv_bytes(
    times: list[str],
    values: list[str] | None = None,
    *,
    header: str = "datetime,value_kwh",
    delimiter: str = ",",
    newline: str = "\n",
    bom: bool = False,
) -> bytes:
    values = values_for(len(times)) if values is None else values
    rows = [f"{time}{delimiter}{value}" for time, value in zip(times, values, strict=True)]
    data = newline.join([header, *rows]).encode() + newline.encode()
    return (b"\xef\xbb\xbf" if bom else b"") + data


def lines_bytes(*lines: str, header: str = "datetime,value_kwh") -> bytes:
    return ("\n".join((header, *lines)) + "\n").encode()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---- the cases -----------------------------------------------------------------------------

# "fast": every batch was taken by the fast path; "tried": the fast path was asked at least once
# (declining is fine); "never": it was not asked (not a two-column file, or quoted); a tuple:
# exactly what each call returned.
Expect = str | tuple[bool, ...]


def _chicago_naive_multi_batch() -> bytes:
    # 2023-12-01 .. 2024-06-30 naive: a middle batch holds 2024-03-10 (spring forward).
    zone = ZoneInfo(CHICAGO)
    start = datetime(2023, 12, 1, tzinfo=zone).astimezone(UTC)
    end = datetime(2024, 6, 30, tzinfo=zone).astimezone(UTC)
    return csv_bytes(stamps(start, int((end - start).total_seconds()) // HOUR, CHICAGO, "naive"))


def _big_with_a_bad_row_in_a_later_batch() -> bytes:
    times = stamps(utc(2024, 1, 1, 6), 7000, CHICAGO, "offset")
    values = values_for(7000)
    values[2 * 2048 + 100] = "oops"
    return csv_bytes(times, values)


def _fifteen_minutes(n_hours: int, drop: int | None = None) -> bytes:
    times = stamps(utc(2024, 6, 3, 5), n_hours * 4, CHICAGO, "offset", step=900)
    values = values_for(len(times))
    if drop is not None:
        del times[drop], values[drop]
    return csv_bytes(times, values)


def _rows(times: list[str], values: list[str] | None = None) -> list[str]:
    values = values_for(len(times)) if values is None else values
    return [f"{t},{v}" for t, v in zip(times, values, strict=True)]


JUNE = utc(2024, 6, 1, 5)
JUNE_ROWS = _rows(stamps(JUNE, 30, CHICAGO, "offset"))

CASES: list = [
    # -- clean files: the fast path must take them --
    pytest.param(
        csv_bytes(stamps(utc(2024, 3, 9, 6), 72, CHICAGO, "offset")),
        CHICAGO,
        "fast",
        id="offsets-spring",
    ),
    pytest.param(
        csv_bytes(stamps(utc(2024, 11, 2, 5), 72, CHICAGO, "offset")),
        CHICAGO,
        "fast",
        id="offsets-fall",
    ),
    pytest.param(csv_bytes(stamps(utc(2024, 3, 9, 0), 72, CHICAGO, "Z")), CHICAGO, "fast", id="z"),
    pytest.param(csv_bytes(stamps(utc(2024, 7, 1), 48, "UTC", "Z")), "UTC", "fast", id="z-in-utc"),
    pytest.param(
        csv_bytes(stamps(utc(2024, 3, 9, 6), 48, CHICAGO, "space")), CHICAGO, "fast", id="space"
    ),
    pytest.param(
        csv_bytes(local_day(CHICAGO, date(2024, 3, 9)) + local_day(CHICAGO, date(2024, 3, 11))),
        CHICAGO,
        "fast",
        id="naive-chicago-days-around-spring-forward",
    ),
    pytest.param(
        csv_bytes(local_day(CHICAGO, date(2024, 11, 2)) + local_day(CHICAGO, date(2024, 11, 4))),
        CHICAGO,
        "fast",
        id="naive-chicago-days-around-fall-back",
    ),
    pytest.param(
        csv_bytes(
            local_day(DUBLIN, date(2024, 3, 30))
            + local_day(DUBLIN, date(2024, 4, 1))
            + local_day(DUBLIN, date(2024, 10, 26))
            + local_day(DUBLIN, date(2024, 10, 28))
        ),
        DUBLIN,
        "fast",
        id="naive-dublin-days-around-both-changes",
    ),
    pytest.param(
        csv_bytes([*local_day(CHICAGO, date(2024, 3, 11), "naive")[:6], "2024-03-12T00:00:00"]),
        CHICAGO,
        "fast",
        id="naive-with-a-gap",
    ),
    pytest.param(
        csv_bytes(stamps(utc(1900, 1, 2, 6), 30, CHICAGO, "naive")),
        CHICAGO,
        "fast",
        id="naive-1900",
    ),
    pytest.param(csv_bytes(stamps(utc(2199, 12, 28), 30, "UTC", "Z")), "UTC", "fast", id="z-2199"),
    pytest.param(
        csv_bytes(stamps(utc(2024, 6, 1), 30, KOLKATA, "offset")),
        KOLKATA,
        "fast",
        id="kolkata-+05:30",
    ),
    pytest.param(
        csv_bytes(stamps(utc(2024, 6, 1), 48, KOLKATA, "naive", step=1800)),
        KOLKATA,
        "fast",
        id="kolkata-naive-30-minutes",
    ),
    pytest.param(_fifteen_minutes(6), CHICAGO, "fast", id="15-minutes"),
    pytest.param(_fifteen_minutes(6, drop=9), CHICAGO, "fast", id="15-minutes-incomplete-hour"),
    pytest.param(
        csv_bytes(
            stamps(JUNE, 20, CHICAGO, "offset"),
            [v.replace(".", ",") for v in values_for(20)],
            header="datetime;value_kwh",
            delimiter=";",
        ),
        CHICAGO,
        "fast",
        id="semicolon-decimal-comma",
    ),
    pytest.param(
        csv_bytes(
            stamps(JUNE, 20, CHICAGO, "offset"),
            ["1250", "0.5", "-0", "999999999999", "1000000000000", "3,5"] + ["7"] * 14,
            header="start_datetime;value_wh",
            delimiter=";",
        ),
        CHICAGO,
        "fast",
        id="value-wh",
    ),
    pytest.param(
        csv_bytes(
            stamps(JUNE, 16, CHICAGO, "offset"),
            [
                "+1",
                "-0",
                ".5",
                "5.",
                "0.000",
                "-0.000",
                "+.5",
                "-.25",
                "123456789.012345",
                "000001.5",
                "999999999",
                "1000000000",
                "-1000000000",
                "0.00000000000001",
                "-0.0",
                "+0",
            ],
        ),
        CHICAGO,
        "fast",
        id="plain-decimals-of-every-shape",
    ),
    pytest.param(
        csv_bytes(stamps(JUNE, 12, CHICAGO, "offset"), ["-0"] * 6 + ["0"] * 6),
        CHICAGO,
        "fast",
        id="signed-zeros",
    ),
    pytest.param(
        csv_bytes(stamps(JUNE, 30, CHICAGO, "offset"), newline="\r\n", bom=True),
        CHICAGO,
        "fast",
        id="crlf-and-bom",
    ),
    pytest.param(
        gzip.compress(csv_bytes(stamps(JUNE, 30, CHICAGO, "offset")), mtime=0),
        CHICAGO,
        "fast",
        id="gzip",
    ),
    pytest.param(lines_bytes(*JUNE_ROWS[::-1]), CHICAGO, "fast", id="reversed"),
    pytest.param(lines_bytes(*JUNE_ROWS[10:], *JUNE_ROWS[:10]), CHICAGO, "fast", id="unsorted"),
    pytest.param(
        lines_bytes(*JUNE_ROWS, JUNE_ROWS[3], JUNE_ROWS[7]), CHICAGO, "fast", id="duplicates"
    ),
    pytest.param(
        lines_bytes(*JUNE_ROWS, JUNE_ROWS[3].replace(",1.25", ",9")),
        CHICAGO,
        "fast",
        id="conflicting-duplicate",
    ),
    pytest.param(
        csv_bytes([s.replace("-05:00", "-06:00") for s in stamps(JUNE, 30, CHICAGO, "offset")]),
        CHICAGO,
        "fast",
        id="offset-mismatch",
    ),
    pytest.param(
        csv_bytes(
            [
                s[:19] + ("-05:00" if i % 2 else "+00:00")
                for i, s in enumerate(stamps(JUNE, 10, CHICAGO, "offset"))
            ]
        ),
        CHICAGO,
        "fast",
        id="offsets-flipping",
    ),
    pytest.param(
        csv_bytes(stamps(utc(2024, 6, 1, 5), 10, CHICAGO, "offset", step=86_400)),
        CHICAGO,
        "fast",
        id="daily-data",
    ),
    pytest.param(
        csv_bytes(stamps(utc(2024, 6, 1, 5, 30), 10, CHICAGO, "offset")),
        CHICAGO,
        "fast",
        id="not-on-the-hour",
    ),
    pytest.param(
        csv_bytes(stamps(utc(2023, 12, 31, 6), 48, CHICAGO, "offset"), ["9"] * 48),
        CHICAGO,
        "fast",
        id="solar-warnings",
    ),
    pytest.param(_chicago_naive_multi_batch(), CHICAGO, "one declined", id="naive-batches"),
    pytest.param(
        _big_with_a_bad_row_in_a_later_batch(),
        CHICAGO,
        "one declined",
        id="bad-row-in-a-later-batch",
    ),
    # -- the row loop's: the fast path declines (or is not asked) --
    pytest.param(
        csv_bytes(local_day(CHICAGO, date(2024, 3, 10))),
        CHICAGO,
        "tried",
        id="naive-spring-forward-day",
    ),
    pytest.param(
        csv_bytes(local_day(CHICAGO, date(2024, 11, 3))), CHICAGO, "tried", id="naive-fall-back-day"
    ),
    pytest.param(
        csv_bytes(local_day(CHICAGO, date(2024, 11, 3))[::-1]),
        CHICAGO,
        "tried",
        id="naive-fall-back-day-reversed",
    ),
    pytest.param(
        csv_bytes(local_day(DUBLIN, date(2024, 3, 31)) + local_day(DUBLIN, date(2024, 10, 27))),
        DUBLIN,
        "tried",
        id="naive-dublin-change-days",
    ),
    pytest.param(
        lines_bytes("2024-03-10T01:00:00,1", "2024-03-10T02:00:00,1", "2024-03-10T03:00:00,1"),
        CHICAGO,
        "tried",
        id="naive-nonexistent-hour",
    ),
    pytest.param(
        lines_bytes("2024-11-03T00:00:00,1", "2024-11-03T01:00:00,1", "2024-11-03T02:00:00,1"),
        CHICAGO,
        "tried",
        id="naive-ambiguous-hour-once",
    ),
    pytest.param(
        lines_bytes(JUNE_ROWS[0], JUNE_ROWS[1] + ",extra", JUNE_ROWS[2]),
        CHICAGO,
        "tried",
        id="three-fields",
    ),
    pytest.param(
        lines_bytes(JUNE_ROWS[0], JUNE_ROWS[1].split(",")[0], JUNE_ROWS[2]),
        CHICAGO,
        "tried",
        id="one-field",
    ),
    pytest.param(
        lines_bytes(JUNE_ROWS[0], "", JUNE_ROWS[1], "   ", JUNE_ROWS[2], ",", ""),
        CHICAGO,
        "tried",
        id="blank-lines",
    ),
    pytest.param(
        lines_bytes(JUNE_ROWS[0], JUNE_ROWS[1] + ",", JUNE_ROWS[2]),
        CHICAGO,
        "tried",
        id="trailing-delimiter",
    ),
    pytest.param(
        lines_bytes(
            *[",".join(row.split(",")[::-1]) for row in JUNE_ROWS[:5]], header="value_kwh,datetime"
        ),
        CHICAGO,
        "tried",
        id="value-column-first",
    ),
    pytest.param(
        lines_bytes(
            *[f"{row},SP-1" for row in JUNE_ROWS[:5]], header="datetime,value_kwh,customId"
        ),
        CHICAGO,
        "never",
        id="custom-id-column",
    ),
    pytest.param(
        lines_bytes(*[f"{row}," for row in JUNE_ROWS[:5]], header="datetime,value_kwh,note"),
        CHICAGO,
        "never",
        id="ignored-column",
    ),
    pytest.param(
        lines_bytes(*[f'"{t}",{v}' for t, v in (row.split(",") for row in JUNE_ROWS[:5])]),
        CHICAGO,
        "never",
        id="quoted",
    ),
    pytest.param(
        csv_bytes(stamps(JUNE, 5, CHICAGO, "offset"), ["1", "2", "1e10", "3", "4"]),
        CHICAGO,
        "tried",
        id="value-out-of-range",
    ),
]


@pytest.mark.parametrize(("data", "tz", "expect"), CASES)
def test_the_fast_path_agrees_with_the_row_loop(data: bytes, tz: str, expect: Expect) -> None:
    both = parse_both(data, tz)
    if expect == "fast":
        assert both.calls, "the fast path was never asked"
        assert all(both.calls), f"the fast path declined a clean batch: {both.calls}"
    elif expect == "tried":
        assert both.calls, "the fast path was never asked"
    elif expect == "never":
        assert both.calls == []
    elif expect == "one declined":
        # Several batches (their bounds follow the reads and _FIRST_BATCH_LINES), all taken
        # but the one with the bad row or the clock change.
        assert len(both.calls) >= 3 and both.calls.count(False) == 1, both.calls
    else:
        assert tuple(both.calls) == expect


def test_the_clean_cases_are_clean_and_the_big_one_has_its_error_where_planted() -> None:
    # The differential above compares reports; here, what the files hold (so a case that quietly
    # became all errors, or all rejected, is noticed).
    both = parse_both(csv_bytes(stamps(utc(2024, 3, 9, 6), 72, CHICAGO, "offset")), CHICAGO)
    assert both.fast.ok and both.fast.report.summary.readings == 72
    both = parse_both(_chicago_naive_multi_batch(), CHICAGO)
    assert both.fast.ok
    assert both.fast.report.summary.missing_hours == 0
    both = parse_both(_big_with_a_bad_row_in_a_later_batch(), CHICAGO)
    assert [(e.row, e.code) for e in both.fast.report.errors] == [(2 * 2048 + 102, "bad_value")]
    assert both.fast.report.summary.readings == 6999
    both = parse_both(_fifteen_minutes(6), CHICAGO)
    assert both.fast.ok and both.fast.report.summary.readings == 6
    assert both.fast.report.summary.resampled


# ---- one odd cell among valid rows, in first and in middle place --------------------------

ODD_VALUES = [
    "1e3",
    "1E-3",
    "  3",
    "3  ",
    " 3 ",
    "1234567890.123456",  # 16 digits
    "0.1234567890123456",
    "123456789012345.6",
    "1_000",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "",
    "-",
    "+",
    ".",
    "-.",
    "1.2.3",
    "+-1",
    "--1",
    "0x10",
    "1,5",  # a third field in a comma file
    "\u0661\u0662",  # Arabic-Indic 12: float() takes them
    "\uff13",  # fullwidth 3
    "1000000000.000001",
    "-1000000000.1",
    "1000000001",
    "5\t",
    "\t5",
    "5 kWh",
    "'5",
]


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("value", ODD_VALUES)
def test_an_odd_value_gets_the_row_loops_answer(value: str, where: str) -> None:
    times = stamps(JUNE, 3, CHICAGO, "offset")
    values = ["1", value, "2"] if where == "middle" else [value, "1", "2"]
    both = parse_both(csv_bytes(times, values), CHICAGO)
    assert both.calls


@pytest.mark.parametrize("where", ["first", "middle"])
@pytest.mark.parametrize("value", ["1,5", "1.5", "1,500,0", "1.000,5", ",5", "5,", "-,5", "1_0,5"])
def test_an_odd_value_with_a_decimal_comma_gets_the_row_loops_answer(
    value: str, where: str
) -> None:
    times = stamps(JUNE, 3, CHICAGO, "offset")
    values = ["1", value, "2"] if where == "middle" else [value, "1", "2"]
    data = csv_bytes(times, values, header="datetime;value_kwh", delimiter=";")
    both = parse_both(data, CHICAGO)
    assert both.calls


ODD_TIMES = [
    "2023-02-28T00:00:00-06:00",
    "2023-02-29T00:00:00-06:00",
    "2024-02-29T00:00:00-06:00",  # valid
    "2100-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",  # valid
    "2024-13-01T00:00:00-06:00",
    "2024-00-10T00:00:00-06:00",
    "2024-01-00T00:00:00-06:00",
    "2024-01-32T00:00:00-06:00",
    "2024-04-31T00:00:00-05:00",
    "2024-01-01T24:00:00-06:00",
    "2024-01-01T23:60:00-06:00",
    "2024-01-01T00:00:30-06:00",
    "2024-01-01T00:00:60-06:00",
    "2024-01-01T00:00:30",
    "2024-01-01T00:00:30Z",
    "1899-12-31T00:00:00-06:00",
    "1900-01-01T12:00:00Z",
    "1900-01-02T00:00:00Z",
    "1900-01-02T00:00:00+05:00",
    "2199-12-30T23:00:00Z",
    "2199-12-31T00:00:00Z",
    "2200-01-01T00:00:00-06:00",
    "0000-01-01T00:00:00Z",
    "9999-12-31T00:00:00Z",
    "2024-01-01t00:00:00-06:00",
    "2024-01-01T00:00:00z",
    "2024-01-01t00:00:00z",
    "2024-01-01T00:00:00+24:00",
    "2024-01-01T00:00:00+23:59",
    "2024-01-01T00:00:00+00:60",
    "2024-01-01T00:00:00+05:30",
    "2024-01-01T00:00:00+0530",
    "2024-01-01T00:00:00-00:00",
    "2024-01-01T00:00:00+00:00",
    "2024-01-01T00:00:00-06",
    "2024-01-01T00:00:00+05:30:15",
    "2024-01-01T00:00:00.000-06:00",
    "2024-01-01T00:00:00.000Z",
    "2024-01-01T00:00:00.000",
    "2024-01-01T00:00:00.5-06:00",
    "2024-01-01T00:00:00.5",
    "2024-01-01T00:00-06:00",
    "2024-01-01T00:00",
    "2024-01-01",
    "20240101T000000Z",
    "2024/01/01 00:00:00",
    " 2024-01-01T00:00:00Z",
    "2024-01-01T00:00:00Z ",
    "2024-01-01T00:00:00 Z",
    "2024-01-01T00:00:00UTC",
    "2024-01-01_00:00:00",
    "2024-01-01T00;00:00",
    "2024-01-01T0a:00:00",
    "2024-1-01T00:00:00-06:00",
    "२०२४-01-01T00:00:00Z",  # Devanagari digits
    "",
    "2024-03-10T02:00:00",  # naive, does not exist in Chicago
    "2024-11-03T01:00:00",  # naive, twice in Chicago
    "2024-03-10 02:30:00",
]


def _neighbours(stamp: str) -> list[str]:
    """Two valid times written with the odd one's width, so that the fast path's own field
    checks (not only its layout check) have to find what is wrong."""
    width = len(stamp)
    if width == 19:
        return ["2024-01-05T03:00:00", "2024-01-05T04:00:00"]
    if width == 20:
        return ["2024-01-05T09:00:00Z", "2024-01-05T10:00:00Z"]
    return ["2024-01-05T03:00:00-06:00", "2024-01-05T04:00:00-06:00"]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("stamp", ODD_TIMES)
def test_an_odd_time_gets_the_row_loops_answer(stamp: str, where: str) -> None:
    before, after = _neighbours(stamp)
    times = {
        "first": [stamp, before, after],
        "middle": [before, stamp, after],
        "last": [before, after, stamp],
    }[where]
    both = parse_both(csv_bytes(times, ["1", "2", "3"]), CHICAGO)
    assert both.calls


# ---- the differential can fail -------------------------------------------------------------


def test_the_comparison_sees_a_lost_sign_of_zero(monkeypatch) -> None:
    original = fast_path._fast_numbers

    def unsigned_zero(chars, decimal_comma):
        values = original(chars, decimal_comma)
        return None if values is None else values + 0.0  # -0.0 + 0.0 is 0.0

    monkeypatch.setattr(fast_path, "_fast_numbers", unsigned_zero)
    with pytest.raises(AssertionError, match="values differ"):
        parse_both(csv_bytes(stamps(JUNE, 4, CHICAGO, "offset"), ["1", "-0", "2", "3"]))


def test_the_comparison_sees_a_date_the_fast_path_should_not_take(monkeypatch) -> None:
    leap_every_year = fast_path._MONTH_DAYS.copy()
    leap_every_year[2] = 29
    monkeypatch.setattr(fast_path, "_MONTH_DAYS", leap_every_year)
    data = csv_bytes(["2023-02-28T23:00:00Z", "2023-02-29T00:00:00Z", "2023-03-01T01:00:00Z"])
    with pytest.raises(AssertionError):
        parse_both(data, "UTC")


def test_the_comparison_sees_a_day_off_in_the_fast_paths_dates(monkeypatch) -> None:
    original = fast_path._days_from_civil
    monkeypatch.setattr(
        fast_path, "_days_from_civil", lambda year, month, day: original(year, month, day) + 1
    )
    with pytest.raises(AssertionError, match="first"):  # the summary's first hour, at least
        parse_both(csv_bytes(local_day(CHICAGO, date(2024, 6, 1))), CHICAGO, SeriesContext())


def test_the_comparison_sees_instants_that_differ_under_an_equal_report() -> None:
    result = parse_readings(io.BytesIO(csv_bytes(stamps(JUNE, 3, CHICAGO, "offset"))), tz=CHICAGO)
    epochs, values = result.readings.arrays()
    moved = array("q", epochs)
    moved[1] += 1
    other = replace(result, readings=HourlyReadings(moved, values))
    assert_same(result, replace(result))
    with pytest.raises(AssertionError, match="epochs differ"):
        assert_same(result, other)


# ---- random files, randomly damaged --------------------------------------------------------

ZONES = (CHICAGO, DUBLIN, KOLKATA, "UTC")
# DST changes of 2024 in the zones above, and a quiet time: starts land near them often.
ANCHORS = (
    utc(2024, 3, 10, 8),
    utc(2024, 11, 3, 7),
    utc(2024, 3, 31, 1),
    utc(2024, 10, 27, 1),
    utc(2023, 6, 15),
)
MUTATION_CHARS = '0123456789-+:.,;TZtz _e\t\r"/\u0661'  # the last: Arabic-Indic 1


@st.composite
def number_text(draw: st.DrawFn) -> str:
    mantissa = draw(st.integers(0, 10**9))
    decimals = draw(st.integers(0, 6))
    sign = draw(st.sampled_from(["", "", "-", "+"]))
    digits = str(mantissa).rjust(decimals + 1, "0")
    if decimals:
        whole, fraction = digits[:-decimals], digits[-decimals:]
        if whole == "0" and draw(st.booleans()):
            whole = ""  # ".5"
        text = f"{whole}.{fraction}"
    else:
        text = digits + draw(st.sampled_from(["", "", "."]))  # "5."
    return sign + text


@st.composite
def damaged_file(draw: st.DrawFn) -> dict:
    zone = draw(st.sampled_from(ZONES))
    n = draw(st.integers(2, 150))
    anchor = draw(st.sampled_from(ANCHORS))
    start = anchor + timedelta(hours=draw(st.integers(-n - 24, 24)))
    style = draw(st.sampled_from(["offset", "naive", "Z", "space"]))
    step = draw(st.sampled_from([HOUR, HOUR, HOUR, 900]))
    delimiter = draw(st.sampled_from([",", ",", ";"]))
    unit = draw(st.sampled_from(["value_kwh", "value_wh"]))
    times = stamps(start, n, zone, style, step)
    values = draw(st.lists(number_text(), min_size=n, max_size=n))
    if delimiter == ";":
        values = [v.replace(".", ",") for v in values]
    lines = [f"{t}{delimiter}{v}" for t, v in zip(times, values, strict=True)]
    mutations = draw(
        st.lists(st.sampled_from(["char", "drop", "dup", "blank", "swap"]), max_size=4)
    )
    for kind in mutations:
        at = draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        if kind == "char":
            pos = draw(st.integers(0, max(len(line) - 1, 0)))
            new = draw(st.sampled_from(MUTATION_CHARS))
            lines[at] = line[:pos] + new + line[pos + 1 :]
        elif kind == "drop":
            cells = line.split(delimiter)
            del cells[draw(st.integers(0, len(cells) - 1))]
            lines[at] = delimiter.join(cells)
        elif kind == "dup":
            lines.insert(draw(st.integers(0, len(lines))), line)
        elif kind == "blank":
            lines.insert(at, draw(st.sampled_from(["", " ", delimiter])))
        else:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    data = newline.join([f"datetime{delimiter}{unit}", *lines]).encode() + newline.encode()
    return {
        "data": data,
        "zone": zone,
        "batch": draw(st.sampled_from([3, 16, 2048])),
        "clean": not mutations and style != "naive",
    }


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=damaged_file())
def test_random_damaged_files_get_the_same_answer_from_both_paths(case: dict) -> None:
    # Small batches put the fast path's batch edges (and the offset runs across them) to work.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core, "_BATCH_LINES", case["batch"])
        both = parse_both(case["data"], case["zone"])
    if case["clean"]:
        assert both.calls and all(both.calls), both.calls


def test_small_batches_still_split_a_file(monkeypatch) -> None:
    # The property test relies on patching _BATCH_LINES; check that it takes effect.
    monkeypatch.setattr(core, "_BATCH_LINES", 3)
    both = parse_both(csv_bytes(stamps(JUNE, 10, CHICAGO, "offset")))
    assert both.calls == [True] * 4
    assert np.array_equal(
        np.frombuffer(both.fast.readings.arrays()[0], np.int64),
        int(JUNE.timestamp()) + HOUR * np.arange(10),
    )
