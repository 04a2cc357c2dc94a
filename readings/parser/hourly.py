"""Hourly series: sorting, repeated rows (the same instant twice), and 5- to 30-minute readings
summed into UTC hours."""

from __future__ import annotations

import math
from array import array
from collections import Counter
from itertools import compress, islice, repeat
from operator import eq, mod, sub

import numpy as np

from .lines import Lines
from .timeline import _offset_text, _Timeline
from .types import _HOUR, _SUBHOURLY_S, _ints, _ParserState

# Whole-file checks run a block of instants at a time: one numpy temporary over a 100 MB file's
# instants would hold another 20 MB at once (readings.parser.Limits bounds the file, this the
# memory of its checks).
_STEP_BLOCK = 1 << 18


def _steps(epochs: array[int]) -> Counter[int]:
    """How often each spacing occurs between consecutive instants (vectorized, by blocks)."""
    counts: Counter[int] = Counter()
    ints = _ints(epochs)
    for start in range(0, len(ints) - 1, _STEP_BLOCK):
        steps = np.diff(ints[start : start + _STEP_BLOCK + 1])
        if (steps == steps[0]).all():  # the usual file: one spacing throughout
            counts[int(steps[0])] += len(steps)
            continue
        spacings, found = np.unique(steps, return_counts=True)
        counts.update(dict(zip(spacings.tolist(), found.tolist(), strict=True)))
    return counts


def _sorted_columns(
    epochs: array[int], values: array[float], rows: Lines, steps: Counter[int]
) -> tuple[array[int], array[float], Lines]:
    """Sort the three columns by instant; in order or reversed costs no sort."""
    if min(steps) >= 0:
        return epochs, values, rows
    if max(steps) <= 0:
        # The columns are this parse's own, so reversing in place is safe.
        epochs.reverse()
        values.reverse()
        rows.reverse()
        return epochs, values, rows
    order = sorted(range(len(epochs)), key=epochs.__getitem__)
    return (
        array("q", map(epochs.__getitem__, order)),
        array("d", map(values.__getitem__, order)),
        array("I", map(rows.__getitem__, order)),
    )


class _Hourly(_ParserState):
    """The parser's resampling into hours and its duplicate rules. A mixin of ``core._Parser``: it works on the parser's state."""

    def _drop_duplicates(
        self, epochs: array[int], values: array[float], rows: Lines
    ) -> tuple[array[int], array[float], Lines]:
        if not any(map(eq, epochs, islice(epochs, 1, None))):
            return epochs, values, rows
        kept_e, kept_v, kept_r = array("q"), array("d"), array("I")
        for epoch, value, row in zip(epochs, values, rows, strict=True):
            if kept_e and epoch == kept_e[-1]:
                other_value, other_row = kept_v[-1], kept_r[-1]
                earlier, later = (other_row, row) if other_row < row else (row, other_row)
                if value == other_value:
                    self.duplicates_dropped += 1
                    self.issues.warning(
                        later,
                        None,
                        "duplicate_dropped",
                        f"Repeats row {earlier} (same time and value); dropped.",
                    )
                else:
                    early_v, late_v = (
                        (other_value, value) if other_row < row else (value, other_value)
                    )
                    self._time_error(
                        later,
                        "conflicting_duplicate",
                        f"{self._when(epoch)} is also on row {earlier} with a different value "
                        f"({early_v:g} there, {late_v:g} here).",
                    )
                if row < other_row:  # the file's first row wins, whatever the sort did
                    kept_v[-1], kept_r[-1] = value, row
                continue
            kept_e.append(epoch)
            kept_v.append(value)
            kept_r.append(row)
        return kept_e, kept_v, kept_r

    def _to_hours(
        self,
        epochs: array[int],
        values: array[float],
        rows: Lines,
        timeline: _Timeline,
        steps: Counter[int],
    ) -> tuple[array[int], array[float], Lines, Counter[int]]:
        """Check the spacing; sum complete sub-hourly hours; drop and report what doesn't fit.
        Returns the hourly columns and their spacing."""
        # The most frequent spacing decides the grid, so one stray row is an error on that row
        # rather than a reason to read the whole file at another interval.
        interval = max((_HOUR, *_SUBHOURLY_S), key=lambda s: (steps[s], s))
        self.interval_s = interval
        self._check_daily(steps, len(epochs))
        off_grid = self._off_grid(epochs, interval)
        if off_grid:
            minutes = interval // 60
            for index in off_grid:
                if interval == _HOUR:
                    message = (
                        f"{self._when(epochs[index])} is not on the hour; readings are hourly, "
                        "each starting on the hour in UTC."
                    )
                    local_offset = timeline.offset_at(epochs[index])
                    if local_offset % _HOUR:
                        message += (
                            f" In {self.tz_name} (UTC{_offset_text(local_offset)}) that is at "
                            f":{local_offset % _HOUR // 60:02d} local time; 15- or 30-minute data "
                            "is summed into those hours."
                        )
                    code = "not_on_hour"
                else:
                    message = (
                        f"{self._when(epochs[index])} is off the {minutes}-minute grid of the "
                        "rest of the file (irregular spacing)."
                    )
                    code = "off_grid"
                self._time_error(rows[index], code, message)
            keep = bytearray(b"\x01") * len(epochs)
            for index in off_grid:
                keep[index] = 0
            epochs = array("q", compress(epochs, keep))
            values = array("d", compress(values, keep))
            rows = array("I", compress(rows, keep))
            steps = _steps(epochs)
        if interval == _HOUR or not epochs:
            return epochs, values, rows, steps
        epochs, values, rows = self._sum_hours(epochs, values, rows, interval)
        return epochs, values, rows, _steps(epochs)

    def _off_grid(self, epochs: array[int], interval: int) -> list[int]:
        """Indexes of readings not on the UTC grid of ``interval`` seconds."""
        ints = _ints(epochs)
        found: list[int] = []
        for start in range(0, len(ints), _STEP_BLOCK):
            block = ints[start : start + _STEP_BLOCK] % interval
            found.extend((np.flatnonzero(block) + start).tolist())
        return found

    def _sum_hours(
        self, epochs: array[int], values: array[float], rows: Lines, interval: int
    ) -> tuple[array[int], array[float], Lines]:
        """Sum each complete UTC hour; report the incomplete ones (sorted, unique, on the grid)."""
        per_hour = _HOUR // interval
        minutes = interval // 60
        n = len(epochs)
        if n % per_hour == 0:
            # Fast path: if every group of per_hour readings starts on an hour and spans exactly
            # one hour, every hour is complete (they are sorted, unique and on the grid).
            starts = epochs[0::per_hour]
            ends = epochs[per_hour - 1 :: per_hour]
            if not any(map(mod, starts, repeat(_HOUR))) and all(
                map(eq, map(sub, ends, starts), repeat(_HOUR - interval))
            ):
                groups = zip(*[iter(values)] * per_hour, strict=True)
                sums = array("d", map(math.fsum, groups))
                self._resampled_warning(minutes, per_hour, len(starts))
                return starts, sums, rows[0::per_hour]
        hour_e, hour_v, hour_r = array("q"), array("d"), array("I")
        group_start = 0
        for index in range(1, n + 1):
            if index < n and epochs[index] // _HOUR == epochs[group_start] // _HOUR:
                continue
            size = index - group_start
            hour = epochs[group_start] // _HOUR * _HOUR
            if size == per_hour:
                hour_e.append(hour)
                hour_v.append(math.fsum(values[group_start:index]))
                hour_r.append(rows[group_start])
            else:
                first_row, last_row = rows[group_start], rows[index - 1]
                where = f"row {first_row}" if size == 1 else f"rows {first_row}-{last_row}"
                self._time_error(
                    first_row,
                    "incomplete_hour",
                    f"The hour from {self._when(hour)} has {size} of its {per_hour} "
                    f"{minutes}-minute readings ({where}); an incomplete hour can't be summed.",
                )
            group_start = index
        self._resampled_warning(minutes, per_hour, len(hour_e))
        return hour_e, hour_v, hour_r

    def _resampled_warning(self, minutes: int, per_hour: int, hours: int) -> None:
        self.issues.warning(
            None,
            self.value_column,
            "resampled",
            f"The file has {minutes}-minute readings; each complete hour's {per_hour} readings "
            f"were summed into one hourly reading ({hours:,} hours).",
        )
