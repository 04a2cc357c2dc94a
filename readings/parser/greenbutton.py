"""Green Button XML: an ESPI (NAESB REQ.21) Atom feed of UsagePoint, MeterReading, ReadingType,
IntervalBlock and LocalTimeParameters entries, linked by ``link rel="self" / "up" / "related"``.

Read with expat a chunk at a time (the file is never held whole: a multi-year 15-minute feed
costs its readings' arrays, 20 bytes each), with every DTD refused outright: Green Button feeds
have none, and a DTD is where entity expansion (billion laughs) and external entities (a file or
a URL read into the document) live. That is what defusedxml does for expat; doing it here keeps
the element's line number for every message.

What a reading means comes from its MeterReading's ReadingType, which a feed may put before or
after the blocks: raw values are kept per MeterReading and scaled at the end. Each IntervalReading
is ``timePeriod/start`` (UTC epoch seconds), ``timePeriod/duration`` and ``value`` in the
ReadingType's ``uom`` times ``10^powerOfTenMultiplier``; ``flowDirection`` says the channel
(1 forward: delivered to the home; 19 reverse: received from it; 4 net).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import urlsplit
from xml.parsers import expat

import numpy as np

from .channels import ChannelFile, add_utc_rows, utc_text
from .decode import _text_bytes
from .greenbutton_blocks import BlockScanner
from .timeline import _offset_text
from .types import _SUBHOURLY_S, ParseResult, _plural, _Rejected, _show

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"


# ESPI UnitSymbolKind and CommodityKind values a file may hold, named for the messages.
UNITS = {
    0: "no unit",
    5: "amperes",
    29: "volts",
    31: "joules",
    38: "watts (power, not energy)",
    42: "cubic metres",
    61: "volt-amperes",
    63: "volt-amperes reactive",
    71: "volt-ampere hours",
    72: "watt-hours",
    73: "volt-ampere reactive hours",
    106: "ampere hours",
    119: "cubic feet",
    128: "US gallons",
    169: "therms",
}
COMMODITIES = {
    0: "electricity",
    1: "electricity",
    2: "electricity",
    4: "air",
    7: "natural gas",
    8: "propane",
    9: "potable water",
    10: "steam",
    11: "waste water",
    12: "heating fluid",
    13: "cooling fluid",
}
_ELECTRICITY = {0, 1, 2}
_WH = 72
# accumulationBehaviour: 4 deltaData (each interval's own energy) is what is stored; the
# registers (1 bulkQuantity, 3 cumulative, 9 summation) would need differencing.
_INTERVAL_DATA = {0, 4}
_REGISTERS = {1: "bulk quantity", 3: "cumulative", 9: "summation"}
FLOW_CHANNELS = {1: "delivered", 19: "received", 4: "net", 0: "delivered"}

_DURATIONS_S = (*_SUBHOURLY_S, 3600)
_MAX_TEXT = 200  # characters of one leaf element; ESPI leaves are numbers and short codes
# Inside an IntervalBlock, the text between two end tags (a number and the indentation around it).
_MAX_BLOCK_TEXT = 4096
_READING_TYPE_FIELDS = frozenset(
    (
        "accumulationBehaviour",
        "commodity",
        "flowDirection",
        "intervalLength",
        "kind",
        "powerOfTenMultiplier",
        "uom",
    )
)
_LOCAL_TIME_FIELDS = frozenset(("tzOffset", "dstOffset", "dstStartRule", "dstEndRule"))
_RESOURCES = frozenset(
    ("UsagePoint", "MeterReading", "ReadingType", "IntervalBlock", "LocalTimeParameters")
)


@dataclass
class _Block:
    """An IntervalBlock's readings, raw, until its entry's links say whose they are."""

    line: int
    epochs: array[int] = field(default_factory=lambda: array("q"))
    raw: array[float] = field(default_factory=lambda: array("d"))
    rows: array[int] = field(default_factory=lambda: array("I"))
    bad_durations: int = 0  # readings of a duration that is no interval (the first's line, s)
    bad_duration_line: int = 0
    bad_duration_s: int = 0


@dataclass
class _Entry:
    line: int
    self_href: str = ""
    up_href: str = ""
    related: list[str] = field(default_factory=list)
    kind: str = ""  # the ESPI resource in its content
    values: dict[str, tuple[str, int]] = field(default_factory=dict)  # field -> (text, line)
    block: _Block | None = None


@dataclass
class _MeterReading:
    """A MeterReading's readings (every block of it, raw) and what links it."""

    key: str
    line: int = 0
    href: str = ""
    reading_type: str = ""
    usage_point: str = ""
    epochs: array[int] = field(default_factory=lambda: array("q"))
    raw: array[float] = field(default_factory=lambda: array("d"))
    rows: array[int] = field(default_factory=lambda: array("I"))
    blocks: list[tuple[int, int, int]] = field(default_factory=list)  # (first, end, line)
    bad_durations: int = 0
    bad_duration_line: int = 0
    bad_duration_s: int = 0


def _key(href: str, resource: str) -> str:
    """What links two hrefs of one resource: the path from the resource's collection on (feeds
    write the same link with different prefixes: absolute, relative, another subscription)."""
    path = urlsplit(href.strip()).path.rstrip("/")
    at = path.rfind(f"/{resource}")
    if at < 0:
        at = path.find(resource)
        return path[at:] if at >= 0 else path
    return path[at + 1 :]


def _meter_reading_key(href: str) -> str:
    """A MeterReading's key from its own href or from its blocks' ``up`` (``.../IntervalBlock``)."""
    path = urlsplit(href.strip()).path.rstrip("/")
    at = path.rfind("/IntervalBlock")
    if at >= 0:
        path = path[:at]
    return _key(path, "UsagePoint")


class _FeedReader:
    """The expat handlers: one pass, the state of the entry being read."""

    def __init__(self, channel_file: ChannelFile) -> None:
        self.file = channel_file
        self.name = channel_file.name
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.buffer_text = True
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.ExternalEntityRefHandler = self._external
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self._text
        self.depth = 0
        self.root_checked = False
        self.entry: _Entry | None = None
        self.in_content = False
        self.espi_seen = False
        self.path: list[str] = []  # ESPI element names below the entry's content
        self.text: list[str] = []
        self.text_len = 0
        self.collect = False
        self.buffer = ""  # block mode (inside an IntervalBlock): the text since the last end tag
        self.reading_line = 0
        self.reading: dict[str, str] = {}
        self.entries: list[_Entry] = []  # every entry but the blocks' readings (kept per block)
        self.meter_readings: dict[str, _MeterReading] = {}
        self.readings = 0
        self.max_rows = channel_file.limits.max_rows
        self.in_block = False
        # (byte, line) of the last IntervalBlock start tag, for the fast path's check.
        self.block_opened: tuple[int, int] | None = None

    # -- security -----------------------------------------------------------------------------
    def _doctype(self, *args: object) -> None:
        raise _Rejected(
            "xml_dtd",
            f"{self.name} declares a DTD (<!DOCTYPE> on line {self.parser.CurrentLineNumber}). "
            "Green Button files have none, and a DTD is how an XML file expands entities without "
            "bound or reads other files and addresses, so the file was refused unread.",
            self.parser.CurrentLineNumber,
        )

    def _entity(self, *args: object) -> None:
        raise _Rejected(
            "xml_entity",
            f"{self.name} declares an XML entity (line {self.parser.CurrentLineNumber}); Green "
            "Button files have none, so the file was refused unread.",
            self.parser.CurrentLineNumber,
        )

    def _external(self, *args: object) -> int:
        raise _Rejected(
            "xml_entity",
            f"{self.name} refers to an external entity (line {self.parser.CurrentLineNumber}); "
            "it was refused, nothing was fetched.",
            self.parser.CurrentLineNumber,
        )

    # -- elements -----------------------------------------------------------------------------
    def _start(self, tag: str, attrs: dict[str, str]) -> None:
        namespace, _, local = tag.rpartition(" ")
        self.depth += 1
        line = self.parser.CurrentLineNumber
        if not self.root_checked:
            self.root_checked = True
            if namespace != ATOM or local not in ("feed", "entry"):
                shown = f"<{local}>" + (f" in the namespace {namespace}" if namespace else "")
                raise _Rejected(
                    "not_green_button",
                    f"{self.name} is XML but not a Green Button file: its root element is "
                    f"{shown} (line {line}), where a Green Button file has an Atom <feed> "
                    f"({ATOM}) of ESPI entries ({ESPI}).",
                    line,
                )
            if local == "entry":
                self.entry = _Entry(line)
            return
        if namespace == ATOM and local == "entry" and self.entry is None:
            self.entry = _Entry(line)
            return
        entry = self.entry
        if entry is None:
            return
        if namespace == ATOM and local == "link" and not self.in_content:
            rel, href = attrs.get("rel", ""), attrs.get("href", "")
            if rel == "self":
                entry.self_href = href
            elif rel == "up":
                entry.up_href = href
            elif rel == "related":
                entry.related.append(href)
            return
        if namespace == ATOM and local == "content":
            self.in_content = True
            return
        if not self.in_content:
            return
        if namespace != ESPI:
            if not self.path and not entry.kind and namespace:
                entry.kind = f"{{{namespace}}}{local}"
            return
        self.espi_seen = True
        if not self.path:
            if entry.kind:
                raise _Rejected(
                    "not_green_button",
                    f"The entry on line {entry.line} of {self.name} has <{local}> on line {line} "
                    f"outside its <{entry.kind}> (nested or a second resource); an ESPI entry's "
                    "content holds one resource.",
                    line,
                )
            entry.kind = local
            if local == "IntervalBlock":
                entry.block = _Block(line)
                self.block_opened = (self.parser.CurrentByteIndex, line)
                self.path.append(local)
                self.block_mode(True)
                return
        self.path.append(local)
        if entry.kind == "ReadingType" and len(self.path) == 2:
            if local in _READING_TYPE_FIELDS:
                self._collect()
        elif entry.kind == "LocalTimeParameters" and len(self.path) == 2:
            if local in _LOCAL_TIME_FIELDS:
                self._collect()
        elif entry.kind == "UsagePoint" and self.path[-2:] == ["ServiceCategory", "kind"]:
            self._collect()

    def _collect(self) -> None:
        self.collect = True
        self.text = []
        self.text_len = 0

    def _text(self, data: str) -> None:
        if not self.collect:
            return
        self.text_len += len(data)
        if self.text_len > _MAX_TEXT:
            line = self.parser.CurrentLineNumber
            raise _Rejected(
                "xml_too_long",
                f"<{self.path[-1]}> on line {line} of {self.name} holds more than {_MAX_TEXT} "
                "characters, where Green Button holds a number or a short code.",
                line,
            )
        self.text.append(data)

    def _end(self, tag: str) -> None:
        namespace, _, local = tag.rpartition(" ")
        self.depth -= 1
        entry = self.entry
        if entry is None:
            return
        if namespace == ATOM and local == "entry":
            self._end_entry(entry)
            self.entry = None
            return
        if namespace == ATOM and local == "content":
            self.in_content = False
            return
        if namespace != ESPI or not self.path:
            return
        text = "".join(self.text).strip() if self.collect else ""
        was_collecting = self.collect
        self.collect = False
        self.path.pop()
        if was_collecting:
            entry.values[local] = (text, self.parser.CurrentLineNumber)

    # -- an IntervalBlock's readings: the hot path, handlers of their own ---------------------
    def block_mode(self, on: bool) -> None:
        """Inside an IntervalBlock, lean handlers take over from the general ones: no start
        handler at all (expat then builds no call for a start tag), the text since the last end
        tag kept, and each end tag a dict lookup. A year of 15-minute readings is 35,040
        IntervalReadings of six elements each."""
        parser = self.parser
        self.in_block = on
        if on:
            parser.StartElementHandler = None
            parser.EndElementHandler = self._block_end
            parser.CharacterDataHandler = self._block_text
            self.buffer = ""
            self.reading = {}
            self.reading_line = 0
        else:
            parser.StartElementHandler = self._start
            parser.EndElementHandler = self._end
            parser.CharacterDataHandler = self._text

    def _block_text(self, data: str) -> None:
        self.buffer += data
        if len(self.buffer) > _MAX_BLOCK_TEXT:
            line = self.parser.CurrentLineNumber
            raise _Rejected(
                "xml_too_long",
                f"An element inside the IntervalBlock on line {line} of {self.name} holds more "
                f"than {_MAX_BLOCK_TEXT:,} characters, where Green Button holds a number.",
                line,
            )

    def _block_end(self, tag: str) -> None:
        """An end tag in an IntervalBlock: a leaf's text is what came since the last end tag."""
        local = _BLOCK_TAGS.get(tag)
        text, self.buffer = self.buffer, ""
        if not self.reading_line:
            # The first element that ends in a reading: its line is the reading's.
            self.reading_line = self.parser.CurrentLineNumber
        if local is None:
            return
        if local in _LEAVES:
            self.reading[_LEAVES[local]] = text.strip()
        elif local == "IntervalReading":
            assert self.entry is not None  # block mode starts inside an entry's content
            self._end_reading(self.entry)
            self.reading, self.reading_line = {}, 0
        elif local == "interval":
            # The block's own interval (its duration and start): not a reading's.
            self.reading, self.reading_line = {}, 0
        elif local == "IntervalBlock":
            self.path.pop()
            self.depth -= 1
            self.block_mode(False)

    def _end_reading(self, entry: _Entry) -> None:
        block = entry.block
        assert block is not None  # an IntervalBlock entry has one from its start
        line = self.reading_line
        self.count_readings(1)
        start_text = self.reading.get("timePeriod/start", "")
        value_text = self.reading.get("value", "")
        duration_text = self.reading.get("timePeriod/duration", "")
        try:
            start = int(start_text)
        except ValueError:
            self.file.error(
                line,
                "IntervalReading/timePeriod/start",
                "bad_time",
                f"The IntervalReading on line {line} has "
                + (f"the start {_show(start_text)}" if start_text else "no timePeriod/start")
                + ", where Green Button gives seconds since 1970-01-01 UTC.",
            )
            return
        try:
            value = float(value_text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(value_text)
        except ValueError:
            self.file.error(
                line,
                "IntervalReading/value",
                "bad_value",
                f"The IntervalReading on line {line} has "
                + (f"the value {_show(value_text)}" if value_text else "no value")
                + ", where Green Button gives a whole number.",
            )
            return
        if not -(1 << 31) * 86_400 < start < (1 << 33):
            self.file.error(
                line,
                "IntervalReading/timePeriod/start",
                "time_out_of_range",
                f"The IntervalReading on line {line} starts at {start}, which is no date between "
                "1900 and 2199.",
            )
            return
        if duration_text:
            try:
                duration = int(duration_text)
            except ValueError:
                duration = -1
            if duration not in _DURATIONS_S:
                if not block.bad_durations:
                    block.bad_duration_line, block.bad_duration_s = line, duration
                block.bad_durations += 1
                return
        block.epochs.append(start)
        block.raw.append(value)
        block.rows.append(line)

    def count_readings(self, count: int) -> None:
        self.readings += count
        if self.readings > self.max_rows:
            raise _Rejected(
                "too_many_rows",
                f"{self.name} has more than {self.max_rows:,} interval readings, the limit for "
                "one upload. Split it into several files.",
            )

    def _end_entry(self, entry: _Entry) -> None:
        block = entry.block
        if entry.kind == "IntervalBlock" and block is not None:
            if not entry.up_href:
                raise _Rejected(
                    "green_button_link",
                    f"The IntervalBlock on line {block.line} of {self.name} has no link "
                    'rel="up", so nothing says which MeterReading (and so which ReadingType) its '
                    "readings belong to.",
                    block.line,
                )
            key = _meter_reading_key(entry.up_href)
            owner = self.meter_readings.setdefault(key, _MeterReading(key))
            if block.bad_durations:
                if not owner.bad_durations:
                    owner.bad_duration_line = block.bad_duration_line
                    owner.bad_duration_s = block.bad_duration_s
                owner.bad_durations += block.bad_durations
            if len(block.epochs):
                first = min(block.epochs)
                end = max(block.epochs) + 1
                owner.blocks.append((first, end, block.line))
                owner.epochs.extend(block.epochs)
                owner.raw.extend(block.raw)
                owner.rows.extend(block.rows)
            entry.block = None
        self.entries.append(entry)

    # -- the pass -----------------------------------------------------------------------------
    def feed(self, chunks: Iterable[bytes]) -> None:
        try:
            BlockScanner(self).feed(chunks)
        except expat.ExpatError as exc:
            line = exc.lineno
            raise _Rejected(
                "bad_xml",
                f"{self.name} is not well-formed XML: {expat.ErrorString(exc.code)} on line "
                f"{line}, column {exc.offset + 1}"
                + (" (the file ends early: truncated?)" if exc.code == _NO_ELEMENT else "")
                + ".",
                line,
            ) from exc
        if not self.espi_seen:
            kinds = sorted({entry.kind for entry in self.entries if entry.kind})
            holds = f" (its entries hold {', '.join(kinds[:3])})" if kinds else ""
            raise _Rejected(
                "not_green_button",
                f"{self.name} is an Atom feed with no Green Button (ESPI, {ESPI}) resources"
                f"{holds}.",
            )


_BLOCK_TAGS = {
    f"{ESPI} {local}": local
    for local in ("IntervalBlock", "IntervalReading", "interval", "duration", "start", "value")
}
# A reading's leaves, by the name its fields have in messages.
_LEAVES = {"duration": "timePeriod/duration", "start": "timePeriod/start", "value": "value"}


_NO_ELEMENT = expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS]


def _int(values: dict[str, tuple[str, int]], name: str) -> int | None:
    text = values.get(name, ("", 0))[0]
    try:
        return int(text)
    except ValueError:
        return None


def parse_greenbutton_xml(channel_file: ChannelFile, stream: BinaryIO) -> ParseResult:
    """A Green Button feed: each MeterReading of electricity into its channel."""
    reader = _FeedReader(channel_file)
    try:
        reader.feed(_text_bytes(stream, channel_file.limits, channel_file.name, channel_file))  # type: ignore[arg-type]  # it only sets .compressed
        _link(reader, channel_file)
        # After the checks, so a hostile file gets its own refusal wherever it is dropped.
        channel_file.refuse_device_file("a Green Button file")
        return channel_file.result()
    except _Rejected as exc:
        return channel_file.rejected(exc)


def _link(reader: _FeedReader, channel_file: ChannelFile) -> None:
    """Follow the links: each MeterReading's ReadingType, its channel, its scaled readings."""
    name = channel_file.name
    reading_types: dict[str, _Entry] = {}
    usage_points: dict[str, _Entry] = {}
    for entry in reader.entries:
        if entry.kind == "ReadingType":
            reading_types[_key(entry.self_href, "ReadingType")] = entry
        elif entry.kind == "UsagePoint":
            usage_points[_key(entry.self_href, "UsagePoint")] = entry
        elif entry.kind == "MeterReading":
            key = _meter_reading_key(entry.self_href)
            meter_reading = reader.meter_readings.setdefault(key, _MeterReading(key))
            meter_reading.line = entry.line
            meter_reading.href = entry.self_href
            meter_reading.usage_point = _key(entry.up_href, "UsagePoint").rsplit(
                "/MeterReading", 1
            )[0]
            for href in entry.related:
                if "ReadingType" in href:
                    meter_reading.reading_type = _key(href, "ReadingType")
        elif entry.kind == "LocalTimeParameters":
            _explain_local_time(entry, channel_file)
    with_data = [mr for mr in reader.meter_readings.values() if len(mr.epochs) or mr.bad_durations]
    if not with_data:
        raise _Rejected(
            "header_only",
            f"{name} is a Green Button feed with no interval readings (no IntervalBlock holds an "
            "IntervalReading).",
        )
    taken: dict[str, _MeterReading] = {}
    left_out: list[str] = []
    for meter_reading in sorted(with_data, key=lambda mr: mr.line or 0):
        where = _where(meter_reading)
        if not meter_reading.line:
            raise _Rejected(
                "green_button_link",
                f"{name} has IntervalBlocks (the first on line {meter_reading.blocks[0][2] if meter_reading.blocks else meter_reading.bad_duration_line}) "
                f"whose MeterReading ({meter_reading.key}) is not in the file, so nothing says "
                "what their values are.",
            )
        reading_type = reading_types.get(meter_reading.reading_type)
        if reading_type is None and not meter_reading.reading_type and len(reading_types) == 1:
            reading_type = next(iter(reading_types.values()))
        if reading_type is None:
            named = meter_reading.reading_type or "none"
            raise _Rejected(
                "green_button_reading_type",
                f"The MeterReading on line {meter_reading.line} of {name} has readings but its "
                f"ReadingType ({named}) is not in the file, so nothing says their unit, scale or "
                "direction; export the feed again with its ReadingType entries.",
                meter_reading.line,
            )
        values = reading_type.values
        uom = _int(values, "uom")
        commodity = _int(values, "commodity")
        kind = _service_kind(usage_points.get(meter_reading.usage_point))
        what = _holds(uom, commodity, kind)
        if (uom != _WH) or (commodity is not None and commodity not in _ELECTRICITY) or kind:
            left_out.append(f"{what} ({where}, ReadingType on line {reading_type.line})")
            continue
        accumulation = _int(values, "accumulationBehaviour")
        if accumulation is not None and accumulation not in _INTERVAL_DATA:
            register = _REGISTERS.get(accumulation, f"accumulationBehaviour {accumulation}")
            left_out.append(
                f"{register} register readings, not each interval's energy ({where}, "
                f"ReadingType on line {reading_type.line})"
            )
            continue
        flow = _int(values, "flowDirection")
        channel = FLOW_CHANNELS.get(flow if flow is not None else 0)
        if channel is None:
            left_out.append(
                f"readings of flowDirection {flow}, which is neither delivered (1), received "
                f"(19) nor net (4) ({where})"
            )
            continue
        if channel in taken:
            other = taken[channel]
            raise _Rejected(
                "green_button_channels",
                f"{name} has two MeterReadings of {channel} energy ({_where(other)} and {where}), "
                "from two meters or at two intervals: upload one usage point per file, with one "
                "MeterReading per direction.",
                meter_reading.line,
            )
        taken[channel] = meter_reading
        _add_channel(channel_file, channel, meter_reading, reading_type, flow)
    if left_out:
        if not taken:
            raise _Rejected(
                "unsupported_unit",
                f"{name} holds {'; '.join(left_out[:3])}. Only electricity in watt-hours "
                "(ReadingType uom 72) interval data is stored, as kWh.",
            )
        channel_file.warning(
            None,
            "ReadingType",
            "left_out",
            f"Left out: {'; '.join(left_out[:3])}. Only electricity in watt-hours is stored.",
        )


def _where(meter_reading: _MeterReading) -> str:
    return f"MeterReading on line {meter_reading.line}"


def _service_kind(usage_point: _Entry | None) -> str:
    """'' for electricity (or unsaid), else what the UsagePoint's ServiceCategory names."""
    if usage_point is None:
        return ""
    kind = _int(usage_point.values, "kind")
    names = {0: "", 1: "gas", 2: "water", 3: "time", 4: "heat", 5: "refuse", 6: "sewerage"}
    return names.get(kind, f"service kind {kind}") if kind is not None else ""


def _holds(uom: int | None, commodity: int | None, service: str) -> str:
    unit = UNITS.get(uom, f"unit code {uom}") if uom is not None else "readings without a unit"
    commodity_name = ""
    if commodity is not None and commodity not in _ELECTRICITY:
        commodity_name = COMMODITIES.get(commodity, f"commodity {commodity}")
    thing = commodity_name or service
    return f"{thing} in {unit}" if thing else unit


def _add_channel(
    channel_file: ChannelFile,
    channel: str,
    meter_reading: _MeterReading,
    reading_type: _Entry,
    flow: int | None,
) -> None:
    values = reading_type.values
    multiplier = _int(values, "powerOfTenMultiplier") or 0
    if not -9 <= multiplier <= 9:
        raise _Rejected(
            "bad_multiplier",
            f"The ReadingType on line {reading_type.line} of {channel_file.name} has "
            f"powerOfTenMultiplier {multiplier}; Green Button's run from -9 to 9.",
            reading_type.line,
        )
    if meter_reading.bad_durations:
        channel_file.error(
            meter_reading.bad_duration_line,
            "IntervalReading/timePeriod/duration",
            "bad_duration",
            f"{_plural(meter_reading.bad_durations, 'IntervalReading lasts', 'IntervalReadings last')} "
            f"{meter_reading.bad_duration_s} seconds (the first on line "
            f"{meter_reading.bad_duration_line}); readings must be hourly, or 5 to 30 minutes.",
        )
    _check_overlaps(channel_file, meter_reading)
    raw = np.frombuffer(meter_reading.raw, dtype=np.float64) if len(meter_reading.raw) else None
    scaled = array("d")
    if raw is not None:
        exponent = multiplier - 3  # Wh x 10^multiplier -> kWh
        # Division by an exact power of ten, as the CSV path divides Wh by 1000: 1234 Wh is the
        # float nearest 1.234 kWh, not 1234 * 0.001.
        kwh = raw / 10.0**-exponent if exponent < 0 else raw * 10.0**exponent
        scaled.frombytes(kwh.astype(np.float64).tobytes())
    label = {"delivered": "delivered", "received": "received", "net": "net"}[channel]
    flow_text = "not given: taken as delivered" if flow is None else str(flow)
    source = (
        f"MeterReading on line {meter_reading.line}: ReadingType on line {reading_type.line}, "
        f"flowDirection {flow_text}, values in Wh x 10^{multiplier}"
    )
    parser = channel_file.channel(
        channel,
        time_column=f"IntervalReading/timePeriod/start ({label})",
        value_column=f"IntervalReading/value ({label})",
        source=source,
    )
    parser.unit = "kWh"
    channel_file.rows_read += len(meter_reading.epochs)
    add_utc_rows(parser, meter_reading.epochs, scaled, meter_reading.rows)
    flow_note = f"flowDirection {flow}" if flow is not None else "no flowDirection"
    example = 1000 * 10.0 ** (multiplier - 3)
    channel_file.notes.append(
        f"{label.capitalize()} energy ({flow_note}): each value is watt-hours x 10^{multiplier} "
        f"(uom 72, powerOfTenMultiplier {multiplier}), so a value of 1000 is {example:g} kWh."
    )


def _check_overlaps(channel_file: ChannelFile, meter_reading: _MeterReading) -> None:
    blocks = sorted(meter_reading.blocks)
    for (_first, end, line), (next_first, _, next_line) in itertools.pairwise(blocks):
        if next_first < end:
            channel_file.error(
                max(line, next_line),
                "IntervalBlock",
                "overlapping_blocks",
                f"The IntervalBlocks on lines {min(line, next_line)} and {max(line, next_line)} "
                f"overlap (both hold readings from {utc_text(next_first)}); a feed's blocks of "
                "one MeterReading follow each other.",
            )


def _explain_local_time(entry: _Entry, channel_file: ChannelFile) -> None:
    """Say what the file's LocalTimeParameters mean next to the site's timezone: times in the
    feed are UTC, so this only explains (or questions the site's timezone)."""
    tz_offset = _int(entry.values, "tzOffset")
    if tz_offset is None:
        return
    dst_offset = _int(entry.values, "dstOffset") or 0
    zone = channel_file.zone
    january = datetime(2024, 1, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    july = datetime(2024, 7, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    standard = int(min(january, july).total_seconds()) if january and july else None
    said = f"UTC{_offset_text(tz_offset)}" + (
        f", daylight saving +{dst_offset // 60} minutes" if dst_offset else ""
    )
    channel_file.notes.append(
        f"Times in the feed are UTC; its LocalTimeParameters (line {entry.line}) put the meter "
        f"at {said}."
    )
    if standard is not None and standard != tz_offset:
        channel_file.warning(
            entry.line,
            "LocalTimeParameters/tzOffset",
            "offset_mismatch",
            f"The feed puts the meter at UTC{_offset_text(tz_offset)} standard time, and the "
            f"site's timezone {channel_file.tz_name} is at UTC{_offset_text(standard)}: the "
            "readings are stored at their UTC instants; check the home's timezone.",
        )
