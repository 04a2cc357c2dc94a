"""The report of an upload, in every form it takes: the issues collected while parsing, the
summary of the file, the downloadable CSV (:func:`report_to_csv`), the JSON stored on
``Upload.report`` (:func:`report_to_dict`) and back (:func:`report_from_dict`), and the sentences
the preview shows (:func:`time_notes`). Pure Python, like the rest of the parser."""

from __future__ import annotations

import csv
import io
import math
from array import array
from collections import Counter
from dataclasses import fields, is_dataclass
from datetime import UTC, date, datetime
from itertools import compress, count, islice, repeat
from operator import ne, sub
from typing import Any
from zoneinfo import ZoneInfo

from .timeline import _Timeline
from .types import (
    _FORMULA_PREFIXES,
    _HOUR,
    _MAX_GAPS,
    DstDay,
    Gap,
    Issue,
    Report,
    Severity,
    Summary,
    _ParserState,
)


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


def _safe_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def _issue_order(issue: Issue) -> int:
    return issue.row or 0


class _Summarizing(_ParserState):
    """The parser's summary of the file (the report's second half). A mixin of ``core._Parser``: it works on the parser's state."""

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
            header=self.header_names if len(self.header_names) > 1 else (),
        )


# Errors confined to their row: the parser leaves the row out of its readings and the rest of the
# file means the same without it. A doubt about the whole file (mixed UTC offsets, an ambiguous
# autumn hour, a file of another kind) is none of these: such a file is only fixed and uploaded again.
ROW_CONFINED = frozenset(
    {
        "bad_time",
        "empty_time",
        "fractional_seconds",
        "time_out_of_range",
        "nonexistent_local_time",
        "bad_value",
        "empty_value",
        "non_finite_value",
        "value_out_of_range",
        "column_count",
        "custom_id_mismatch",
        "conflicting_duplicate",
        "not_on_hour",
        "off_grid",
        "incomplete_hour",
        "bad_channel",
    }
)


def skippable_rows(report: Report) -> tuple[int, ...]:
    """The rows a "store the valid rows" choice leaves out, or () when the file offers no such
    choice: it has errors, every one is listed (none beyond ``max_issues``), each on a row and
    confined to it, and readings remain without them."""
    if report.ok or not report.row_confined or report.error_count != len(report.errors):
        return ()
    if not report.summary.readings:
        return ()
    if any(issue.row is None or issue.code not in ROW_CONFINED for issue in report.errors):
        return ()
    return tuple(sorted({issue.row for issue in report.errors if issue.row is not None}))


def report_to_dict(report: Report) -> dict[str, Any]:
    """The parser's report as JSON-safe data (Upload.report, the API, the preview page)."""
    summary = report.summary
    summary_dict = {
        field.name: _jsonable(getattr(summary, field.name)) for field in fields(summary)
    }
    summary_dict["expected_hours"] = summary.expected_hours
    summary_dict["coverage"] = summary.coverage
    return {
        "ok": report.ok,
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "errors": [_issue_dict(issue) for issue in report.errors],
        "warnings": [_issue_dict(issue) for issue in report.warnings],
        "summary": summary_dict,
    }


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {"row": issue.row, "column": issue.column, "message": issue.message, "code": issue.code}


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


def report_from_dict(data: dict[str, Any], filename: str = "") -> Report:
    """The stored report JSON back as the parser's Report, for report_to_csv."""

    def issues(items: list[dict[str, Any]] | None, severity: Severity) -> tuple[Issue, ...]:
        return tuple(
            Issue(
                severity,
                item.get("row"),
                item.get("column"),
                str(item.get("message", "")),
                str(item.get("code", "")),
            )
            for item in items or []
        )

    errors = issues(data.get("errors"), "error")
    warnings = issues(data.get("warnings"), "warning")
    empty = Summary(
        filename=filename,
        timezone="UTC",
        rows_read=0,
        readings=0,
        first=None,
        last=None,
        first_local=None,
        last_local=None,
        source_interval_minutes=None,
        resampled=False,
        unit="kWh",
        delimiter=",",
        compressed=False,
        custom_ids=(),
        duplicates_dropped=0,
        missing_hours=0,
        gap_count=0,
        gaps=(),
        dst_days=(),
        dst_day_count=0,
    )
    return Report(
        errors,
        warnings,
        max(int(data.get("error_count") or 0), len(errors)),
        max(int(data.get("warning_count") or 0), len(warnings)),
        empty,
    )


def time_notes(summary: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """What the file means in time, in sentences: resampling, units, duplicates (the gaps and
    the daylight-saving days have their own lists)."""
    notes = []
    minutes = summary.get("source_interval_minutes")
    if summary.get("resampled") and minutes:
        notes.append(
            f"The file has {minutes}-minute readings: each complete hour's {60 // minutes} "
            "readings were summed into one hourly reading (an hour starts at its first reading)."
        )
    elif minutes:
        notes.append("Hourly readings; each timestamp is the start of its hour.")
    if summary.get("unit") == "Wh":
        notes.append("Values are in Wh and were divided by 1,000 into kWh.")
    notes.extend(summary.get("notes") or [])
    dropped = summary.get("duplicates_dropped") or 0
    if dropped:
        notes.append(
            f"{dropped:,} repeated row{'s' if dropped != 1 else ''} (same time and same value) "
            f"dropped."
        )
    return notes
