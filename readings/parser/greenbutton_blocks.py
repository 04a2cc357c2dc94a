"""Green Button XML's fast path: the body of an IntervalBlock read by compiled regexes.

A year of 15-minute readings is 35,040 IntervalReadings of six elements each, and calling back
into Python for each of their end tags was most of what parsing a feed cost. So the feed is handed
to expat in pieces cut here: up to the end of each ``<IntervalBlock>`` start tag with the usual
handlers; then, as far as the block's body is the usual run of readings (``_Patterns.run``: no
attribute, no comment, no entity, whole-number values, a duration that is an interval, a start
in range, bounded whitespace), it is read here, and expat is given in its place the whitespace
that keeps its line and column where they were (those bytes are tags and digits, well-formed by
construction, and the handlers are off for them anyway), so every message expat gives about
what follows names the same line and column. Everything else, and the rest of a block from the
first thing the regexes do not take, goes through the expat handlers, which give their exact
messages. The fast path is only taken where expat itself says a block starts where the regex
found its start tag (the same byte, the same line), so a start tag in a comment or a CDATA
section is never taken for one; DTDs and entities are refused by the handlers before any block.

What a reading read here becomes is what ``_FeedReader._end_reading`` makes of it: its start,
its value (``float`` of the same text), the line of its first end tag, and the same count
against the upload's limit; tests/readings/test_readings_greenbutton_fastpath.py holds the two
to it, reading for reading.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from .types import _SUBHOURLY_S

if TYPE_CHECKING:
    from .greenbutton import _Block, _FeedReader

# A start tag of an IntervalBlock in any prefix (the group): where a block's body may start.
_BLOCK_START = re.compile(
    rb"<(?:([A-Za-z_][\w.-]{0,40}):)?IntervalBlock(?:[ \t\r\n][^<>]{0,2000})?(?<!/)>"
)
# A tag that may still be arriving at the end of a piece.
_KEEP_TAIL = 4096
# Whitespace between two elements: bounded (the slow path refuses 4,096 characters of text
# between two end tags), no lone carriage return (expat counts it as a line of its own).
_WS = rb"(?:[ \t\n]|\r\n){0,200}"
_DURATION = b"|".join(str(seconds).encode() for seconds in (*_SUBHOURLY_S, 3600))
_LONGEST_READING = 4096  # bytes: a run that stops closer than this to a piece's end may go on
_LATEST_START = 1 << 33  # exclusive, as the slow path's range check


class _Patterns(NamedTuple):
    interval: re.Pattern[bytes]  # the block's own <interval>, before its readings
    reading: re.Pattern[bytes]  # one IntervalReading: (cost, duration, start, value)
    run: re.Pattern[bytes]  # readings one after the other
    lines: re.Pattern[bytes]  # a run with each reading on a line of its own (no other newline)
    starts: re.Pattern[bytes]  # in a run: each reading's timePeriod/start, in order
    values: re.Pattern[bytes]  # and its value


def _patterns(prefix: bytes) -> _Patterns:
    p = re.escape(prefix + b":") if prefix else b""

    def tag(name: bytes) -> bytes:
        return b"<" + p + name + b">"

    def end(name: bytes) -> bytes:
        return b"</" + p + name + b">"

    def reading(lead: bytes, ws: bytes, group: bytes) -> bytes:
        return (
            lead + tag(b"IntervalReading") + ws
            + rb"(?:" + tag(b"cost") + group + rb"-?\d{1,15})" + end(b"cost") + ws + rb")?"
            + tag(b"timePeriod") + ws + tag(b"duration") + group + _DURATION + rb")"
            + end(b"duration") + ws + tag(b"start") + group + rb"\d{1,10})" + end(b"start") + ws
            + end(b"timePeriod") + ws + tag(b"value") + group + rb"-?\d{1,15})" + end(b"value")
            + ws + end(b"IntervalReading")
        )  # fmt: skip

    interval = (
        _WS + tag(b"interval") + _WS + tag(b"duration") + rb"\d{1,12}" + end(b"duration") + _WS
        + tag(b"start") + rb"-?\d{1,12}" + end(b"start") + _WS + end(b"interval")
    )  # fmt: skip
    one = reading(_WS, _WS, b"(")
    run = rb"(?:" + reading(_WS, _WS, b"(?:") + rb")+"
    # Its lead is at most _WS's 200 (a run it takes, the one-at-a-time reading takes too).
    lead = rb"[ \t]{0,99}\r?\n[ \t]{0,99}"
    lines = rb"(?:" + reading(lead, rb"[ \t]{0,200}", b"(?:") + rb")+"
    starts = tag(b"start") + rb"(\d{1,10})" + end(b"start")
    values = tag(b"value") + rb"(-?\d{1,15})" + end(b"value")
    return _Patterns(
        *(re.compile(pattern) for pattern in (interval, one, run, lines, starts, values))
    )


# Off in the tests that hold the fast path to the handlers (and only there).
FAST = True
_PATTERNS: dict[bytes, _Patterns] = {}


class BlockScanner:
    """Cuts the feed into pieces for expat, and reads the usual IntervalBlock bodies itself."""

    def __init__(self, reader: _FeedReader) -> None:
        self.reader = reader
        self.parser = reader.parser
        self.pending = b""
        self.at = 0  # pending[:at] is expat's already
        self.fed = 0  # bytes handed to expat
        self.block: _Block | None = None  # the block whose body is being read here
        self.patterns: _Patterns | None = None
        self.line = 0  # the line of self.pending's first byte, in a block read here
        self.at_body_start = False
        self.taken = 0  # readings read here (the tests check the fast path ran)
        self.counted = 0  # of them, counted against the upload's limit

    def feed(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.pending = self.pending[self.at :] + chunk
            self.at = 0
            self._advance(final=False)
        self._advance(final=True)
        self.parser.Parse(b"", True)

    def _give(self, end: int) -> None:
        """Hand expat ``pending[at:end]``, with whatever handlers are set."""
        if end > self.at:
            self.parser.Parse(memoryview(self.pending)[self.at : end], False)
            self.fed += end - self.at
            self.at = end

    def _skip(self, end: int) -> None:
        """Hand expat, for ``pending[at:end]`` (readings the regex took, so tags and digits that
        are well-formed by construction), the whitespace that keeps its line and column where
        they would be: its messages about anything after it name the same line and column."""
        if end <= self.at:
            return
        newlines = self.pending.count(b"\n", self.at, end)
        last = self.pending.rfind(b"\n", self.at, end)
        columns = end - (last + 1 if last >= 0 else self.at)
        stand_in = b"\n" * newlines + b" " * columns
        self.parser.Parse(stand_in, False)
        self.fed += len(stand_in)
        self.at = end

    def _advance(self, *, final: bool) -> None:
        if not FAST:
            self._give(len(self.pending))
            return
        while self.at < len(self.pending):
            if self.block is not None:
                if not self._read_body(final=final):
                    return
                continue
            found = _BLOCK_START.search(self.pending, self.at)
            if found is None:
                keep = self.pending.rfind(b"<", self.at)
                if final or keep < 0 or len(self.pending) - keep > _KEEP_TAIL:
                    keep = len(self.pending)
                self._give(keep)
                return
            self._enter(found)

    def _enter(self, found: re.Match[bytes]) -> None:
        """Give expat the start tag; read the body here if expat agrees a block starts there."""
        reader = self.reader
        reader.block_opened = None
        at = self.fed + found.start() - self.at
        self._give(found.end())
        opened = reader.block_opened
        reader.block_opened = None
        entry = reader.entry
        if opened is None or opened[0] != at or not reader.in_block or entry is None:
            return  # in a comment, a CDATA section, another namespace...: expat's handlers
        prefix = found.group(1) or b""
        if prefix not in _PATTERNS:
            _PATTERNS[prefix] = _patterns(prefix)
        self.patterns = _PATTERNS[prefix]
        self.block = entry.block
        if self.block is None:
            return
        self.line = opened[1] + found.group(0).count(b"\n")
        self.at_body_start = True
        self.parser.EndElementHandler = None
        self.parser.CharacterDataHandler = None

    def _read_body(self, *, final: bool) -> bool:
        """Read the readings at ``pending[at:]``; False when more bytes are needed."""
        assert self.block is not None and self.patterns is not None
        patterns = self.patterns
        pending = self.pending
        pos = self.at
        if self.at_body_start:
            head = patterns.interval.match(pending, pos)
            if head is None and not final and len(pending) - pos < _LONGEST_READING:
                return False
            self.at_body_start = False
            if head is not None:
                self.line += pending.count(b"\n", pos, head.end())
                pos = head.end()
        while True:
            run = patterns.lines.match(pending, pos)
            if run is not None:
                taken = self._take_lines(pos, run.end())
            else:
                run = patterns.run.match(pending, pos)
                taken = self._take_run(pos, run.end()) if run is not None else pos
            if taken == pos:
                break
            pos = taken
        self.reader.count_readings(self.taken - self.counted)
        self.counted = self.taken
        more = not final and len(pending) - pos < _LONGEST_READING
        self._skip(pos)
        if more:
            return False
        # Whatever comes next (the block's end tag, or anything the regex does not take) goes
        # through the block's own handlers, from a reading's start, as if read from the start.
        self.block = None
        self.reader.block_mode(True)
        return True

    def _take_lines(self, pos: int, end: int) -> int:
        """The usual layout, read in bulk: reading k of the run is on the k-th line after."""
        assert self.block is not None and self.patterns is not None
        block = self.block
        values = self.patterns.values.findall(self.pending, pos, end)
        epochs = array("q", map(int, self.patterns.starts.findall(self.pending, pos, end)))
        assert len(epochs) == len(values)  # the run has one of each per reading
        if max(epochs) >= _LATEST_START:
            return self._take_run(pos, end)
        block.epochs.extend(epochs)
        block.raw.extend(array("d", map(float, values)))
        block.rows.extend(range(self.line + 1, self.line + len(epochs) + 1))
        self.line += len(epochs)
        self.taken += len(epochs)
        return end

    def _take_run(self, pos: int, end: int) -> int:
        """Keep the readings of ``pending[pos:end]``; the position after the last one kept."""
        assert self.block is not None and self.patterns is not None
        block, pending = self.block, self.pending
        # One at a time: each reading's line is its first end tag's, as the handlers count.
        line, counted = self.line, pos
        match = self.patterns.reading.match
        while pos < end:
            found = match(pending, pos)
            assert found is not None  # the run is made of readings
            start = int(found.group(3))
            if start >= _LATEST_START:
                break
            first_end = found.end(1) if found.start(1) >= 0 else found.end(2)
            line += pending.count(b"\n", counted, first_end)
            counted = first_end
            block.epochs.append(start)
            block.raw.append(float(found.group(4)))
            block.rows.append(line)
            self.taken += 1
            pos = found.end()
        self.line = line + pending.count(b"\n", counted, pos)
        return pos
