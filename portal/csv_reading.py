"""Reading an import file: size, encoding, delimiter, header, rows, and the cells a spreadsheet
would run as a formula. The first step of `portal.csv_import`; a problem here rejects the file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# More errors than this are still counted, but a page would be unreadable: it shows the first ones.
ERRORS_SHOWN = 1000


# --- what a file may hold -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column an importer understands: its name in the header and what goes in it."""

    name: str
    help: str = ""
    required: bool = False  # the header must have it (a cell may still be blank where allowed)
    aliases: tuple[str, ...] = ()


def header_key(name: str) -> str:
    """How header names are compared: case, spaces, dots, dashes and underscores do not matter,
    so `customId`, `custom_id` and `Custom ID` are the same column."""
    return re.sub(r"[\s_.\-]+", "", name).lower()


@dataclass(frozen=True)
class Limits:
    """What one import may cost; a whole portfolio's worth of rows still fits in one file."""

    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 50_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Issue:
    """One problem, located by file row (header = 1; None for the file as a whole) and column."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"File: {self.message}"
        if self.column:
            return f"Row {self.row}, {self.column}: {self.message}"
        return f"Row {self.row}: {self.message}"


class FileRejected(Exception):
    """The file as a whole cannot be imported; `issues` say why."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.issues = [Issue(None, None, message) for message in messages]


@dataclass
class Row:
    """One data row: canonical column name -> stripped cell text, for the columns the file has."""

    number: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def has(self, column: str) -> bool:
        """Whether the file has this column at all (a blank cell and a missing column differ on
        update: a missing column leaves the field as it is)."""
        return column in self.cells


@dataclass
class CsvFile:
    """A file that passed the file-level checks."""

    columns: list[str]
    rows: list[Row]
    delimiter: str
    issues: list[Issue] = field(default_factory=list)  # rows too broken to plan


def _size(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def read_upload(source: bytes | IO[bytes], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes, refusing more than `limits.max_bytes` without reading it all."""
    if isinstance(source, bytes):
        data = source
    else:
        size = getattr(source, "size", None)
        if size is not None and size > limits.max_bytes:
            raise FileRejected(_too_big(size, limits))
        data = source.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise FileRejected(_too_big(len(data), limits))
    return data


def _too_big(n_bytes: int, limits: Limits) -> str:
    return (
        f"The file is {_size(n_bytes)}; at most {_size(limits.max_bytes)} can be imported at once. "
        "Split it into smaller files."
    )


def _decode(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise FileRejected("The file is UTF-16 text. Save it as “CSV UTF-8” and upload it again.")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if b"\x00" in data:
        raise FileRejected("This is not a CSV text file (it contains binary data).")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(
            f"Line {line} is not UTF-8 text. Save the file as “CSV UTF-8” and upload it again."
        ) from None
    if not text.strip():
        raise FileRejected("The file is empty.")
    return text


_EXCEL_SEP = re.compile(r"sep=([,;])\r?\n")
# OWASP "CSV Injection": a spreadsheet runs a cell that starts with one of these. Refused on
# import, so nothing imported becomes a formula in a later export or a platform's own sheet; a
# number (-5, +1.5e3) or a "latitude, longitude" pair is data, not a formula.
_FORMULA_START = ("=", "+", "-", "@")
_NUMBERS = re.compile(r"[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?(?:\s*[,;]\s*[+-]?\d+(?:\.\d+)?)?")
# C0 controls and DEL, except tab and line ends (a quoted cell may hold those).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Longer than any real row (a 40-column row is ~2 KB): a line of millions of commas costs ~70
# bytes a cell once split, so it is refused before the csv module reads it.
MAX_LINE_CHARS = 256 * 1024
UNKNOWN_COLUMNS_SHOWN = 20


def cell_problem(value: str) -> str | None:
    """Why a (stripped) cell cannot be imported as it is, or None."""
    if value.startswith(_FORMULA_START) and not _NUMBERS.fullmatch(value):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return (
            f"“{shown}” starts with “{value[0]}”, which makes a spreadsheet run it as a "
            "formula; remove that character."
        )
    if _CONTROL.search(value):
        return "This cell holds an invisible control character (from a copy and paste?); retype it."
    return None


def _lines(text: str) -> Iterator[str]:
    """The file's lines for the csv reader, refusing one longer than any real row."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise FileRejected(
                f"Line {number:,} is longer than {MAX_LINE_CHARS:,} characters, which no row of "
                "an import is: check that this is the right file (and that its lines end)."
            )
        yield line


def _delimiter(text: str) -> tuple[str, int]:
    """(delimiter, line of the header).

    Excel may write a first line `sep=;`. Otherwise the header decides: column names hold neither
    commas nor semicolons, so whichever separates more of them is the delimiter (a spreadsheet in
    a decimal-comma locale writes semicolons).
    """
    if match := _EXCEL_SEP.match(text):
        return match.group(1), 2
    header = text.split("\n", 1)[0]
    return (";" if header.count(";") > header.count(",") else ","), 1


def read_csv(data: bytes, columns: Sequence[Column], limits: Limits = DEFAULT_LIMITS) -> CsvFile:
    """Parse and check a whole file against `columns`; raises FileRejected for file-level errors."""
    text = _decode(data)
    delimiter, expected_header_line = _delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    if expected_header_line == 2:
        next(reader)  # the `sep=` line
    records = _records(reader)
    try:
        first = next(records, None)
        if first is None:
            raise FileRejected("The file is empty.")
        header_line, header = first
        if header_line != expected_header_line:
            raise FileRejected("The first line must be the header (the column names).")
        names = _match_header(header, columns)
        rows: list[Row] = []
        issues: list[Issue] = []
        width = len(header)
        count = 0
        for line, cells in records:
            count += 1
            if count > limits.max_rows:
                raise FileRejected(
                    f"The file has more than {limits.max_rows:,} rows; import at most "
                    f"{limits.max_rows:,} at a time (split the file)."
                )
            extra = cells[width:]
            if len(cells) < width or any(value.strip() for value in extra):
                issues.append(
                    Issue(
                        line,
                        None,
                        f"This row has {len(cells)} values but the header has {width} columns "
                        "(check the delimiters and quotes).",
                    )
                )
                continue
            row_cells = {}
            for position, name in enumerate(names):
                if name is None:
                    if cells[position].strip():
                        issues.append(
                            Issue(
                                line,
                                f"column {position + 1}",
                                "This column has no name in the header.",
                            )
                        )
                    continue
                value = cells[position].strip()
                problem = cell_problem(value)
                if problem:
                    issues.append(Issue(line, name, problem))
                row_cells[name] = value
            rows.append(Row(line, row_cells))
    except csv.Error as exc:
        raise FileRejected(
            f"Line {reader.line_num} cannot be read: {exc}. Check its quotes."
        ) from None
    if not rows and not issues:
        raise FileRejected("The file has a header but no rows.")
    return CsvFile([name for name in names if name], rows, delimiter, issues)


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) per non-blank record; a quoted cell may span lines."""
    previous = reader.line_num
    for cells in reader:
        line = previous + 1
        previous = reader.line_num
        if any(cell.strip() for cell in cells):
            yield line, cells


def _match_header(header: list[str], columns: Sequence[Column]) -> list[str | None]:
    """Canonical column name per header position (None for an unnamed, ignored column)."""
    known: dict[str, str] = {}
    for column in columns:
        for alias in (column.name, *column.aliases):
            known[header_key(alias)] = column.name
    names: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for position, raw in enumerate(header, start=1):
        title = raw.strip()
        if not title:
            names.append(None)
            continue
        name = known.get(header_key(title))
        if name is None:
            unknown.append(title)
            names.append(None)
            continue
        if name in seen:
            problems.append(
                f"The column {name} appears twice (columns {seen[name]} and {position})."
            )
        seen[name] = position
        names.append(name)
    if unknown:
        shown = [name if len(name) <= 40 else name[:39] + "…" for name in unknown]
        listed = ", ".join(shown[:UNKNOWN_COLUMNS_SHOWN])
        if len(unknown) > UNKNOWN_COLUMNS_SHOWN:
            listed += f" and {len(unknown) - UNKNOWN_COLUMNS_SHOWN:,} more"
        problems.append(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {listed}. "
            f"The columns are: {', '.join(c.name for c in columns)}."
        )
    missing = [column.name for column in columns if column.required and column.name not in seen]
    if missing:
        problems.append(
            f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."
        )
    if problems:
        raise FileRejected(*problems)
    return names
