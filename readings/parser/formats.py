"""Which kind of file it is, told by its content (never by its name), and the parse for each.

- ``csv``: the usual ``datetime,value_kwh`` file (``core``: the fast path and the row loop);
- ``greenbutton_xml``: a Green Button (ESPI Atom) feed (``greenbutton``);
- ``greenbutton_csv``: a utility's Green Button CSV, ``TYPE,DATE,START TIME,...`` behind an
  account header block (``tabular``);
- ``channel_csv``: ``datetime,channel,value_kwh``, the export of a net-metered meter (``tabular``).

The first 64 KB are read to tell (decompressed when gzip) and then replayed, so every parse reads
the stream once from its start, as a plain file.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Callable
from typing import BinaryIO

from .channels import ChannelFile
from .core import _Parser
from .greenbutton import parse_greenbutton_xml
from .tabular import GREEN_BUTTON_COLUMNS, channel_columns, parse_tabular
from .timeline import _zone
from .types import (
    _TIME_COLUMNS,
    _VALUE_COLUMNS,
    DEFAULT_LIMITS,
    ColumnMap,
    Limits,
    ParseResult,
    SeriesContext,
    Sink,
    header_key,
)

# An organization's saved column mappings, by header_key: the parser asks, the caller answers.
MappingLookup = Callable[[str], ColumnMap | None]

_PEEK_BYTES = 64 * 1024


# Lines an account header block may take before a Green Button CSV's own header.
_MAX_HEADER_BLOCK_LINES = 40


_XML_MARKS = (b"<!ENTITY", b"http://www.w3.org/2005/Atom", b"http://naesb.org/espi")


class _Replay:
    """A binary stream that gives ``head`` first, then the rest of ``source``."""

    def __init__(self, head: bytes, source: BinaryIO) -> None:
        self.head = head
        self.source = source

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0 or size >= len(self.head):
                head, self.head = self.head, b""
                return head
            head, self.head = self.head[:size], self.head[size:]
            return head
        return self.source.read(size)


def _peek(fileobj: BinaryIO) -> tuple[bytes, _Replay]:
    """The first 64 KB and a stream that replays them."""
    head = b""
    while len(head) < _PEEK_BYTES:
        chunk = fileobj.read(_PEEK_BYTES - len(head))
        if not chunk:
            break
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError("parse_readings needs a binary stream (open the file with 'rb')")
        head += bytes(chunk)
    return head, _Replay(head, fileobj)


def unknown_header(head: bytes) -> list[str] | None:
    """The column names of a CSV whose header names no time and value column this parser
    knows (its first line), or None."""
    text = _inflated(head).lstrip(b"\xef\xbb\xbf \t\r\n")
    line = text.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    if not line:
        return None
    best: list[str] = []
    for delimiter in (",", ";"):
        try:
            names = next(csv.reader([line], delimiter=delimiter), [])
        except csv.Error:
            return None
        keys = {name.strip().lower() for name in names}
        if keys & set(_TIME_COLUMNS) and keys & set(_VALUE_COLUMNS):
            return None
        if len(names) > len(best):
            best = names
    return best if len(best) > 1 else None


def _inflated(head: bytes) -> bytes:
    if head[:2] == b"\x1f\x8b":
        try:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _PEEK_BYTES)
        except zlib.error:
            return b""
    return head


def sniff(head: bytes) -> str:
    """The kind of file the first bytes say it is."""
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _PEEK_BYTES)
        except zlib.error:
            return "csv"  # damaged: the CSV path names it
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    # XML by its declaration, or by what only XML holds (an entity, Atom's or ESPI's namespace);
    # an HTML page (a portal's error page saved as .csv) stays with the CSV path, which names it.
    if text.startswith(b"<?xml") or (
        text.startswith(b"<") and any(mark in head for mark in _XML_MARKS)
    ):
        return "greenbutton_xml"
    lines = text.decode("utf-8", errors="replace").splitlines()
    if len(head) >= _PEEK_BYTES:
        lines = lines[:-1]  # cut short
    first = True
    for line in lines[:_MAX_HEADER_BLOCK_LINES]:
        if not line.strip():
            continue
        try:
            fields = next(csv.reader([line]), [])
        except csv.Error:
            return "csv"
        keys = [field.strip().lstrip("\ufeff").upper() for field in fields]
        if set(keys) >= GREEN_BUTTON_COLUMNS:
            return "greenbutton_csv"
        if first:
            if channel_columns(line) is not None:
                return "channel_csv"
            first = False
    return "csv"


def parse_readings(
    fileobj: BinaryIO,
    *,
    tz: str,
    filename: str = "",
    context: SeriesContext | None = None,
    limits: Limits = DEFAULT_LIMITS,
    sink: Sink | None = None,
    mappings: MappingLookup | None = None,
) -> ParseResult:
    """Read an interval-data file (plain or gzip) from a binary stream and validate it: the
    usual CSV, a Green Button XML feed or CSV, or a CSV with a channel column.

    ``tz`` is the site's IANA timezone: naive timestamps are local to it, and it decides local
    hours, days and the daylight-saving notes. Never raises for anything in the file; an unknown
    ``tz`` is the caller's bug and raises ``ValueError``.

    ``sink`` (the usual CSV only), when given, is called with each batch of rows as they are read,
    before the file is known to be valid: ``sink(epochs, kwh)``, two arrays in file order, for as
    long as no error has been found. It lets a caller start storing while the rest is parsed;
    what it received is the final series only if the result is ``ok``, has one channel, and its
    readings are exactly the concatenation of the batches. Exceptions from ``sink`` propagate.

    ``mappings`` answers the saved column mapping of a header (by :func:`header_key`): a CSV
    whose header no layout knows is read with it when there is one.
    """
    zone = _zone(tz)
    context = context or SeriesContext()
    head, replay = _peek(fileobj)
    stream: BinaryIO = replay  # type: ignore[assignment]  # read() is all a parse uses
    kind = sniff(head)
    if kind == "csv" and mappings is not None:
        names = unknown_header(head)
        mapping = mappings(header_key(names)) if names else None
        if mapping is not None:
            mapped_tz = mapping.timezone or tz
            channel_file = ChannelFile(
                mapped_tz, _zone(mapped_tz), filename, context, limits, "mapped_csv"
            )
            return parse_tabular(channel_file, stream, mapping)
    if kind == "csv":
        parser = _Parser(tz, zone, filename, context, limits)
        parser.sink = sink
        return parser.run(stream)
    channel_file = ChannelFile(tz, zone, filename, context, limits, kind)
    if kind == "greenbutton_xml":
        return parse_greenbutton_xml(channel_file, stream)
    return parse_tabular(channel_file, stream)
