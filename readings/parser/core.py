"""Parse and validate hourly interval-data CSV files: the pure half of the readings upload.

The upload view, the import command and the Celery task all call ``parse_readings``
(``formats``), which gives a ``datetime,value_kwh`` file to the parser here. Nothing
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
from array import array
from collections.abc import Iterable, Iterator
from itertools import chain, compress, repeat
from operator import truediv
from typing import BinaryIO
from zoneinfo import ZoneInfo

from .checks import _FileChecks
from .decode import _BATCH_LINES, _FIRST_BATCH_LINES, _line_batches, _text_bytes
from .fast import _FastPath
from .hourly import _Hourly, _sorted_columns, _steps
from .lines import LineNumbers, Lines
from .report import _issue_order, _Issues, _Summarizing
from .rows import _looks_like_time, _RowLoop
from .timeline import _Timeline, _TimelineRules
from .types import (
    _CUSTOM_ID_COLUMN,
    _DAY,
    _NO_RUN,
    _TIME_COLUMNS,
    _VALUE_COLUMNS,
    HourlyReadings,
    Issue,
    Limits,
    ParseResult,
    Report,
    SeriesContext,
    Sink,
    _Rejected,
    _show,
)


class _Parser(_FastPath, _RowLoop, _TimelineRules, _Hourly, _FileChecks, _Summarizing):
    """One parse of one file: reads the header and drives the passes (decode, the fast path or the
    row loop per batch, then the whole-file steps). Each step is a mixin in its own module."""

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
        self.rows = LineNumbers()
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
        self.header_names: tuple[str, ...] = ()  # of a header no layout knows, to map its columns
        self.duplicates_dropped = 0
        self.interval_s: int | None = None
        # The offset of the current run of offset_runs (_NO_RUN before the first row).
        self.run_off: object = _NO_RUN
        self.sink: Sink | None = None
        self.sunk = 0  # rows handed to the sink so far
        self.spanning = False  # a quoted value spans lines (Report.row_confined)

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
                read = 0
                for fields in reader:
                    pairs.append((start + reader.line_num - 1, fields))
                    if reader.line_num - read > 1:
                        self.spanning = True  # never valid in interval data: rows in doubt
                    read = reader.line_num
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
            self.header_names = tuple(name.strip().lstrip("\ufeff") for name in names)
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
        sink = self.sink
        assert sink is not None  # _read_rows calls this only with a sink
        if self.issues.error_count or self.sunk == len(self.epochs):
            return
        start = self.sunk
        epochs = self.epochs[start:]
        values = self.values[start:]
        if self.unit == "Wh":  # as _finish converts
            values = array("d", map(truediv, values, repeat(1000.0)))
        self.sunk = len(self.epochs)
        sink(epochs, values)

    def _finish(self) -> ParseResult:
        epochs, values = self.epochs, self.values
        rows: Lines = self.rows
        if self.unit == "Wh":
            # Division, not * 0.001: 1234 / 1000 is the float nearest 1.234, as typed in kWh.
            values = array("d", map(truediv, values, repeat(1000.0)))
        dropped = self._resolve_ambiguous() | self._refuse_mixed_offsets()
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
            row_confined=not self.spanning,
        )
        return ParseResult(report, HourlyReadings(epochs, values))
