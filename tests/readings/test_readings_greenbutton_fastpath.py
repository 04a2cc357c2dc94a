"""Green Button XML's fast path (readings/parser/greenbutton_blocks.py) against the expat handlers,
the reference.

Every feed here is parsed twice: once as it comes (the regex reads the usual IntervalBlock bodies),
once with the fast path off (every byte through the handlers). The two must give the same report,
to the last field of every issue, and the same readings per MeterReading before any resampling:
the same start, the same value to the last bit (``-0.0`` is not ``0.0``) and the same line, in
the same order. The clean feeds also assert that the fast path read their readings, so a change
that makes it decline everything cannot pass as "both agree"; the odd ones are read in pieces of
every size, so a piece may end anywhere in a tag.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from readings.parser import (
    DEFAULT_LIMITS,
    Limits,
    ParseResult,
    greenbutton,
    greenbutton_blocks,
    parse_readings,
)
from tests.readings.greenbutton_samples import FIXTURES, MARCH_9_LA, feed

LA = "America/Los_Angeles"


class Pieces(io.RawIOBase):
    """A file that gives at most ``size`` bytes a read."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.at = data, size, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        step = self.size if size < 0 else min(size, self.size)
        out = self.data[self.at : self.at + step]
        self.at += len(out)
        return out


@dataclass
class Parsed:
    result: ParseResult
    readings: dict[str, tuple[list[int], list[str], list[int], int, int, int]]
    taken: int  # readings the regex read


def _parse(data: bytes, *, fast: bool, piece: int, limits: Limits) -> Parsed:
    readers: list[greenbutton._FeedReader] = []
    scanners: list[greenbutton_blocks.BlockScanner] = []
    link, scan = greenbutton._link, greenbutton_blocks.BlockScanner.feed

    def linked(reader, channel_file):
        readers.append(reader)
        return link(reader, channel_file)

    def scanned(self, chunks):
        scanners.append(self)
        return scan(self, chunks)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(greenbutton_blocks, "FAST", fast)
        patch.setattr(greenbutton, "_link", linked)
        patch.setattr(greenbutton_blocks.BlockScanner, "feed", scanned)
        result = parse_readings(Pieces(data, piece), tz=LA, filename="feed.xml", limits=limits)
    readings = {}
    for reader in readers:
        for key, mr in reader.meter_readings.items():
            readings[key] = (
                list(mr.epochs),
                [repr(value) for value in mr.raw],
                list(mr.rows),
                mr.bad_durations,
                mr.bad_duration_line,
                mr.bad_duration_s,
            )
    return Parsed(result, readings, sum(scanner.taken for scanner in scanners))


def parse_both(
    data: bytes, piece: int = 1 << 20, limits: Limits = DEFAULT_LIMITS
) -> tuple[Parsed, Parsed]:
    fast = _parse(data, fast=True, piece=piece, limits=limits)
    slow = _parse(data, fast=False, piece=piece, limits=limits)
    assert slow.taken == 0
    assert fast.readings == slow.readings
    fast_report, slow_report = fast.result.report, slow.result.report
    assert fast_report.errors == slow_report.errors
    assert fast_report.warnings == slow_report.warnings
    assert repr(fast_report.summary) == repr(slow_report.summary)
    for (channel, fast_hours), (other, slow_hours) in zip(
        fast.result.by_channel(), slow.result.by_channel(), strict=True
    ):
        assert channel == other
        fast_epochs, fast_values = fast_hours.arrays()
        slow_epochs, slow_values = slow_hours.arrays()
        assert fast_epochs.tobytes() == slow_epochs.tobytes()
        assert fast_values.tobytes() == slow_values.tobytes()
    return fast, slow


def _feed(days: int = 3, **kw) -> bytes:
    return "".join(feed(MARCH_9_LA, days, **kw)).encode()


# ---- the usual feeds: the regex reads them ---------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_feed(), id="15-minute, both channels"),
        pytest.param(_feed(interval_s=3600, channels=(4,)), id="hourly net"),
        pytest.param(_feed(multiplier=-1, channels=(1,)), id="decawatt-hours"),
        pytest.param((FIXTURES / "net_metered_15min.xml").read_bytes(), id="the sample"),
        pytest.param(_feed().replace(b"\n", b"\r\n"), id="CRLF"),
        pytest.param(_feed().replace(b"\n", b""), id="one line"),
    ],
)
def test_the_regex_reads_the_usual_feeds_as_the_handlers_do(data):
    fast, _slow = parse_both(data)
    assert fast.result.ok, fast.result.report.errors
    assert fast.taken == sum(len(r[0]) for r in fast.readings.values()) > 0


def test_a_feed_written_an_element_a_line_is_read_reading_by_reading_with_each_first_end_line():
    data = re.sub(rb"><", b">\n  <", _feed(days=2))
    fast, _slow = parse_both(data)
    assert fast.result.ok
    assert fast.taken == 2 * 2 * 96
    rows = next(iter(fast.readings.values()))[2]
    # <IntervalReading>, <cost>, then </cost> ends the reading's first element.
    assert data.splitlines()[rows[0] - 1].strip().startswith(b"<cost>")


def test_an_espi_prefix_and_a_block_in_a_comment():
    data = _feed(days=2)
    data = data.replace(b'<IntervalBlock xmlns="http://naesb.org/espi">', b"<espi:IntervalBlock>")
    data = data.replace(b"</IntervalBlock>", b"</espi:IntervalBlock>")
    data = re.sub(rb"<(/?)(interval|IntervalReading|timePeriod|duration|start|value|cost)>",
                  rb"<\1espi:\2>", data)  # fmt: skip
    commented = data.replace(
        b"  <entry>",
        b"  <!-- <IntervalBlock><interval> --><![CDATA[<IntervalBlock>]]>\n  <entry>",
        1,
    )
    for each in (data, commented):
        fast, _slow = parse_both(each, piece=997)
        assert fast.result.ok
        assert fast.taken == 2 * 2 * 96


# ---- odd readings: the handlers take over where the regex stops --------------------------------
ODD = [
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>12.5</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>1234</duration><start>{s}</start></timePeriod>"
    b"<value>5</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>99999999999</start>"
    b"</timePeriod><value>5</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"</IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>-0</value><ReadingQuality><quality>8</quality></ReadingQuality></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>+5</value></IntervalReading>",
    b"<!-- <IntervalReading> -->",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>x</value></IntervalReading>",
    b"\r<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>-0</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    + b" " * 300
    + b"<value>7</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>9999999999999999</value></IntervalReading>",
    # A long indent, then a start out of range: the bulk read hands the run to the one at a time.
    b" " * 90 + b"<IntervalReading><cost>1</cost><timePeriod><duration>900</duration>"
    b"<start>9999999999</start></timePeriod><value>5</value></IntervalReading>",
    b"<IntervalReading><timePeriod><duration>900</duration><start>{s}</start></timePeriod>"
    b"<value>4</value></IntervalReading>" + b" " * 150,
]
LONG_INDENT, TRAILING_SPACES = len(ODD) - 2, len(ODD) - 1


def _with_odd(choices: list[tuple[int, int]]) -> bytes:
    """A feed with the readings at the given indexes replaced by odd ones."""
    lines = _feed(days=2, channels=(1,)).split(b"\n")
    original = list(lines)
    reading_lines = [i for i, line in enumerate(lines) if b"<IntervalReading>" in line]
    for index, odd in choices:
        at = reading_lines[index % len(reading_lines)]
        start = re.search(rb"<start>(\d+)</start></timePeriod>", original[at])
        assert start is not None
        lines[at] = b"        " + ODD[odd % len(ODD)].replace(b"{s}", start.group(1))
    return b"\n".join(lines)


@pytest.mark.parametrize("odd", range(len(ODD)))
def test_each_odd_reading_gets_the_handlers_message(odd):
    fast, _slow = parse_both(_with_odd([(5, odd), (150, odd)]), piece=4096)
    assert fast.taken > 0


def test_whitespace_between_two_readings_longer_than_the_one_at_a_time_read_takes():
    # 150 spaces, a newline, 98: each side within bounds, together more than 200.
    fast, _slow = parse_both(_with_odd([(5, TRAILING_SPACES), (6, LONG_INDENT)]))
    assert fast.taken > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    choices=st.lists(st.tuples(st.integers(0, 191), st.integers(0, len(ODD) - 1)), max_size=6),
    piece=st.sampled_from([1, 7, 64, 1000, 4095, 65536]),
)
def test_odd_readings_anywhere_in_pieces_of_any_size(choices, piece):
    parse_both(_with_odd(choices), piece=piece)


def test_the_upload_limit_counts_the_readings_the_regex_reads():
    fast, _slow = parse_both(_feed(days=6, channels=(1,)), limits=Limits(max_rows=500))
    assert [issue.code for issue in fast.result.report.errors] == ["too_many_rows"]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(_feed(days=2).replace(b"</IntervalBlock>", b"</IntervalBlok>", 2), id="lines"),
        pytest.param(
            _feed(days=2).replace(b"\n", b"").replace(b"</IntervalBlock>", b"</Interval>", 3),
            id="one line",
        ),
        pytest.param(
            _feed(days=2).replace(b"</IntervalBlock>", b"&bogus;</IntervalBlock>", 2), id="entity"
        ),
    ],
)
def test_an_error_after_readings_the_regex_took_names_the_same_line_and_column(data):
    fast, _slow = parse_both(data, piece=5000)
    assert fast.taken > 0
    [error] = fast.result.report.errors
    assert error.code in ("bad_xml", "xml_entity")
    assert "line" in error.message
