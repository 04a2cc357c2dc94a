"""Parse and validate interval-data files (CSV, Green Button XML and CSV): the pure half of the readings upload.

``parse_readings`` is the one entry point; nothing in this package touches Django, the database or
the network, so a file gets the same report wherever it arrives. One module per step:

- ``decode``: bytes (plain or gzip, bounded) to batches of text lines;
- ``fast``: a clean batch parsed with numpy;
- ``rows``: the row loop, row by row, for every batch the fast path is not sure of;
- ``timeline``: the zone's offsets and the daylight-saving rules;
- ``hourly``: sorting, duplicates and resampling into hours;
- ``checks``: whole-file plausibility checks;
- ``report``: the issues, the summary and the report's forms (CSV, JSON);
- ``core``: the header, and the parser that drives the steps; ``types``: what they share;
- ``formats``: which kind of file it is, by its content; ``greenbutton`` (Green Button XML),
  ``tabular`` (Green Button CSV, a CSV with a channel column) and ``channels`` (a file that
  fills several channels, each through the same steps).
"""

from __future__ import annotations

from .formats import parse_readings
from .report import report_to_csv
from .types import (
    DEFAULT_LIMITS,
    ColumnMap,
    DstDay,
    Gap,
    HourlyReadings,
    Issue,
    Limits,
    ParseResult,
    Report,
    SeriesContext,
    Sink,
    Summary,
    header_key,
)

__all__ = [
    "DEFAULT_LIMITS",
    "ColumnMap",
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
    "header_key",
    "parse_readings",
    "report_to_csv",
]
