"""Whole-file checks: what only the whole series shows (daily data passed off as hourly, a solar
device producing at night, readings above its nameplate or before it commenced)."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterator

import numpy as np

from .lines import Lines
from .timeline import _Timeline
from .types import _DAY, _HOUR, _floats, _ints, _ParserState, _plural

_NIGHT_HOURS = frozenset((21, 22, 23, 0, 1, 2, 3, 4))


# The same hours in seconds: a local time shifted by three hours is night when under eight hours.
_NIGHT_SHIFT_S = 3 * 3600


_NIGHT_SPAN_S = 8 * 3600


_SOLAR_NIGHT_KWH = 0.1


class _FileChecks(_ParserState):
    """The parser's plausibility checks over the whole series. A mixin of ``core._Parser``: it works on the parser's state."""

    def _check_daily(self, steps: Counter[int], n: int) -> None:
        """Daily totals stamped at midnight would pass as hourly readings with 23-hour gaps,
        each a day's energy booked to one hour: name that. Sparse hourly files (corrections,
        a few hours) must not trip it, hence a week of rows nearly all a day or more apart."""
        if n < 7:
            return
        step, times = steps.most_common(1)[0]
        if step >= 23 * _HOUR and times >= 0.8 * (n - 1):
            self.issues.error(
                None,
                self.time_column,
                "not_hourly",
                f"Most readings are {step / _HOUR:g} hours apart: this looks like daily (or "
                "coarser) data, but readings must be hourly (5- to 30-minute data is summed "
                "into hours).",
            )

    def _check_context(
        self, epochs: array[int], values: array[float], rows: Lines, timeline: _Timeline
    ) -> None:
        context = self.context
        if context.commenced_on is not None:
            commenced = self._local_midnight(context.commenced_on.toordinal())
            before = bisect_left(epochs, commenced)
            if before:
                where = f"row {rows[0]}" if before == 1 else f"rows {rows[0]}-{rows[before - 1]}"
                self.issues.warning(
                    rows[0],
                    self.time_column,
                    "before_commenced",
                    f"{_plural(before, 'hourly reading', 'hourly readings')} ({where}) "
                    f"{'is' if before == 1 else 'are'} before the commenced operation "
                    f"date {context.commenced_on.isoformat()}; WattCarbon ignores them.",
                )
        if context.nameplate_kw is not None and context.nameplate_kw > 0:
            cap = context.nameplate_kw
            for index in _indexes_where(_floats(values), lambda block: block > cap):
                self.issues.warning(
                    rows[index],
                    self.value_column,
                    "above_nameplate",
                    f"{values[index]:g} kWh in the hour from {self._when(epochs[index])} is more "
                    f"than the nameplate capacity allows ({cap:g} kW for one hour).",
                )
        if (context.kind or "").strip().lower() != "solar":
            return
        for index in self._solar_at_night(epochs, values, timeline):
            self.issues.warning(
                rows[index],
                self.value_column,
                "solar_at_night",
                f"{values[index]:g} kWh of solar in the hour from {self._when(epochs[index])}, "
                "between 21:00 and 05:00 local time; check the timezone and the device kind.",
            )
        negative = list(_indexes_where(_floats(values), lambda block: block < 0.0))
        if negative:
            self.issues.warning(
                rows[negative[0]],
                self.value_column,
                "negative_solar",
                f"{_plural(len(negative), 'solar reading is', 'solar readings are')} negative; "
                "WattCarbon counts a negative value as added consumption. Check the sign "
                "convention.",
            )

    def _solar_at_night(
        self, epochs: array[int], values: array[float], timeline: _Timeline
    ) -> Iterator[int]:
        """Indexes of the hours above the night threshold that start between 21:00 and 05:00
        local time: shifted by the UTC offset plus three hours, a night hour starts less than
        eight hours after midnight."""
        instants, kwh = _ints(epochs), _floats(values)
        offsets = np.array(timeline.offsets, dtype=np.int64)
        starts = np.array(timeline.starts, dtype=np.int64)
        for at in range(0, len(instants), _CHECK_BLOCK):
            block = instants[at : at + _CHECK_BLOCK]
            spans = np.searchsorted(starts, block, "right") - 1
            local = block + offsets[np.maximum(spans, 0)] + _NIGHT_SHIFT_S
            night = (local % _DAY) < _NIGHT_SPAN_S
            yield from (
                np.flatnonzero(night & (kwh[at : at + _CHECK_BLOCK] > _SOLAR_NIGHT_KWH)) + at
            ).tolist()


# The whole-file checks read a block of readings at a time: a few numpy temporaries of a whole
# 100 MB file's readings would hold hundreds of MB at once.
_CHECK_BLOCK = 1 << 18


def _indexes_where(column: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> Iterator[int]:
    """The indexes where ``test`` holds, found a block at a time."""
    for at in range(0, len(column), _CHECK_BLOCK):
        yield from (np.flatnonzero(test(column[at : at + _CHECK_BLOCK])) + at).tolist()
