"""The row loop: each row read on its own (quoted fields, odd timestamps, bad values, customId
cells), every problem reported with its line and column. The slow, exact path."""

from __future__ import annotations

import math
from datetime import datetime

from .timeline import _offset_seconds
from .types import (
    _CLOCK,
    _DAY,
    _EPOCH_SHIFT,
    _MAX_CUSTOM_IDS,
    _MAX_KWH,
    _MAX_ORDINAL,
    _MIN_ORDINAL,
    _ParserState,
    _show,
)


def _looks_like_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return False
    return True


class _RowLoop(_ParserState):
    """The parser's row-by-row path and its row-level checks. A mixin of ``core._Parser``: it works on the parser's state."""

    def _row_loop(self, first_line: int, lines: list[str], quoted: bool, ncols: int) -> None:
        """Row by row, for whatever the fast path declines: every check, every message.

        Its own fast path covers a run of the usual layout, ``YYYY-MM-DDTHH:MM:00`` plus one
        suffix that repeats from row to row: the epoch is a cached day base plus a cached clock
        time minus the suffix's offset, three slices and two dict lookups. Whatever doesn't fit
        (a new day, a new suffix, seconds, another layout, a day with a clock change) goes
        through ``_slow_time`` with ``datetime.fromisoformat``, which also primes the caches
        for the rows after it.
        """
        epochs = self.epochs
        epoch_append = epochs.append
        value_append = self.values.append
        row_append = self.rows.append
        clock_get = _CLOCK.get
        slow_time = self._slow_time
        runs = self.offset_runs
        ti, vi, ci = self.time_index, self.value_index, self.id_index
        decimal_comma = self.delimiter == ";"
        max_value = _MAX_KWH * (1000 if self.unit == "Wh" else 1)
        no_tail = "\x00"  # matches no real suffix, so the next row takes the slow path
        fast_tail = no_tail
        fast_off = 0
        day_get = self.aware_days.get
        run_off = self.run_off
        last_id = ""
        rows_read = self.rows_read
        for records in self._records([(first_line, lines, quoted)]):
            for line_no, row in records:
                if len(row) != ncols:
                    if row and any(map(str.strip, row)):
                        rows_read += 1
                        self._row_width(row, ncols, line_no)
                    continue
                rows_read += 1
                if ci >= 0:
                    # First: a row of another device is not judged on anything else.
                    custom_id = row[ci]
                    if custom_id != last_id:
                        if not self._custom_id(custom_id, line_no):
                            continue
                        last_id = custom_id
                text = row[vi]
                try:
                    value = float(text.replace(",", ".")) if decimal_comma else float(text)
                    # The bound also fails NaN and +-inf (every comparison with NaN is false);
                    # float() takes "1_000", which no meter writes.
                    if not -max_value <= value <= max_value or "_" in text:
                        raise ValueError(text)
                except ValueError:
                    if self._bad_value(row, text, line_no):
                        rows_read -= 1
                        continue
                    slow_time(row[ti], line_no, keep=False)
                    continue
                stamp = row[ti]
                base = day_get(stamp[:10])
                clock = clock_get(stamp[10:19])
                if base is None or clock is None or stamp[19:] != fast_tail:
                    parsed = slow_time(stamp, line_no, keep=True)
                    if parsed is None:
                        continue
                    epoch, file_off, tail = parsed
                    if file_off != run_off:
                        runs.append((len(epochs), file_off))
                        run_off = file_off
                    if tail is None:
                        fast_tail = no_tail
                    else:
                        fast_tail = tail
                        fast_off = file_off or 0
                        day_get = (self.naive_days if file_off is None else self.aware_days).get
                else:
                    epoch = base + clock - fast_off
                epoch_append(epoch)
                value_append(value)
                row_append(line_no)
        self.rows_read = rows_read
        self.run_off = run_off

    def _slow_time(
        self, stamp: str, line: int, *, keep: bool
    ) -> tuple[int, int | None, str | None] | None:
        """Parse a time with ``fromisoformat``: (epoch, the file's UTC offset or None when naive,
        the suffix the fast path may now use or None), or None after reporting an error.
        ``keep`` is False when the row is already rejected: the time is only checked."""
        moment: datetime | None
        try:
            moment = datetime.fromisoformat(stamp)
            if len(stamp) <= 10:  # a date alone parses as midnight
                raise ValueError(stamp)
        except ValueError:
            moment = self._retry_time(stamp, line)
            if moment is None:
                return None
        if not keep:
            return None
        if moment.microsecond:
            self._time_error(
                line,
                "fractional_seconds",
                f"{_show(stamp)} has a fraction of a second; readings start on the hour.",
            )
            return None
        ordinal = moment.toordinal()
        if not _MIN_ORDINAL <= ordinal <= _MAX_ORDINAL:
            self._time_error(
                line,
                "time_out_of_range",
                f"{_show(stamp)} is outside 1900-2199; is the year right?",
            )
            return None
        local = (ordinal * 24 + moment.hour) * 3600 + moment.minute * 60 + moment.second
        zone = moment.tzinfo
        file_off: int | None
        if zone is None:
            file_off = None
            off = self.day_offsets.get(ordinal)
            if off is None:
                off = self._naive_on_change_day(moment, ordinal, line)
                if off is None:
                    return None
        else:
            file_off = _offset_seconds(zone, moment)
            off = _EPOCH_SHIFT + file_off
        # Prime the fast path for the rows of this day with this suffix (when the layout is
        # the usual one and, for naive times, the day has no clock change).
        tail = None
        if _CLOCK.get(stamp[10:19]) is not None:
            day_base = ordinal * _DAY - _EPOCH_SHIFT
            if file_off is not None:
                self.aware_days[stamp[:10]] = day_base
                tail = stamp[19:]
            elif ordinal not in self.change_days:
                self.naive_days[stamp[:10]] = day_base - (off - _EPOCH_SHIFT)
                tail = stamp[19:]
        return local - off, file_off, tail

    def _time_error(self, line: int, code: str, message: str) -> None:
        self.issues.error(line, self.time_column, code, message)

    def _row_width(self, row: list[str], ncols: int, line: int) -> None:
        hint = ""
        if len(row) == ncols + 1 and self.delimiter == ",":
            hint = " A decimal comma in a comma-separated file? Use a dot, or separate with ';'."
        self.issues.error(
            line,
            None,
            "column_count",
            f"This row has {len(row)} fields and the header {ncols}.{hint}",
        )

    def _bad_value(self, row: list[str], text: str, line: int) -> bool:
        """Report a bad value; True when the row is a blank spreadsheet row (to be skipped)."""
        if not text.strip():
            if not any(map(str.strip, row)):
                return True
            self.issues.error(line, self.value_column, "empty_value", "The value is empty.")
            return False
        candidate = text.strip().replace(",", ".") if self.delimiter == ";" else text.strip()
        try:
            number = float(candidate)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            message = f"{_show(text)} is not a finite number; give a number of kWh."
            code = "non_finite_value"
        elif number is not None and "_" not in text:
            message = (
                f"{_show(text)} is beyond ±{_MAX_KWH:,.0f} kWh in one hour; is the unit right?"
            )
            code = "value_out_of_range"
        else:
            message = f"{_show(text)} is not a number."
            if self.delimiter == "," and "," in text:
                message += " Use a dot for decimals in a comma-separated file."
            code = "bad_value"
        self.issues.error(line, self.value_column, code, message)
        return False

    def _custom_id(self, text: str, line: int) -> bool:
        custom_id = text.strip()
        if not custom_id:
            return True
        if len(self.custom_ids) < _MAX_CUSTOM_IDS:
            self.custom_ids.setdefault(custom_id)
        expected = self.context.custom_id
        if expected and custom_id.casefold() != expected.casefold():
            self.issues.error(
                line,
                self.id_column,
                "custom_id_mismatch",
                f"customId {_show(custom_id)} is not {_show(expected)}, the record this file is "
                "uploaded to: upload it on that record's page, or fix the column.",
            )
            return False
        if self.first_custom_id is None:
            self.first_custom_id = (custom_id, line)
            return True
        first, first_line = self.first_custom_id
        if custom_id == first:
            return True
        self.issues.error(
            line,
            self.id_column,
            "custom_id_mismatch",
            f"customId {_show(custom_id)} differs from {_show(first)} on row {first_line}: "
            "a file holds one device's readings, so upload one file per device.",
        )
        return False

    def _retry_time(self, stamp: str, line: int) -> datetime | None:
        """Second chance for a time that failed the fast parse, then the error."""
        cleaned = stamp.strip()
        if not cleaned:
            self._time_error(line, "empty_time", "The time is empty.")
            return None
        if len(cleaned) > 10:
            try:
                # Spaces around the cell, a lower-case 't' or 'z': harmless, so accepted.
                return datetime.fromisoformat(cleaned.upper())
            except ValueError:
                pass
        elif _looks_like_time(cleaned):
            self._time_error(
                line,
                "bad_time",
                f"{_show(stamp)} is a date without a time of day; give the start of each hour, "
                "e.g. 2024-01-01T13:00:00-05:00.",
            )
            return None
        self._time_error(
            line,
            "bad_time",
            f"{_show(stamp)} is not an ISO 8601 date and time, e.g. 2024-01-01T13:00:00-05:00.",
        )
        return None
