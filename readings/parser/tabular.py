"""CSV files with more than one channel, or another layout than ``datetime,value_kwh``:

- a utility's **Green Button CSV**: an account header block (``Name,...``, ``Address,...``,
  ``Account Number,...``), then ``TYPE,DATE,START TIME,END TIME,USAGE,UNITS,COST,NOTES`` (or
  ``IMPORT (kWh)`` and ``EXPORT (kWh)`` columns for a net-metered home), 15-minute or hourly, in
  the site's local time;
- a **channel CSV**: ``datetime,channel,value_kwh`` (the export of a net-metered meter), which
  uploads back unchanged.

Each row is turned into one ``time,value`` line per channel at its own line number, and the
channel's parser reads those lines with the row loop: the same time rules (naive local times,
the skipped and the repeated hour), the same value checks, the same messages.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import BinaryIO

from .channels import ChannelFile
from .decode import _line_batches, _text_bytes
from .types import (
    _TIME_COLUMNS,
    _VALUE_COLUMNS,
    ColumnMap,
    ParseResult,
    _plural,
    _Rejected,
    _show,
)

GREEN_BUTTON_COLUMNS = frozenset(("DATE", "START TIME"))


# A Green Button CSV's value columns and the channel each fills.
_GREEN_BUTTON_VALUES = {
    "IMPORT (KWH)": "delivered",
    "IMPORT": "delivered",
    "EXPORT (KWH)": "received",
    "EXPORT": "received",
    "NET (KWH)": "net",
    "NET": "net",
}
_USAGE = "USAGE"


_CHANNEL_NAMES = {
    "delivered": "delivered",
    "import": "delivered",
    "received": "received",
    "export": "received",
    "net": "net",
}


_NON_ELECTRIC = ("gas", "water", "therm", "ccf")


def channel_columns(line: str) -> tuple[int, int, int, str] | None:
    """(time, channel, value column, unit) of a ``datetime,channel,value_kwh`` header; None
    for any other line."""
    try:
        names = next(csv.reader([line]), [])
    except csv.Error:
        return None
    keys = [name.strip().lstrip("\ufeff").lower() for name in names]
    if "channel" not in keys:
        return None
    times = [i for i, key in enumerate(keys) if key in _TIME_COLUMNS]
    values = [i for i, key in enumerate(keys) if key in _VALUE_COLUMNS]
    if len(times) != 1 or len(values) != 1:
        return None
    return times[0], keys.index("channel"), values[0], _VALUE_COLUMNS[keys[values[0]]]


def _fields(lines: list[str], start: int) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(lines, start):
        if not line.strip():
            continue
        try:
            yield number, next(csv.reader([line]), [])
        except csv.Error:
            yield number, line.split(",")


def parse_tabular(
    channel_file: ChannelFile, stream: BinaryIO, mapping: ColumnMap | None = None
) -> ParseResult:
    try:
        chunks = _text_bytes(stream, channel_file.limits, channel_file.name, channel_file)  # type: ignore[arg-type]  # it only sets .compressed
        batches = _line_batches(chunks, channel_file.limits, channel_file.name)
        if mapping is not None:
            _MappedCsv(channel_file, mapping).read(batches)
        elif channel_file.source_format == "greenbutton_csv":
            _GreenButtonCsv(channel_file).read(batches)
            channel_file.refuse_device_file("a utility's Green Button CSV")
        else:
            _ChannelCsv(channel_file).read(batches)
        return channel_file.result()
    except _Rejected as exc:
        return channel_file.rejected(exc)


class _Rows:
    """Rows to per-channel ``time,value`` lines, a batch at a time, at their own line numbers."""

    def __init__(self, channel_file: ChannelFile) -> None:
        self.file = channel_file
        self.pending: dict[str, list[str]] = {}
        self.columns: dict[str, tuple[str, str, str]] = {}  # channel -> time, value col, source

    def put(self, channel: str, index: int, size: int, time_text: str, value_text: str) -> None:
        lines = self.pending.get(channel)
        if lines is None:
            lines = self.pending[channel] = [""] * size
        lines[index] = f"{time_text},{value_text}"

    def flush(self, start: int, unit: str = "kWh") -> None:
        for channel, lines in self.pending.items():
            time_column, value_column, source = self.columns[channel]
            parser = self.file.channel(
                channel, time_column=time_column, value_column=value_column, source=source
            )
            parser.unit = unit
            parser._row_loop(start, lines, False, 2)
        self.pending = {}


def _value_text(channel_file: ChannelFile, number: int, column: str, text: str) -> str | None:
    """The value as the row loop reads it, or None after an error (a thousands separator would
    split the line)."""
    cleaned = text.strip()
    if "," in cleaned:
        channel_file.error(
            number,
            column,
            "bad_value",
            f"{_show(text)} is not a number (a thousands separator?); write it as 1234.5.",
        )
        return None
    return cleaned


class _ChannelCsv:
    """``datetime,channel,value_kwh``: each row to its channel."""

    def __init__(self, channel_file: ChannelFile) -> None:
        self.file = channel_file
        self.rows = _Rows(channel_file)

    def read(self, batches: Iterable[tuple[int, list[str], bool]]) -> None:
        header: tuple[int, int, int, str] | None = None
        names: list[str] = []
        for start, lines, _ in batches:
            for index, (number, fields) in enumerate(_fields(lines, start)):
                del index
                if header is None:
                    header = channel_columns(",".join(fields))
                    if header is None:
                        raise _Rejected(
                            "missing_columns",
                            f"The header of {self.file.name} must name datetime, channel and "
                            "value_kwh.",
                            number,
                        )
                    names = [name.strip() for name in fields]
                    for channel in ("delivered", "received", "net"):
                        self.rows.columns[channel] = (
                            f"{names[header[0]]} ({channel})",
                            f"{names[header[2]]} ({channel})",
                            f"rows whose {names[header[1]]} is {channel}",
                        )
                    continue
                self._row(number, fields, header, names, start, len(lines))
            if header is not None:
                self.rows.flush(start, header[3])
        if header is None:
            raise _Rejected("empty_file", f"{self.file.name} is empty.")
        if not self.file.rows_read:
            raise _Rejected("header_only", f"{self.file.name} has a header but no readings.")

    def _row(
        self,
        number: int,
        fields: list[str],
        header: tuple[int, int, int, str],
        names: list[str],
        start: int,
        size: int,
    ) -> None:
        time_index, channel_index, value_index, _ = header
        self.file.rows_read += 1
        if len(fields) != len(names):
            self.file.error(
                number,
                None,
                "column_count",
                f"This row has {len(fields)} fields and the header {len(names)}.",
            )
            return
        channel = _CHANNEL_NAMES.get(fields[channel_index].strip().lower())
        if channel is None:
            self.file.error(
                number,
                names[channel_index],
                "bad_channel",
                f"{_show(fields[channel_index])} is no channel: write delivered (import), "
                "received (export) or net.",
            )
            return
        value = _value_text(self.file, number, names[value_index], fields[value_index])
        if value is None:
            return
        self.rows.put(channel, number - start, size, fields[time_index].strip(), value)


class _MappedCsv:
    """A CSV of another layout, read with the organization's saved mapping of its header."""

    def __init__(self, channel_file: ChannelFile, mapping: ColumnMap) -> None:
        self.file = channel_file
        self.mapping = mapping
        self.rows = _Rows(channel_file)
        self.delimiter = ","

    def read(self, batches: Iterable[tuple[int, list[str], bool]]) -> None:
        mapping = self.mapping
        columns: tuple[int, int] | None = None
        width = 0
        for start, lines, _ in batches:
            for number, line in enumerate(lines, start):
                if not line.strip():
                    continue
                if columns is None:
                    columns, width = self._header(line, number), 0
                    width = len(self._split(line))
                    continue
                self.file.rows_read += 1
                fields = self._split(line)
                if len(fields) != width:
                    self.file.error(
                        number,
                        None,
                        "column_count",
                        f"This row has {len(fields)} fields and the header {width}.",
                    )
                    continue
                text = fields[columns[1]].strip()
                if self.delimiter == ";":
                    text = text.replace(",", ".")
                value = _value_text(self.file, number, mapping.value_column, text)
                if value is not None:
                    self.rows.put(
                        mapping.channel,
                        number - start,
                        len(lines),
                        fields[columns[0]].strip(),
                        value,
                    )
            if columns is not None:
                self.rows.flush(start, mapping.unit)
        if columns is None:
            raise _Rejected("empty_file", f"{self.file.name} is empty.")
        if not self.file.rows_read:
            raise _Rejected("header_only", f"{self.file.name} has a header but no readings.")

    def _split(self, line: str) -> list[str]:
        try:
            return next(csv.reader([line], delimiter=self.delimiter), [])
        except csv.Error:
            return line.split(self.delimiter)

    def _header(self, line: str, number: int) -> tuple[int, int]:
        mapping = self.mapping
        self.delimiter = max((",", ";"), key=lambda d: len(line.split(d)))
        keys = [name.strip().lstrip("\ufeff").lower() for name in self._split(line)]
        wanted = (mapping.time_column.strip().lower(), mapping.value_column.strip().lower())
        missing = [name for name in wanted if name not in keys]
        if missing:
            raise _Rejected(
                "missing_columns",
                f"The column mapping saved for this header names {', '.join(map(_show, missing))}, "
                f"which {self.file.name} does not have.",
                number,
            )
        zone = mapping.timezone or "the site's timezone"
        self.rows.columns[mapping.channel] = (
            mapping.time_column,
            mapping.value_column,
            f"the {mapping.value_column} column",
        )
        self.file.notes.append(
            f"Read with the column mapping saved for this header: time in "
            f"'{mapping.time_column}' (times without an offset in {zone}), energy in "
            f"'{mapping.value_column}' ({mapping.unit}), the {mapping.channel} channel."
        )
        return keys.index(wanted[0]), keys.index(wanted[1])


class _GreenButtonCsv:
    """A utility's Green Button CSV: the header block skipped, each value column a channel."""

    def __init__(self, channel_file: ChannelFile) -> None:
        self.file = channel_file
        self.rows = _Rows(channel_file)
        self.block_keys: list[str] = []
        self.header: dict[str, int] | None = None
        self.header_line = 0
        self.values: dict[str, int] = {}  # channel -> column index
        self.usage_negative_row = 0
        self.left_out = 0
        self.left_out_first: tuple[int, str] | None = None

    def read(self, batches: Iterable[tuple[int, list[str], bool]]) -> None:
        for start, lines, _ in batches:
            for number, fields in _fields(lines, start):
                if self.header is None:
                    self._before_header(number, fields)
                    continue
                self._row(number, fields, start, len(lines))
            self.rows.flush(start)
        if self.header is None:
            raise _Rejected(
                "missing_columns", f"{self.file.name} has no TYPE,DATE,START TIME header."
            )
        self._finish()

    def _before_header(self, number: int, fields: list[str]) -> None:
        keys = [field.strip().lstrip("\ufeff").upper() for field in fields]
        if not set(keys) >= GREEN_BUTTON_COLUMNS:
            if fields and fields[0].strip():
                self.block_keys.append(fields[0].strip()[:40])
            return
        self.header = {key: index for index, key in enumerate(keys) if key}
        self.header_line = number
        for key, channel in _GREEN_BUTTON_VALUES.items():
            if key in self.header and channel not in self.values:
                self.values[channel] = self.header[key]
        if not self.values and _USAGE in self.header:
            self.values["delivered"] = self.header[_USAGE]
        if not self.values:
            raise _Rejected(
                "missing_columns",
                f"The Green Button header of {self.file.name} (line {number}) names no USAGE, "
                "IMPORT (kWh) or EXPORT (kWh) column.",
                number,
            )
        names = {index: fields[index].strip() for index in range(len(fields))}
        for channel, index in self.values.items():
            self.rows.columns[channel] = (
                "DATE/START TIME",
                names[index],
                f"the {names[index]} column",
            )
        if self.block_keys:
            self.file.notes.append(
                f"An account header block ({', '.join(self.block_keys[:6])}) comes before the "
                f"readings' header on line {number}; it was skipped."
            )
        self.file.notes.append(
            "DATE and START TIME are the site's local time; each row's START TIME is the start "
            "of its interval."
        )

    def _row(self, number: int, fields: list[str], start: int, size: int) -> None:
        header = self.header
        assert header is not None
        self.file.rows_read += 1
        needed = max(header["DATE"], header["START TIME"], *self.values.values())
        if len(fields) <= needed:
            self.file.error(
                number,
                None,
                "column_count",
                f"This row has {len(fields)} fields and the header {len(header)}.",
            )
            return
        kind = fields[header["TYPE"]].strip() if "TYPE" in header else ""
        units = fields[header["UNITS"]].strip() if "UNITS" in header else ""
        if any(word in f"{kind} {units}".lower() for word in _NON_ELECTRIC) or (
            units and units.lower() != "kwh"
        ):
            self.left_out += 1
            if self.left_out_first is None:
                self.left_out_first = (number, " ".join(part for part in (kind, units) if part))
            return
        moment = _local_time(fields[header["DATE"]], fields[header["START TIME"]])
        if moment is None:
            self.file.error(
                number,
                "DATE/START TIME",
                "bad_time",
                f"{_show(fields[header['DATE']] + ' ' + fields[header['START TIME']])} is not a "
                "date and a start time this reader knows (2024-01-31 or 1/31/2024, and 13:00 or "
                "1:00 PM).",
            )
            return
        for channel, index in self.values.items():
            if index >= len(fields):
                continue
            value = _value_text(self.file, number, self.rows.columns[channel][1], fields[index])
            if value is None:
                continue
            if channel == "delivered" and not self.usage_negative_row and value.startswith("-"):
                self.usage_negative_row = number
            self.rows.put(channel, number - start, size, moment, value)

    def _finish(self) -> None:
        if self.left_out:
            line, what = self.left_out_first or (0, "")
            if not self.file.parsers:
                raise _Rejected(
                    "unsupported_unit",
                    f"{self.file.name} holds {what or 'no electricity'} readings (row {line} and "
                    f"{_plural(self.left_out - 1, 'other', 'others')}); only electricity in kWh "
                    "is stored.",
                    line,
                )
            self.file.warning(
                line,
                "TYPE/UNITS",
                "left_out",
                f"{_plural(self.left_out, 'row', 'rows')} of {what} (the first on row {line}) "
                "left out: only electricity in kWh is stored.",
            )
        usage_only = (
            list(self.values) == ["delivered"]
            and self.header is not None
            and (_USAGE in self.header and self.values["delivered"] == self.header[_USAGE])
        )
        if usage_only and self.usage_negative_row and "delivered" in self.file.parsers:
            self.file.rename("delivered", "net", "the USAGE column, net of what the home sent back")
            self.file.notes.append(
                f"USAGE goes below zero (row {self.usage_negative_row}): a net-metered account's "
                "usage is what the home drew minus what it sent back, so it is stored as the net "
                "channel."
            )


def _local_time(day_text: str, time_text: str) -> str | None:
    """``YYYY-MM-DDTHH:MM:SS`` (naive: the site's local time) from a utility's date and time."""
    day = _date(day_text.strip())
    clock = _clock(time_text.strip())
    if day is None or clock is None:
        return None
    return f"{day.isoformat()}T{clock}"


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    for layout in ("%m/%d/%Y", "%m/%d/%y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    return None


def _clock(text: str) -> str | None:
    for layout in ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%I:%M%p"):
        try:
            moment = datetime.strptime(text.upper(), layout)
        except ValueError:
            continue
        return f"{moment:%H:%M:%S}"
    return None
