"""The fast path: a batch of clean rows (one timestamp layout, plain numbers) parsed with numpy in
a few vectorized passes. Any batch it is not sure of goes to the row loop (``rows.py``), which
gives the same result row by row."""

from __future__ import annotations

import numpy as np

from .types import (
    _DAY,
    _EPOCH_ORDINAL,
    _EPOCH_SHIFT,
    _HOUR,
    _MAX_KWH,
    _MAX_ORDINAL,
    _MIN_ORDINAL,
    _ParserState,
)

# By the width of the time (where the first delimiter is): the layout of its suffix.
_FAST_SUFFIXES = {19: "", 20: "Z", 25: "offset"}


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


class _FixedLayout:
    """A fixed-width text layout: which columns must be digits, which must be given characters
    (a column may allow two). ``check`` is a few whole-grid comparisons."""

    def __init__(self, digits: tuple[int, ...], literals: dict[int, str]) -> None:
        self.digits = np.array(digits)
        self.columns = np.array(list(literals))
        self.first = np.array([ord(allowed[0]) for allowed in literals.values()], np.uint32)
        self.second = np.array([ord(allowed[-1]) for allowed in literals.values()], np.uint32)

    def check(self, chars: np.ndarray) -> bool:
        # Unsigned: a character below "0" wraps round to a large number.
        if ((chars[:, self.digits] - np.uint32(48)) > 9).any():
            return False
        literal = chars[:, self.columns]
        return bool(((literal == self.first) | (literal == self.second)).all())


# YYYY-MM-DDTHH:MM:00 (or a space for the T): on the minute, seconds zero, as _CLOCK takes.
_FAST_TIME_FIXED = _FixedLayout(
    digits=(0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15),
    literals={4: "-", 7: "-", 10: "T ", 13: ":", 16: ":", 17: "0", 18: "0"},
)


# +HH:MM or -HH:MM after the seconds.
_FAST_OFFSET_FIXED = _FixedLayout(digits=(20, 21, 23, 24), literals={19: "+-", 22: ":"})


# A decimal exactly as float() reads it when its digits fit a double's integers: the division
# of two exact doubles is correctly rounded, so M / 10**k is float("M with k decimals").
_MAX_FAST_DIGITS = 15


_POWERS_OF_TEN = 10.0 ** np.arange(0, 23)


_INT_POWERS_OF_TEN = 10 ** np.arange(0, _MAX_FAST_DIGITS, dtype=np.int64)


def _two_digits(chars: np.ndarray, column: int) -> np.ndarray:
    return (chars[:, column].astype(np.int64) - 48) * 10 + (
        chars[:, column + 1].astype(np.int64) - 48
    )


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _fast_numbers(chars: np.ndarray, decimal_comma: bool) -> np.ndarray | None:
    """The numbers of a NUL-padded grid of code points, one per row, or None when any row is
    not a plain decimal (an optional sign, digits with at most one point, at most 15 digits),
    which float() then reads or refuses in the row loop."""
    filled = chars != 0
    # The text, then only padding: no NUL before a character.
    if (filled[:, 1:] & ~filled[:, :-1]).any():
        return None
    first = chars[:, 0]
    negative = first == ord("-")
    signed = negative | (first == ord("+"))
    body = chars.copy()
    body[signed, 0] = 0
    is_digit = (body >= ord("0")) & (body <= ord("9"))
    is_point = body == ord(".")
    if decimal_comma:
        is_point |= body == ord(",")
    if ((body != 0) & ~is_digit & ~is_point).any():
        return None
    digit_count = is_digit.sum(axis=1)
    if (digit_count == 0).any() or (digit_count > _MAX_FAST_DIGITS).any():
        return None
    if (is_point.sum(axis=1) > 1).any():
        return None
    # Each digit's weight: how many digits follow it in its row.
    after = np.cumsum(is_digit[:, ::-1], axis=1)[:, ::-1] - 1
    weights = _INT_POWERS_OF_TEN[np.where(is_digit, after, 0)]
    mantissa = ((body.astype(np.int64) - 48) * weights * is_digit).sum(axis=1)
    # Decimals: the digits after the point (none without one).
    has_point = is_point.any(axis=1)
    point_at = np.where(has_point, is_point.argmax(axis=1), chars.shape[1])
    decimals = (is_digit & (np.arange(chars.shape[1]) > point_at[:, None])).sum(axis=1)
    values = mantissa.astype(np.float64) / _POWERS_OF_TEN[decimals]
    return np.where(negative, -values, values)


class _FastPath(_ParserState):
    """The parser's vectorized batch path. A mixin of ``core._Parser``: it works on the parser's state."""

    def _fast_batch(self, first_line: int, lines: list[str]) -> bool:
        """The usual file, a batch at a time in numpy: every line ``time<d>value`` with a time
        ``YYYY-MM-DD[T ]HH:MM:00`` plus one suffix layout for the batch (``+HH:MM``, ``Z`` or
        none) and a plain decimal number. Returns False, having changed nothing, for a batch
        that needs the row loop (which then reports what is wrong, or takes the rarer layouts);
        accepts exactly what the row loop accepts, with the same epochs and the same floats.
        """
        n = len(lines)
        delimiter = ord(self.delimiter)
        width = lines[0].find(self.delimiter)
        suffix = _FAST_SUFFIXES.get(width)
        if suffix is None:
            return False
        # One row of UTF-32 code points per line, padded with NULs (the file has none of its own).
        grid = np.array(lines)
        if grid.dtype.kind != "U":
            return False
        chars = grid.view(np.uint32).reshape(n, -1)
        if chars.shape[1] <= width + 1:
            return False
        # The delimiter where the first line has it, and only there, on every line.
        if not (chars[:, width] == delimiter).all():
            return False
        if np.count_nonzero(chars == delimiter) != n:
            return False
        epochs = self._fast_times(chars[:, :width], suffix)
        if epochs is None:
            return False
        values = _fast_numbers(chars[:, width + 1 :], self.delimiter == ";")
        if values is None:
            return False
        max_value = _MAX_KWH * (1000 if self.unit == "Wh" else 1)
        if values.min() < -max_value or values.max() > max_value:
            return False
        times, offsets = epochs
        # Nothing is refused from here on: append.
        index = len(self.epochs)
        runs: list[tuple[int, int | None]]
        if offsets is None:
            runs = [(0, None)]
        else:
            cuts = np.flatnonzero(offsets[1:] != offsets[:-1]) + 1
            runs = [(0, int(offsets[0]))]
            runs += [(int(cut), int(offsets[cut])) for cut in cuts]
        for at, offset in runs:
            if offset != self.run_off:
                self.offset_runs.append((index + at, offset))
                self.run_off = offset
        self.epochs.frombytes(times.astype(np.int64).tobytes())
        self.values.frombytes(values.astype(np.float64).tobytes())
        self.rows.add_run(first_line, n)
        self.rows_read += n
        return True

    def _fast_times(
        self, chars: np.ndarray, suffix: str
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Epoch seconds (and the file's offsets, None when naive) of fixed-width times, or
        None when any of them is not one the fast path takes."""
        if not _FAST_TIME_FIXED.check(chars):
            return None
        if suffix == "offset":
            if not _FAST_OFFSET_FIXED.check(chars):
                return None
            sign = np.where(chars[:, 19] == ord("-"), -1, 1)
            off_h, off_m = _two_digits(chars, 20), _two_digits(chars, 23)
            if (off_h > 23).any() or (off_m > 59).any():
                return None
            offsets = sign * (off_h * _HOUR + off_m * 60)
        elif suffix == "Z":
            if not (chars[:, 19] == ord("Z")).all():
                return None
            offsets = np.zeros(len(chars), dtype=np.int64)
        else:
            offsets = None
        year = _two_digits(chars, 0) * 100 + _two_digits(chars, 2)
        month, day = _two_digits(chars, 5), _two_digits(chars, 8)
        hour, minute = _two_digits(chars, 11), _two_digits(chars, 14)
        if (hour > 23).any() or (minute > 59).any() or (month < 1).any() or (month > 12).any():
            return None
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        if (day < 1).any() or (day > _MONTH_DAYS[month] + (leap & (month == 2))).any():
            return None
        days = _days_from_civil(year, month, day)  # since 1970-01-01
        ordinals = days + _EPOCH_ORDINAL
        if ordinals.min() < _MIN_ORDINAL or ordinals.max() > _MAX_ORDINAL:
            return None
        seconds = days * _DAY + hour * _HOUR + minute * 60
        if offsets is not None:
            return seconds - offsets, offsets
        # Naive: local to the zone; a day with a clock change goes row by row.
        unique, inverse = np.unique(days, return_inverse=True)
        shifts = []
        for day_number in unique.tolist():
            shift = self._naive_day_offset(day_number + _EPOCH_ORDINAL)
            if shift is None:
                return None
            shifts.append(shift - _EPOCH_SHIFT)
        return seconds - np.array(shifts, dtype=np.int64)[inverse], None
