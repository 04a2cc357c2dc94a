"""The interval-data CSV pipeline (readings/parser/): pure, no database.

Each rule of the upload format has a small file here; the property tests at the end check that
any hourly series survives a write and a parse exactly, and that no input makes the parser raise.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
import tracemalloc
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readings.parser import (
    Issue,
    Limits,
    ParseResult,
    Report,
    SeriesContext,
    parse_readings,
    report_to_csv,
)

FILES = Path(__file__).parent / "files"
NEW_YORK = ZoneInfo("America/New_York")


def parse(content: bytes | str, *, tz: str = "America/New_York", **kwargs) -> ParseResult:
    if isinstance(content, str):
        content = content.encode()
    return parse_readings(io.BytesIO(content), tz=tz, **kwargs)


def lines(*rows: str, header: str = "datetime,value_kwh") -> str:
    return "\n".join((header, *rows)) + "\n"


def codes(result: ParseResult, severity: str = "error") -> list[str]:
    issues = result.report.errors if severity == "error" else result.report.warnings
    return [issue.code for issue in issues]


def only_issue(result: ParseResult) -> Issue:
    assert result.report.error_count == 1, result.report.errors
    return result.report.errors[0]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def series(result: ParseResult) -> list[tuple[datetime, float]]:
    return list(result.readings)


class Trickle(io.RawIOBase):
    """A non-seekable stream that hands out a few bytes per read, and records the asks."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = memoryview(data)
        self.step = step
        self.asks: list[int] = []

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.asks.append(size)
        piece = bytes(self.data[: min(self.step, size if size >= 0 else len(self.data))])
        self.data = self.data[len(piece) :]
        return piece


# --- the file format ---------------------------------------------------------------------------


def test_it_reads_the_seed_example():
    with (FILES / "wattcarbon_example.csv").open("rb") as handle:
        result = parse_readings(handle, tz="America/New_York", filename="example.csv")
    assert result.ok, result.report.errors
    assert series(result) == [
        (utc(2022, 8, 1, 0), 0.1),
        (utc(2022, 8, 1, 1), 1.1),
        (utc(2022, 8, 1, 2), 2.3),
        (utc(2022, 8, 1, 3), 1.4),
        (utc(2022, 8, 1, 4), 1.6),
    ]
    summary = result.report.summary
    assert (summary.rows_read, summary.readings, summary.timezone) == (5, 5, "America/New_York")
    assert summary.first == utc(2022, 8, 1, 0) and summary.last == utc(2022, 8, 1, 4)
    assert summary.first_local == datetime(2022, 7, 31, 20, tzinfo=NEW_YORK)
    assert summary.last_local.isoformat() == "2022-08-01T00:00:00-04:00"
    assert summary.source_interval_minutes == 60 and not summary.resampled
    assert (summary.missing_hours, summary.gap_count, summary.coverage) == (0, 0, 1.0)


def test_it_reads_an_excel_semicolon_export_with_bom_crlf_quotes_and_decimal_commas():
    with (FILES / "excel_semicolon_export.csv").open("rb") as handle:
        result = parse_readings(handle, tz="America/New_York")
    assert result.ok, result.report.errors
    assert series(result) == [
        (utc(2024, 1, 15, 5), 0.25),
        (utc(2024, 1, 15, 6), 1.5),
        (utc(2024, 1, 15, 7), 2.0),
        (utc(2024, 1, 15, 8), -0.125),
    ]
    summary = result.report.summary
    assert summary.delimiter == ";" and summary.custom_ids == ("PV-7",)
    assert summary.rows_read == 4  # the row of bare delimiters is a blank spreadsheet row


def test_it_accepts_start_datetime_and_energy_kwh_in_any_case():
    result = parse(lines("2024-01-01T00:00:00Z,1.5", header="Start_DateTime , ENERGY_KWH"))
    assert result.ok and series(result) == [(utc(2024, 1, 1), 1.5)]


@pytest.mark.parametrize("column", ["value_wh", "energy_wh"])
def test_it_converts_watt_hours_to_kwh(column):
    result = parse(
        lines("2024-01-01T00:00:00Z,1234", "2024-01-01T01:00:00Z,-500", header=f"datetime,{column}")
    )
    assert result.ok
    # Divided, not multiplied by 0.001: the kWh is the float one would have typed.
    assert series(result) == [(utc(2024, 1, 1, 0), 1.234), (utc(2024, 1, 1, 1), -0.5)]
    assert result.report.summary.unit == "Wh"


def test_it_strips_a_utf8_bom_before_a_quoted_header():
    # Left in, the BOM would sit before the quote and csv would keep the quotes in the name.
    result = parse(b'\xef\xbb\xbf"datetime","value_kwh"\n"2024-01-01T00:00:00Z","1"\n')
    assert result.ok and len(result.readings) == 1


def test_it_reads_a_plain_semicolon_file_and_quoted_fields():
    text = '"datetime";"value_kwh"\n"2024-01-01T00:00:00Z";"2.5"\n2024-01-01T01:00:00Z;3\n'
    result = parse(text)
    assert result.ok and [v for _, v in result.readings] == [2.5, 3.0]
    assert result.report.summary.delimiter == ";"


def test_it_reads_gzip_by_its_magic_bytes_not_its_name():
    content = gzip.compress(lines("2024-01-01T00:00:00Z,1", "2024-01-01T01:00:00Z,2").encode())
    result = parse(content, filename="readings.csv")
    assert result.ok and len(result.readings) == 2
    assert result.report.summary.compressed


def test_it_reads_gzip_with_several_members():
    content = gzip.compress(b"datetime,value_kwh\n2024-01-01T00:00:00Z,1\n") + gzip.compress(
        b"2024-01-01T01:00:00Z,2\n"
    )
    result = parse(content)
    assert result.ok and [v for _, v in result.readings] == [1.0, 2.0]


def test_it_returns_the_custom_ids_and_refuses_a_second_device_in_one_file():
    result = parse(
        lines(
            "2024-01-01T00:00:00Z,1,PV-1",
            "2024-01-01T01:00:00Z,1,",
            "2024-01-01T02:00:00Z,1,PV-2",
            header="datetime,value_kwh,customId",
        )
    )
    assert result.report.summary.custom_ids == ("PV-1", "PV-2")
    issue = only_issue(result)
    assert (issue.row, issue.column, issue.code) == (4, "customId", "custom_id_mismatch")
    assert "'PV-1' on row 2" in issue.message
    assert len(result.readings) == 2  # the empty customId row belongs to the file's device


def test_it_warns_about_ignored_columns():
    result = parse(lines("2024-01-01T00:00:00Z,1,x", header="datetime,value_kwh,note"))
    assert result.ok and codes(result, "warning") == ["ignored_columns"]
    assert result.report.warnings[0].row == 1


def test_it_skips_blank_lines_and_blank_spreadsheet_rows():
    result = parse(
        "\n\ndatetime,value_kwh\n\n2024-01-01T00:00:00Z,1\n,\n   \n2024-01-01T01:00:00Z,2\n"
    )
    assert result.ok and result.report.summary.rows_read == 2


def test_it_numbers_rows_as_file_lines_with_the_header_as_row_1():
    result = parse(lines("2024-01-01T00:00:00Z,1", "", "2024-01-01T01:00:00Z,oops"))
    assert only_issue(result).row == 4


def test_it_reads_the_same_through_tiny_reads_of_a_non_seekable_stream():
    text = (
        "\ufeffdatetime;value_kwh\r\n"
        + "".join(
            f'"2024-03-0{d}T{h:02d}:00:00-05:00";"{h},5"\r\n' for d in (1, 2) for h in range(24)
        )
    ).encode()
    whole = parse(text)
    for step in (1, 2, 3, 7):
        trickled = parse_readings(Trickle(text, step), tz="America/New_York")
        assert series(trickled) == series(whole)
        assert trickled.report == whole.report


def test_it_streams_the_file_in_bounded_reads():
    row = "2024-01-01T00:00:00Z,1\n"
    stream = Trickle(("datetime,value_kwh\n" + row * 150_000).encode(), step=1 << 30)
    parse_readings(stream, tz="UTC")
    assert len(stream.asks) > 3 and max(stream.asks) <= 1 << 20


# --- whole-file rejections: exactly one message ---------------------------------------------


@pytest.mark.parametrize("content", [b"", b"\n\n  \r\n", gzip.compress(b"")])
def test_it_rejects_an_empty_file(content):
    issue = only_issue(parse(content, filename="june.csv"))
    assert issue.code == "empty_file" and issue.message == "'june.csv' is empty."
    assert issue.row is None


def test_it_rejects_a_header_only_file():
    result = parse("datetime,value_kwh\r\n\r\n")
    issue = only_issue(result)
    assert (issue.code, issue.row) == ("header_only", 1)
    assert len(result.readings) == 0


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "(.xls)"),
        (b"%PDF-1.7\n", "PDF"),
    ],
)
def test_it_rejects_a_binary_file(content, words):
    issue = only_issue(parse(content))
    assert issue.code == "binary_file" and words in issue.message


def test_it_rejects_a_nul_byte_after_the_first_chunk_naming_its_line():
    content = lines(*["2024-01-01T00:00:00Z,1"] * 60_000).encode() + b"2024-01-01\x00,1\n"
    issue = only_issue(parse(content))
    assert (issue.code, issue.row) == ("binary_file", 60_002)


def test_it_rejects_a_file_that_is_not_utf8_naming_the_line():
    content = "datetime,value_kwh,customId\n2024-01-01T00:00:00Z,1,Café\n".encode("cp1252")
    issue = only_issue(parse(content))
    assert (issue.code, issue.row) == ("not_utf8", 2)
    assert "0xE9" in issue.message and "CSV UTF-8" in issue.message


def test_it_rejects_utf16():
    issue = only_issue(parse(lines("2024-01-01T00:00:00Z,1").encode("utf-16")))
    assert issue.code == "not_utf8" and "UTF-16" in issue.message


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("timestamp,kwh", "a time column (datetime or start_datetime) and a value column"),
        ("datetime,usage", "a value column (value_kwh, energy_kwh, value_wh or energy_wh)"),
        ("datetime\tvalue_kwh", "first line is 'datetime\tvalue_kwh'"),
        ("2024-01-01T00:00:00Z,1", "is data, not a header"),
    ],
)
def test_it_rejects_a_file_without_the_right_columns(header, needle):
    issue = only_issue(parse(lines("2024-01-01T01:00:00Z,1", header=header)))
    assert issue.code == "missing_columns" and issue.row == 1
    assert needle in issue.message


def test_it_rejects_two_columns_for_the_same_thing():
    issue = only_issue(parse(lines("x,x,1", header="datetime,start_datetime,value_kwh")))
    assert issue.code == "ambiguous_columns" and "datetime, start_datetime" in issue.message


def test_it_rejects_a_file_over_the_size_limit():
    content = lines(*["2024-01-01T00:00:00Z,1"] * 100).encode()
    issue = only_issue(parse(content, limits=Limits(max_bytes=1000)))
    assert issue.code == "too_large" and "1,000 bytes" in issue.message


def test_it_bounds_the_decompressed_size_of_a_gzip_file():
    content = gzip.compress(lines(*["2024-01-01T00:00:00Z,1"] * 100).encode())
    assert len(content) < 1000
    issue = only_issue(parse(content, limits=Limits(max_bytes=1000)))
    assert issue.code == "too_large" and "when decompressed" in issue.message


def test_it_refuses_a_gzip_bomb_in_bounded_memory():
    # 120 MB of blank-ish lines that deflate packs ~1000-fold into ~120 kB.
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = (b" " * 4000 + b"\n") * 256
    bomb = packer.compress(b"datetime,value_kwh\n")
    for _ in range(120):
        bomb += packer.compress(block)
    bomb += packer.flush()
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    try:
        result = parse(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    issue = only_issue(result)
    assert issue.code == "gzip_bomb" and "compression bomb" in issue.message
    assert peak < 24 << 20, f"decompression held {peak:,} bytes"


@pytest.mark.parametrize("damage", ["truncate", "corrupt"])
def test_it_rejects_a_damaged_gzip_file(damage):
    content = bytearray(gzip.compress(lines(*["2024-01-01T00:00:00Z,1"] * 200).encode()))
    if damage == "truncate":
        content = content[: len(content) // 2]
    else:
        content[20:40] = b"\xff" * 20
    issue = only_issue(parse(bytes(content)))
    assert issue.code == "bad_gzip"


def test_it_rejects_an_overlong_line_naming_it():
    content = lines("2024-01-01T00:00:00Z,1", "2024-01-01T01:00:00Z," + "9" * 5000)
    issue = only_issue(parse(content))
    assert (issue.code, issue.row) == ("line_too_long", 3)


@pytest.mark.parametrize(
    ("head", "row"), [(b"datetime,value_kwh\n", 2), (b"", 1)], ids=["after-header", "no-newline"]
)
def test_it_stops_reading_at_an_overlong_line_without_a_newline(head, row):
    stream = Trickle(head + b"9" * (8 << 20), step=1 << 30)
    issue = only_issue(parse_readings(stream, tz="UTC"))
    assert (issue.code, issue.row) == ("line_too_long", row)
    assert len(stream.asks) <= 2  # refused after the first chunk, not after 8 MiB


def test_it_hints_at_cr_only_line_endings():
    content = ("datetime,value_kwh\r" + "2024-01-01T00:00:00Z,1\r" * 300).encode()
    issue = only_issue(parse(content))
    assert issue.code == "line_too_long" and "CR alone" in issue.message


def test_it_rejects_more_rows_than_the_limit():
    content = lines(*[f"2024-01-01T0{h}:00:00Z,1" for h in range(5)])
    issue = only_issue(parse(content, limits=Limits(max_rows=3)))
    assert issue.code == "too_many_rows" and "3 rows" in issue.message
    assert parse(content, limits=Limits(max_rows=5)).ok


def test_it_drops_row_errors_when_the_file_is_rejected_later():
    content = lines("nonsense,1", *["2024-01-01T00:00:00Z,1"] * 100).encode()
    result = parse(content, limits=Limits(max_bytes=1000))
    assert codes(result) == ["too_large"] and len(result.readings) == 0


def test_it_raises_for_an_unknown_timezone():
    with pytest.raises(ValueError, match="America/Gotham"):
        parse(lines("2024-01-01T00:00:00Z,1"), tz="America/Gotham")


# --- timestamps ----------------------------------------------------------------------------


def test_it_takes_offsets_and_z_as_exact_instants():
    result = parse(
        lines(
            "2024-07-01T00:00:00Z,1",
            "2024-07-01T01:00:00+00:00,2",
            "2024-06-30T23:00:00-03:00,3",
            "2024-07-01 07:30:00+04:30,4",
            "2024-07-01t04:00:00z,5",
        )
    )
    assert result.ok, result.report.errors
    assert series(result) == [(utc(2024, 7, 1, h), float(h + 1)) for h in range(5)]


def test_it_reads_naive_times_in_the_site_timezone():
    result = parse(lines("2024-01-15T09:00:00,1", "2024-07-15T09:00:00,2"))
    assert [d for d, _ in result.readings] == [utc(2024, 1, 15, 14), utc(2024, 7, 15, 13)]
    berlin = parse(lines("2024-01-15T09:00:00,1"), tz="Europe/Berlin")
    assert [d for d, _ in berlin.readings] == [utc(2024, 1, 15, 8)]


def test_it_rejects_a_naive_time_in_the_spring_forward_gap():
    result = parse(lines("2024-03-10T01:00:00,1", "2024-03-10T02:00:00,2", "2024-03-10T03:00:00,3"))
    issue = only_issue(result)
    assert (issue.row, issue.column, issue.code) == (3, "datetime", "nonexistent_local_time")
    assert "2024-03-10 02:00 does not exist in America/New_York" in issue.message
    assert "from 02:00 straight to 03:00" in issue.message
    # 01:00 EST and 03:00 EDT are one hour apart: no gap is reported around the change.
    assert [d for d, _ in result.readings] == [utc(2024, 3, 10, 6), utc(2024, 3, 10, 7)]
    assert result.report.summary.missing_hours == 0


def test_it_resolves_the_repeated_autumn_hour_by_file_order():
    result = parse(
        lines(
            "2024-11-03T00:00:00,1",
            "2024-11-03T01:00:00,2",
            "2024-11-03T01:00:00,3",
            "2024-11-03T02:00:00,4",
        )
    )
    assert result.ok, result.report.errors
    # The first 01:00 is daylight time (05:00Z), the second standard time (06:00Z).
    assert series(result) == [
        (utc(2024, 11, 3, 4), 1.0),
        (utc(2024, 11, 3, 5), 2.0),
        (utc(2024, 11, 3, 6), 3.0),
        (utc(2024, 11, 3, 7), 4.0),
    ]


def test_it_resolves_the_repeated_autumn_hour_in_a_file_in_reverse_order():
    result = parse(
        lines(
            "2024-11-03T02:00:00,4",
            "2024-11-03T01:00:00,3",
            "2024-11-03T01:00:00,2",
            "2024-11-03T00:00:00,1",
        )
    )
    assert result.ok
    assert series(result) == [
        (utc(2024, 11, 3, 4), 1.0),
        (utc(2024, 11, 3, 5), 2.0),
        (utc(2024, 11, 3, 6), 3.0),
        (utc(2024, 11, 3, 7), 4.0),
    ]


def test_it_resolves_quarter_hours_in_the_repeated_autumn_hour():
    quarters = [f"2024-11-03T01:{m:02d}:00,1" for m in (0, 15, 30, 45)]
    result = parse(
        lines(
            *quarters,
            *quarters,
            "2024-11-03T02:00:00,1",
            "2024-11-03T02:15:00,1",
            "2024-11-03T02:30:00,1",
            "2024-11-03T02:45:00,1",
        )
    )
    assert result.ok, result.report.errors
    assert series(result) == [(utc(2024, 11, 3, h), 4.0) for h in (5, 6, 7)]


def test_it_rejects_a_repeated_autumn_hour_given_once():
    result = parse(lines("2024-11-03T00:00:00,1", "2024-11-03T01:00:00,2", "2024-11-03T02:00:00,3"))
    issue = only_issue(result)
    assert (issue.row, issue.code) == (3, "ambiguous_local_time")
    assert "happens twice in America/New_York" in issue.message
    assert "2024-11-03T01:00:00-04:00" in issue.message  # how to write it unambiguously
    assert len(result.readings) == 2


def test_it_rejects_a_repeated_autumn_hour_in_a_file_in_no_order():
    result = parse(
        lines(
            "2024-11-03T02:00:00,4",
            "2024-11-03T01:00:00,2",
            "2024-11-03T00:00:00,1",
            "2024-11-03T01:00:00,3",
            "2024-11-03T03:00:00,5",
        )
    )
    assert codes(result) == ["ambiguous_local_time"] * 2
    assert "not in time order" in result.report.errors[0].message


def test_it_explains_both_daylight_saving_days_of_a_naive_year():
    start = datetime(2024, 3, 9)
    naive = [start + timedelta(hours=h) for h in range(24 * 240)]
    rows, seen = [], set()
    for moment in naive:
        text = moment.isoformat()
        if moment.date() == date(2024, 11, 3) and moment.hour == 1 and text not in seen:
            rows.append(f"{text},1")  # the repeated hour, twice, in order
        seen.add(text)
        rows.append(f"{text},1")
    result = parse(lines(*rows))
    assert codes(result) == ["nonexistent_local_time"]  # 2024-03-10 02:00
    days = {day.day: day for day in result.report.summary.dst_days}
    assert set(days) == {date(2024, 3, 10), date(2024, 11, 3)}
    spring, autumn = days[date(2024, 3, 10)], days[date(2024, 11, 3)]
    assert (spring.hours, spring.readings) == (23, 23)
    assert (autumn.hours, autumn.readings) == (25, 25)
    assert "clocks go forward at 02:00 to 03:00" in spring.note
    assert "the hour from 01:00 happens twice" in autumn.note
    assert result.report.summary.missing_hours == 0


@pytest.mark.parametrize(
    ("stamp", "code"),
    [
        ("yesterday", "bad_time"),
        ("01/02/2024 13:00", "bad_time"),
        ("2024-01-01", "bad_time"),
        ("", "empty_time"),
        ("2024-01-01T00:00:00.5Z", "fractional_seconds"),
        ("0224-01-01T00:00:00Z", "time_out_of_range"),
    ],
)
def test_it_rejects_a_bad_time(stamp, code):
    result = parse(lines("2024-01-01T05:00:00Z,1", f"{stamp},1"))
    issue = only_issue(result)
    assert (issue.row, issue.column, issue.code) == (3, "datetime", code)


def test_it_says_a_date_alone_has_no_time_of_day():
    issue = only_issue(parse(lines("2024-01-01,24")))
    assert "a date without a time of day" in issue.message


# --- spacing -------------------------------------------------------------------------------


def test_it_sums_complete_15_minute_hours_with_a_warning():
    quarter = [0.1, 0.2, 0.3, 0.4]
    rows = [f"2024-01-01T{h:02d}:{15 * q:02d}:00Z,{quarter[q]}" for h in range(3) for q in range(4)]
    result = parse(lines(*rows))
    assert result.ok
    assert series(result) == [(utc(2024, 1, 1, h), 1.0) for h in range(3)]
    assert codes(result, "warning") == ["resampled"]
    summary = result.report.summary
    assert summary.resampled and summary.source_interval_minutes == 15
    assert (summary.rows_read, summary.readings) == (12, 3)


def test_it_sums_30_minute_data():
    result = parse(
        lines(*[f"2024-01-01T0{h}:{m}:00Z,1.25" for h in range(2) for m in ("00", "30")])
    )
    assert result.ok and series(result) == [(utc(2024, 1, 1, 0), 2.5), (utc(2024, 1, 1, 1), 2.5)]


def test_it_sums_15_minute_data_into_utc_hours_in_a_half_hour_zone():
    rows = [f"2024-01-01T05:{m:02d}:00,1" for m in (30, 45)] + [
        f"2024-01-01T06:{m:02d}:00,1" for m in (0, 15)
    ]
    result = parse(lines(*rows), tz="Asia/Kolkata")
    assert result.ok and series(result) == [(utc(2024, 1, 1, 0), 4.0)]


def test_it_rejects_an_incomplete_15_minute_hour_naming_its_rows():
    rows = [f"2024-01-01T00:{m:02d}:00Z,1" for m in (0, 15, 30, 45)]
    rows += [f"2024-01-01T01:{m:02d}:00Z,1" for m in (0, 15, 45)]
    result = parse(lines(*rows))
    issue = only_issue(result)
    assert (issue.row, issue.code) == (6, "incomplete_hour")
    assert "has 3 of its 4 15-minute readings (rows 6-8)" in issue.message
    assert series(result) == [(utc(2024, 1, 1, 0), 4.0)]


def test_it_rejects_irregular_spacing():
    rows = [f"2024-01-01T00:{m:02d}:00Z,1" for m in (0, 15, 30, 45)]
    rows += ["2024-01-01T01:00:00Z,1", "2024-01-01T01:20:00Z,1"]
    rows += [f"2024-01-01T01:{m:02d}:00Z,1" for m in (15, 30, 45)]
    result = parse(lines(*rows))
    assert codes(result) == ["off_grid"] and result.report.errors[0].row == 7
    assert len(result.readings) == 2


def test_it_rejects_an_hourly_reading_off_the_hour_alone():
    result = parse(
        lines(
            "2024-01-01T00:00:00Z,1",
            "2024-01-01T01:30:00Z,1",
            "2024-01-01T02:00:00Z,1",
            "2024-01-01T03:00:00Z,1",
        )
    )
    issue = only_issue(result)
    assert (issue.row, issue.code) == (3, "not_on_hour")


def test_it_explains_utc_hours_in_a_half_hour_zone():
    result = parse(lines("2024-01-01T00:00:00+05:30,1"), tz="Asia/Kolkata")
    issue = only_issue(result)
    assert issue.code == "not_on_hour" and "at :30 local time" in issue.message


def test_it_reports_gaps():
    hours = [0, 1, 2, 5, 6, 10]
    result = parse(lines(*[f"2024-01-01T{h:02d}:00:00Z,1" for h in hours]))
    assert result.ok
    summary = result.report.summary
    assert (summary.gap_count, summary.missing_hours) == (2, 5)
    first = summary.gaps[0]
    assert (first.start, first.end, first.hours) == (utc(2024, 1, 1, 3), utc(2024, 1, 1, 5), 2)
    assert first.start_local.isoformat() == "2023-12-31T22:00:00-05:00"
    assert summary.expected_hours == 11 and summary.coverage == 6 / 11


def test_it_rejects_daily_data_placed_on_the_hour():
    result = parse(lines(*[f"2024-01-{d:02d}T00:00:00Z,24" for d in range(1, 15)]))
    assert codes(result) == ["not_hourly"]
    assert "24 hours apart" in result.report.errors[0].message


def test_it_sorts_a_shuffled_file():
    rows = [f"2024-01-01T{h:02d}:00:00Z,{h}" for h in range(24)]
    random.Random(7).shuffle(rows)
    result = parse(lines(*rows))
    assert result.ok and series(result) == [(utc(2024, 1, 1, h), float(h)) for h in range(24)]


# --- duplicates ----------------------------------------------------------------------------


def test_it_drops_identical_duplicates_with_a_warning():
    result = parse(
        lines(
            "2024-01-01T00:00:00Z,1.5",
            "2024-01-01T00:00:00Z,1.50",
            "2024-01-01T01:00:00Z,2",
            "2023-12-31T19:00:00-05:00,1.5",  # the first instant again, written otherwise
        )
    )
    assert result.ok
    assert codes(result, "warning") == ["duplicate_dropped", "duplicate_dropped"]
    assert [w.row for w in result.report.warnings] == [3, 5]
    assert "Repeats row 2" in result.report.warnings[0].message
    assert result.report.summary.duplicates_dropped == 2
    assert series(result) == [(utc(2024, 1, 1, 0), 1.5), (utc(2024, 1, 1, 1), 2.0)]


def test_it_rejects_conflicting_duplicates():
    result = parse(
        lines("2024-01-01T01:00:00Z,2", "2024-01-01T00:00:00Z,1", "2024-01-01T00:00:00Z,3")
    )
    issue = only_issue(result)
    assert (issue.row, issue.code) == (4, "conflicting_duplicate")
    assert "also on row 3 with a different value (1 there, 3 here)" in issue.message
    assert series(result)[0] == (utc(2024, 1, 1, 0), 1.0)  # the file's first row is kept


# --- values --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("abc", "bad_value"),
        ("1.5 kWh", "bad_value"),
        ("1_000", "bad_value"),
        ("", "empty_value"),
        ("NaN", "non_finite_value"),
        ("inf", "non_finite_value"),
        ("-Infinity", "non_finite_value"),
        ("1e400", "non_finite_value"),
        ("1e10", "value_out_of_range"),
        ("-2e9", "value_out_of_range"),
    ],
)
def test_it_rejects_a_bad_value(value, code):
    result = parse(lines("2024-01-01T00:00:00Z,1", f"2024-01-01T01:00:00Z,{value}"))
    issue = only_issue(result)
    assert (issue.row, issue.column, issue.code) == (3, "value_kwh", code)
    assert len(result.readings) == 1


def test_it_bounds_watt_hours_in_watt_hours():
    result = parse(lines("2024-01-01T00:00:00Z,5e11", header="datetime,value_wh"))
    assert result.ok and [v for _, v in result.readings] == [5e8]
    assert codes(parse(lines("2024-01-01T00:00:00Z,5e12", header="datetime,value_wh"))) == [
        "value_out_of_range"
    ]


def test_it_points_at_a_decimal_comma_in_a_comma_file():
    issue = only_issue(parse(lines("2024-01-01T00:00:00Z,1,5")))
    assert issue.code == "column_count" and "decimal comma" in issue.message


def test_it_reports_a_bad_value_and_a_bad_time_on_one_row():
    result = parse(lines("someday,lots"))
    assert sorted(codes(result)) == ["bad_time", "bad_value"]


def test_it_keeps_negative_values_as_added_consumption():
    result = parse(lines("2024-01-01T00:00:00Z,-2.5", "2024-01-01T01:00:00Z,-0"))
    assert result.ok and [v for _, v in result.readings] == [-2.5, 0.0]


# --- plausibility warnings -----------------------------------------------------------------


def test_it_warns_above_the_nameplate_capacity():
    result = parse(
        lines("2024-06-01T12:00:00-04:00,5", "2024-06-01T13:00:00-04:00,5.01"),
        context=SeriesContext(nameplate_kw=5),
    )
    assert result.ok and codes(result, "warning") == ["above_nameplate"]
    warning = result.report.warnings[0]
    assert (warning.row, warning.column) == (3, "value_kwh")
    assert "5.01 kWh" in warning.message and "5 kW" in warning.message


def test_it_warns_about_solar_at_night_in_local_time():
    stamps = {h: f"2024-06-01T{h:02d}:00:00-04:00" for h in (4, 5, 20, 21, 22)}
    result = parse(
        lines(
            f"{stamps[4]},0.5",  # night
            f"{stamps[5]},0.5",  # morning
            f"{stamps[20]},0.5",  # evening
            f"{stamps[21]},0.11",  # night
            f"{stamps[22]},0.1",  # night, but not above 0.1
        ),
        context=SeriesContext(kind="solar"),
    )
    assert [w.row for w in result.report.warnings if w.code == "solar_at_night"] == [2, 5]


def test_it_ignores_night_readings_of_other_kinds():
    result = parse(lines("2024-06-01T02:00:00-04:00,3"), context=SeriesContext(kind="storage"))
    assert result.report.warning_count == 0


def test_it_warns_about_negative_solar_once():
    result = parse(
        lines("2024-06-01T02:00:00-04:00,-0.01", "2024-06-01T03:00:00-04:00,-0.02"),
        context=SeriesContext(kind="Solar"),
    )
    assert codes(result, "warning") == ["negative_solar"]
    assert result.report.warnings[0].message.startswith("2 solar readings are negative")


def test_it_warns_about_data_before_the_commenced_date_in_local_time():
    result = parse(
        lines(
            "2024-06-01T22:00:00-04:00,1",
            "2024-06-01T23:00:00-04:00,1",
            "2024-06-02T04:00:00Z,1",  # 00:00 local on the commenced date
        ),
        context=SeriesContext(commenced_on=date(2024, 6, 2)),
    )
    assert codes(result, "warning") == ["before_commenced"]
    warning = result.report.warnings[0]
    assert warning.row == 2 and "2 hourly readings (rows 2-3) are before" in warning.message


def test_it_warns_when_the_file_offsets_disagree_with_the_site_timezone():
    standard_all_year = parse(lines("2024-07-01T00:00:00-05:00,1", "2024-07-01T01:00:00-05:00,1"))
    assert codes(standard_all_year, "warning") == ["offset_mismatch"]
    assert "2 rows give a UTC offset" in standard_all_year.report.warnings[0].message
    assert parse(lines("2024-07-01T00:00:00-04:00,1")).report.warning_count == 0
    assert parse(lines("2024-07-01T00:00:00Z,1")).report.warning_count == 0


# --- the report ----------------------------------------------------------------------------


def test_it_caps_the_stored_issues_but_counts_them_all():
    rows = [f"2024-01-01T{h:02d}:00:00Z,x" for h in range(10)]
    result = parse(lines(*rows), limits=Limits(max_issues=3))
    report = result.report
    assert (len(report.errors), report.error_count) == (3, 10)
    assert report_to_csv(report).splitlines()[-1] == "error,,,... and 7 more not listed"


def test_it_sorts_issues_by_row():
    result = parse(
        lines("2024-01-01T01:00:00Z,1", "2024-01-01T01:00:00Z,2", "2024-01-01T00:00:00Z,x")
    )
    assert [issue.row for issue in result.report.errors] == [3, 4]


def test_it_writes_the_report_as_csv_neutralising_spreadsheet_formulas():
    report = Report(
        errors=(
            Issue("error", 2, '=HYPERLINK("x")', "=cmd|' /C calc'!A0", "bad_value"),
            Issue("error", 3, "value_kwh", "+1+1", "bad_value"),
            Issue("error", 4, "value_kwh", "-2+3", "bad_value"),
            Issue("error", 5, "value_kwh", "@SUM(A1)", "bad_value"),
            Issue("error", 6, "value_kwh", "\t=1", "bad_value"),
            Issue("error", 7, "value_kwh", "\r=1", "bad_value"),
        ),
        warnings=(Issue("warning", None, None, "Plain, with a comma", "resampled"),),
        error_count=6,
        warning_count=1,
        summary=parse(lines("2024-01-01T00:00:00Z,1")).report.summary,
    )
    rows = list(csv.reader(io.StringIO(report_to_csv(report))))
    assert rows[0] == ["severity", "row", "column", "message"]
    assert rows[1] == ["error", "2", '\'=HYPERLINK("x")', "'=cmd|' /C calc'!A0"]
    assert [row[3] for row in rows[2:7]] == ["'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "'\r=1"]
    assert rows[7] == ["warning", "", "", "Plain, with a comma"]


def test_it_reports_an_injected_formula_value_without_letting_it_run():
    result = parse(lines("2024-01-01T00:00:00Z,=cmd|' /C calc'!A0"))
    assert codes(result) == ["bad_value"]
    for row in list(csv.reader(io.StringIO(report_to_csv(result.report))))[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


def test_it_gives_the_readings_as_utc_datetimes_and_as_arrays():
    result = parse(lines("2024-01-01T00:00:00Z,1", "2024-01-01T01:00:00Z,2"))
    epochs, values = result.readings.arrays()
    assert list(epochs) == [1704067200, 1704070800] and list(values) == [1.0, 2.0]
    first, _ = next(iter(result.readings))
    assert first.tzinfo is UTC


# --- properties ----------------------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"]
# Any float a meter could mean: the parser refuses beyond +-1e9 kWh in an hour.
finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 24 * 365 * 3),
    steps=st.lists(st.integers(1, 12), min_size=0, max_size=150),
    data=st.data(),
)
def test_it_round_trips_any_hourly_series_written_with_offsets(zone, start, steps, data):
    base = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
    epochs = [base + start * 3600]
    for step in steps:
        epochs.append(epochs[-1] + step * 3600)
    values = data.draw(st.lists(finite, min_size=len(epochs), max_size=len(epochs)))
    site = ZoneInfo(zone)
    writers = [
        lambda e: datetime.fromtimestamp(e, site).isoformat(),
        lambda e: datetime.fromtimestamp(e, UTC).isoformat().replace("+00:00", "Z"),
        lambda e: datetime.fromtimestamp(e, timezone(timedelta(hours=-3, minutes=-30))).isoformat(),
    ]
    chosen = data.draw(
        st.lists(st.sampled_from(writers), min_size=len(epochs), max_size=len(epochs))
    )
    rows = [f"{write(e)},{v!r}" for write, e, v in zip(chosen, epochs, values, strict=True)]
    if data.draw(st.booleans()):
        rows = data.draw(st.permutations(rows))
    result = parse(lines(*rows), tz=zone)
    assert result.ok, result.report.errors
    got_epochs, got_values = result.readings.arrays()
    assert list(got_epochs) == epochs
    assert [repr(v) for v in got_values] == [repr(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    content=st.binary(max_size=3000),
    prefix=st.sampled_from([b"", b"datetime,value_kwh\n", b"\x1f\x8b"]),
)
def test_it_never_raises_on_random_bytes(content, prefix):
    result = parse(prefix + content)
    assert result.ok == (result.report.error_count == 0)
    assert result.ok or result.report.errors


@settings(max_examples=300, deadline=None)
@given(
    body=st.text(alphabet='0123456789-:T +Z.,;\n\r"eNaIf_', max_size=600),
    zone=st.sampled_from(ZONES),
    header=st.sampled_from(
        ["datetime,value_kwh", "start_datetime;energy_wh", "datetime,value_kwh,customId"]
    ),
)
def test_it_never_raises_on_csv_like_noise_and_keeps_its_invariants(body, zone, header):
    result = parse(
        f"{header}\n{body}", tz=zone, context=SeriesContext("solar", 1.0, date(2024, 1, 1))
    )
    report = result.report
    assert report.error_count >= len(report.errors) and report.warning_count >= len(report.warnings)
    epochs, values = result.readings.arrays()
    assert all(a < b for a, b in pairwise(epochs))
    assert all(epoch % 3600 == 0 for epoch in epochs)
    assert len(values) == len(epochs) == report.summary.readings
