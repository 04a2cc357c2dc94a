"""The timeline and the daylight-saving rules: a zone's UTC offsets over the file's span, naive
local times on change days (the skipped spring hour, the repeated autumn hour), the file's own
offsets checked against the zone, and the daylight-saving days the summary lists."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import compress, islice
from operator import ge, le
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .types import (
    _DAY,
    _EPOCH_ORDINAL,
    _EPOCH_SHIFT,
    _HOUR,
    _MAX_DST_DAYS,
    DstDay,
    _ints,
    _ParserState,
    _plural,
)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown IANA timezone: {name!r}") from exc


def _offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    hours, rest = divmod(abs(seconds), _HOUR)
    return f"{sign}{hours:02d}:{rest // 60:02d}"


def _wall_text(local_seconds: int) -> str:
    """Format seconds since ordinal 0, local wall clock."""
    days, secs = divmod(local_seconds, _DAY)
    moment = datetime.fromordinal(days) + timedelta(seconds=secs)
    return moment.strftime("%Y-%m-%d %H:%M")


def _offset_seconds(zone: tzinfo, moment: datetime) -> int:
    offset = zone.utcoffset(moment)
    return int(offset.total_seconds()) if offset is not None else 0


# 4,096 instants: the UTC midnights of a decade, what a year's files share, about 1 MB; a file of
# centuries walks past it rather than keeping its every day for the process's life.
@lru_cache(maxsize=1 << 12)
def _offset_at(zone: ZoneInfo, epoch: int) -> int:
    """The zone's UTC offset at an instant (ZoneInfo instances are cached per key: hashable)."""
    return _offset_seconds(zone, datetime.fromtimestamp(epoch, zone))


class _Timeline:
    """The zone's UTC offset over a range of instants, as steps: ``offsets[i]`` applies from
    ``starts[i]``. Walking the range a day at a time finds every change (zones change at most
    a few times a year); two changes within one day that cancel out would be missed."""

    def __init__(self, zone: ZoneInfo, lo: int, hi: int) -> None:
        self.zone = zone
        self.starts = [lo]
        self.offsets = [self._at(lo)]
        moment = lo
        while moment < hi:
            # UTC midnights: the same few hundred points for every file of the same period,
            # so the cached offsets of one file serve the next.
            step = min((moment // _DAY + 1) * _DAY, hi)
            offset = self._at(step)
            if offset != self.offsets[-1]:
                self.starts.append(self._change_between(moment, step))
                self.offsets.append(offset)
            moment = step
        self.ends = [*self.starts[1:], hi + 1]

    def _at(self, epoch: int) -> int:
        return _offset_at(self.zone, epoch)

    def _change_between(self, lo: int, hi: int) -> int:
        """The first second of the new offset, given a change in (lo, hi]."""
        before = self._at(lo)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._at(mid) == before:
                lo = mid
            else:
                hi = mid
        return hi

    def offset_at(self, epoch: int) -> int:
        return self.offsets[max(bisect_right(self.starts, epoch) - 1, 0)]

    def transitions(self) -> Iterator[tuple[int, int, int]]:
        """(instant, offset before, offset after) of each change."""
        for index in range(1, len(self.starts)):
            yield self.starts[index], self.offsets[index - 1], self.offsets[index]


class _TimelineRules(_ParserState):
    """The parser's daylight-saving rules. A mixin of ``core._Parser``: it works on the parser's state."""

    def _naive_day_offset(self, ordinal: int) -> int | None:
        """The zone's offset (with the 1970 shift) over a local day, None on a change day."""
        known = self.day_offsets.get(ordinal)
        if known is not None or ordinal in self.change_days:
            return known
        midnight = datetime.fromordinal(ordinal)
        first = _offset_seconds(self.zone, midnight)
        last = _offset_seconds(self.zone, midnight.replace(hour=23, minute=59, second=59, fold=1))
        if first != last:
            self.change_days.add(ordinal)
            return None
        self.day_offsets[ordinal] = _EPOCH_SHIFT + first
        return _EPOCH_SHIFT + first

    def _naive_on_change_day(self, moment: datetime, ordinal: int, line: int) -> int | None:
        """The offset (with the 1970 shift) for a naive time on a day not cached yet, or None."""
        whole_day = self._naive_day_offset(ordinal)
        if whole_day is not None:
            return whole_day
        # PEP 495: fold=0 takes the offset in force before a change, fold=1 the one after.
        # Both equal: the time exists once. The offset grows: clocks jumped over it. It shrinks:
        # the clocks went back and the time happens twice.
        offset_0 = _offset_seconds(self.zone, moment)
        offset_1 = _offset_seconds(self.zone, moment.replace(fold=1))
        local = (ordinal * 24 + moment.hour) * 3600 + moment.minute * 60 + moment.second
        if offset_0 == offset_1:
            return _EPOCH_SHIFT + offset_0
        if offset_0 < offset_1:
            change = _Timeline(
                self.zone, local - _EPOCH_SHIFT - offset_1 - 1, local - _EPOCH_SHIFT - offset_0
            )
            instant = change.starts[-1] + _EPOCH_SHIFT
            self._time_error(
                line,
                "nonexistent_local_time",
                f"{_wall_text(local)} does not exist in {self.tz_name}: that night the clocks "
                f"go from {_wall_text(instant + offset_0)[11:]} straight to "
                f"{_wall_text(instant + offset_1)[11:]}. Give the time with its UTC offset, or "
                "leave the row out.",
            )
            return None
        self.ambiguous.append((len(self.epochs), line, local, offset_0, offset_1))
        return _EPOCH_SHIFT + offset_0

    def _resolve_ambiguous(self) -> set[int]:
        """Place each repeated autumn hour by the file's order; return the indexes left out.

        In a file in time order the first of two equal local times is the earlier instant
        (daylight time) and the second the later one; a file in reverse order says the
        opposite. Once, three times, or in a file in no order: the row can't be placed.
        """
        if not self.ambiguous:
            return set()
        epochs = self.epochs
        certain = bytearray(b"\x01") * len(epochs)
        for entry in self.ambiguous:
            certain[entry[0]] = 0
        known = array("q", compress(epochs, certain))
        if all(map(le, known, islice(known, 1, None))):
            order: str | None = "rising"
        elif all(map(ge, known, islice(known, 1, None))):
            order = "falling"
        else:
            order = None
        groups: dict[int, list[tuple[int, int, int, int, int]]] = {}
        for entry in self.ambiguous:
            groups.setdefault(entry[2], []).append(entry)
        dropped: set[int] = set()
        for local, entries in groups.items():
            offset_0, offset_1 = entries[0][3], entries[0][4]
            if len(entries) == 2 and order is not None:
                first, second = entries if order == "rising" else entries[::-1]
                epochs[first[0]] = local - _EPOCH_SHIFT - offset_0
                epochs[second[0]] = local - _EPOCH_SHIFT - offset_1
                continue
            twice = (
                f"{_wall_text(local)} happens twice in {self.tz_name} (at UTC"
                f"{_offset_text(offset_0)}, then at UTC{_offset_text(offset_1)})"
            )
            if len(entries) == 1:
                why = "and the file has it once, so it can't tell which"
            elif len(entries) == 2:
                why = "and the file is not in time order, so its order can't tell which is which"
            else:
                why = f"but the file has it {len(entries)} times"
            example = _wall_text(local).replace(" ", "T") + ":00" + _offset_text(offset_0)
            for entry in entries:
                dropped.add(entry[0])
                self._time_error(
                    entry[1],
                    "ambiguous_local_time",
                    f"{twice}, {why}. Give the time with its UTC offset, e.g. {example}.",
                )
        return dropped

    def _refuse_mixed_offsets(self) -> set[int]:
        """A file with rows with and without a UTC offset: each run of rows without one is an
        error naming its rows (an edit gone wrong: read as local time, they would land hours away
        from their neighbours). Returns the indexes of those rows, left out of the series."""
        runs = self.offset_runs
        offsets = {offset for _, offset in runs}
        if None not in offsets or len(offsets) == 1:
            return set()
        aware = next(offset for _, offset in runs if offset is not None)
        aware_row = self.rows[next(start for start, offset in runs if offset is not None)]
        left_out: set[int] = set()
        for number, (start, offset) in enumerate(runs):
            if offset is not None:
                continue
            end = runs[number + 1][0] if number + 1 < len(runs) else len(self.epochs)
            if end <= start:
                continue
            first, last = self.rows[start], self.rows[end - 1]
            where = f"Row {first} has" if end - start == 1 else f"Rows {first}-{last} have"
            self._time_error(
                first,
                "mixed_offsets",
                f"{where} no UTC offset, while other rows of the file have one (row "
                f"{aware_row}: {_offset_text(aware)}). A file mixes them only after an edit, and "
                "read as local time these rows would land hours away from their neighbours: give "
                "every row its UTC offset, or none.",
            )
            left_out.update(range(start, end))
        return left_out

    def _check_file_offsets(self, timeline: _Timeline) -> None:
        """Warn when the file's UTC offsets are ones the site's zone doesn't use at that instant
        (a file in standard time all year, or the site's timezone set wrong). UTC itself is a
        fine way to write instants, so offset zero is not questioned."""
        epochs, runs = self.epochs, self.offset_runs
        starts, offsets = timeline.starts, timeline.offsets
        mismatched = 0
        first: tuple[int, int, int] | None = None  # (index, file offset, zone offset)
        for number, (start, offset) in enumerate(runs):
            if not offset:
                continue
            end = runs[number + 1][0] if number + 1 < len(runs) else len(epochs)
            part = epochs[start:end]
            if (np.diff(_ints(part)) >= 0).all():
                # In order: count each zone span's share of the run by bisection.
                spans = range(
                    max(bisect_right(starts, part[0]) - 1, 0), bisect_right(starts, part[-1])
                )
                for span in spans:
                    if offsets[span] == offset:
                        continue
                    lo = bisect_left(part, starts[span])
                    hi = bisect_left(part, timeline.ends[span])
                    if hi > lo:
                        mismatched += hi - lo
                        if first is None or start + lo < first[0]:
                            first = (start + lo, offset, offsets[span])
                continue
            for index, epoch in enumerate(part, start):
                zone_offset = timeline.offset_at(epoch)
                if zone_offset != offset:
                    mismatched += 1
                    if first is None or index < first[0]:
                        first = (index, offset, zone_offset)
        if first is not None:
            index, offset, zone_offset = first
            self.issues.warning(
                self.rows[index],
                self.time_column,
                "offset_mismatch",
                f"{_plural(mismatched, 'row gives', 'rows give')} a UTC offset that "
                f"{self.tz_name} doesn't use at that instant (this one says "
                f"{_offset_text(offset)}, {self.tz_name} is at {_offset_text(zone_offset)}). "
                "The instants are taken as written; check the file's timezone, or the site's.",
            )

    def _dst_days(self, epochs: array[int], timeline: _Timeline, out: list[DstDay]) -> int:
        """The local days in the data's range that are not 24 hours long, with what to expect."""
        seen: set[int] = set()
        total = 0
        range_end = epochs[-1] + _HOUR
        for instant, before, after in timeline.transitions():
            ordinal = (instant + after) // _DAY + _EPOCH_ORDINAL
            if ordinal in seen:
                continue
            seen.add(ordinal)
            start, end = self._local_midnight(ordinal), self._local_midnight(ordinal + 1)
            hours = (end - start) / _HOUR
            if end <= epochs[0] or start >= range_end or hours == 24:
                continue
            total += 1
            if len(out) >= _MAX_DST_DAYS:
                continue
            present = bisect_left(epochs, end) - bisect_left(epochs, start)
            from_wall = _wall_text(instant + before + _EPOCH_SHIFT)[11:]
            to_wall = _wall_text(instant + after + _EPOCH_SHIFT)[11:]
            if after > before:
                what = f"the clocks go forward at {from_wall} to {to_wall}, so that hour is skipped"
            else:
                what = (
                    f"the clocks go back at {from_wall} to {to_wall}, so the hour from {to_wall} "
                    "happens twice"
                )
            out.append(
                DstDay(
                    date.fromordinal(ordinal),
                    hours,
                    present,
                    f"{hours:g}-hour day: {what}; the file has {present} of {hours:g} hourly "
                    "readings.",
                )
            )
        return total

    def _local_midnight(self, ordinal: int) -> int:
        """The instant a local day starts (its midnight, or the first instant after a skipped
        one: fold=0 uses the offset before the change)."""
        return int(datetime.fromordinal(ordinal).replace(tzinfo=self.zone).timestamp())

    def _when(self, epoch: int) -> str:
        return datetime.fromtimestamp(epoch, self.zone).strftime("%Y-%m-%d %H:%M %Z")
