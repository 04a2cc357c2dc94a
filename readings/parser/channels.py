"""Files that fill several channels (delivered, received, net): one parse of the file, then each
channel's rows through the same whole-file steps as a plain CSV (``core._Parser._finish``:
daylight-saving rules, duplicates, resampling into hours, the checks), one report for the file.

A format reader (``greenbutton``, ``tabular``) feeds each channel either as rows to read (the
row loop: a time and a value as written, each with its line) or as instants already in UTC (a
Green Button feed's epoch seconds), then calls :meth:`ChannelFile.result`.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from .core import _Parser
from .report import _issue_order, _Issues
from .types import (
    CHANNELS,
    ChannelSummary,
    Limits,
    ParseResult,
    Report,
    SeriesContext,
    _Rejected,
)


class ChannelFile:
    """One file's channels, their parsers sharing one list of issues."""

    def __init__(
        self,
        tz_name: str,
        zone: ZoneInfo,
        filename: str,
        context: SeriesContext,
        limits: Limits,
        source_format: str,
    ) -> None:
        self.tz_name = tz_name
        self.zone = zone
        self.filename = filename
        self.name = f"'{filename}'" if filename else "The file"
        self.context = context
        self.limits = limits
        self.source_format = source_format
        self.issues = _Issues(limits.max_issues)
        self.compressed = False  # decode sets it
        self.parsers: dict[str, _Parser] = {}
        self.sources: dict[str, str] = {}
        self.notes: list[str] = []
        self.rows_read = 0

    def channel(self, channel: str, *, time_column: str, value_column: str, source: str) -> _Parser:
        """The parser of one channel (made on first use): a plain two-column CSV's, in kWh."""
        parser = self.parsers.get(channel)
        if parser is None:
            parser = _Parser(self.tz_name, self.zone, self.filename, self.context, self.limits)
            parser.issues = self.issues
            parser.delimiter = ","
            parser.time_index, parser.value_index, parser.id_index = 0, 1, -1
            parser.time_column = time_column
            parser.value_column = value_column
            self.parsers[channel] = parser
            self.sources[channel] = source
        return parser

    def rename(self, old: str, new: str, source: str) -> None:
        """A channel turns out to be another (a usage column with negative values is net)."""
        self.parsers[new] = self.parsers.pop(old)
        self.sources.pop(old, None)
        self.sources[new] = source

    def refuse_device_file(self, what: str) -> None:
        """A utility's file (its directions are the utility meter's) is a meter's, not a
        device's: on a device its import would read as generation."""
        if self.context.owner_kind == "device":
            self.issues.error(
                None,
                None,
                "meter_file_on_device",
                f"{self.name} is {what}: a utility meter's readings, delivered to and received "
                "from the home. Upload it on the page of the home's meter; a device takes its own "
                "readings (datetime,value_kwh).",
            )

    def rejected(self, exc: _Rejected) -> ParseResult:
        parser = _Parser(self.tz_name, self.zone, self.filename, self.context, self.limits)
        parser.compressed = self.compressed
        result = parser._rejected(exc)
        summary = replace(result.report.summary, source_format=self.source_format)
        return ParseResult(replace(result.report, summary=summary), result.readings)

    def result(self) -> ParseResult:
        """Each channel through the whole-file steps, then one report for the file."""
        if not self.parsers:
            raise _Rejected("header_only", f"{self.name} has no readings.")
        finished: list[tuple[str, ParseResult, str]] = []
        for channel in sorted(self.parsers, key=_channel_order):
            parser = self.parsers[channel]
            parser.compressed = self.compressed
            finished.append((channel, parser._finish(), self.sources[channel]))
        primary = finished[0][1].report.summary
        channel_summaries = tuple(
            ChannelSummary(
                channel=channel,
                readings=len(result.readings),
                first=result.report.summary.first,
                last=result.report.summary.last,
                total_kwh=math.fsum(result.readings.values_kwh),
                source_interval_minutes=result.report.summary.source_interval_minutes,
                source=source,
            )
            for channel, result, source in finished
        )
        firsts = [c.first for c in channel_summaries if c.first is not None]
        lasts = [c.last for c in channel_summaries if c.last is not None]
        first = min(firsts) if firsts else None
        last = max(lasts) if lasts else None
        summary = replace(
            primary,
            rows_read=self.rows_read,
            readings=sum(c.readings for c in channel_summaries),
            first=first,
            last=last,
            first_local=first.astimezone(self.zone) if first else None,
            last_local=last.astimezone(self.zone) if last else None,
            unit="kWh",
            compressed=self.compressed,
            source_format=self.source_format,
            channels=channel_summaries,
            notes=tuple(self.notes),
        )
        report = Report(
            tuple(sorted(self.issues.errors, key=_issue_order)),
            tuple(sorted(self.issues.warnings, key=_issue_order)),
            self.issues.error_count,
            self.issues.warning_count,
            summary,
        )
        by_channel = tuple((channel, result.readings) for channel, result, _ in finished)
        return ParseResult(report, by_channel[0][1], by_channel)

    def error(self, row: int | None, column: str | None, code: str, message: str) -> None:
        self.issues.error(row, column, code, message)

    def warning(self, row: int | None, column: str | None, code: str, message: str) -> None:
        self.issues.warning(row, column, code, message)


def _channel_order(channel: str) -> int:
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def add_utc_rows(
    parser: _Parser, epochs: array[int], values: array[float], rows: array[int]
) -> None:
    """Instants already in UTC (a Green Button feed's epoch seconds) into a channel's parser."""
    if not len(epochs):
        return
    if parser.run_off != 0:
        parser.offset_runs.append((len(parser.epochs), 0))
        parser.run_off = 0
    parser.epochs.extend(epochs)
    parser.values.extend(values)
    parser.rows.extend(rows)
    parser.rows_read += len(epochs)


def utc_text(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")
