"""The parser's third column: the file line each parsed row came from (for the report's "Row N").

The usual file's rows are the file's consecutive lines, batch after batch, so the fast path
records them as runs (where a run starts in the column, and its first line): a few numbers a
batch instead of four bytes a row, which is a fifth of what a 100 MB file's columns hold. The
first append of a single line (the row loop), an extension or a reversal turns the column into
the plain ``array('I')`` it stands for; reading it (an index, a slice, iteration) never does.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import overload

import numpy as np


class LineNumbers:
    """An ``array('I')`` of line numbers, kept as runs of consecutive lines until written to
    row by row."""

    __slots__ = ("_array", "_firsts", "_length", "_starts")

    itemsize = 4

    def __init__(self) -> None:
        self._array: array[int] | None = None
        self._starts: list[int] = []  # where each run starts in the column
        self._firsts: list[int] = []  # the line of its first row
        self._length = 0

    def add_run(self, first_line: int, count: int) -> None:
        """``count`` rows from the consecutive lines ``first_line`` on."""
        if count <= 0:
            return
        if self._array is not None:
            self._array.extend(range(first_line, first_line + count))
            return
        if not self._starts or self._firsts[-1] + self._length - self._starts[-1] != first_line:
            self._starts.append(self._length)
            self._firsts.append(first_line)
        self._length += count

    def _plain(self) -> array[int]:
        if self._array is None:
            column = array("I")
            for start, end, first in self._runs():
                column.frombytes(np.arange(first, first + end - start, dtype=np.uint32).tobytes())
            self._array = column
            self._starts, self._firsts = [], []
        return self._array

    def append(self, line: int) -> None:
        self._plain().append(line)

    def extend(self, lines: Iterable[int]) -> None:
        self._plain().extend(lines)

    def reverse(self) -> None:
        self._plain().reverse()

    def __len__(self) -> int:
        return len(self._array) if self._array is not None else self._length

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> array[int]: ...
    def __getitem__(self, index: int | slice) -> int | array[int]:
        if self._array is not None:
            return self._array[index]
        if isinstance(index, slice):
            return self._slice(*index.indices(self._length))
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("line number index out of range")
        run = bisect_right(self._starts, index) - 1
        return self._firsts[run] + index - self._starts[run]

    def _slice(self, start: int, stop: int, step: int) -> array[int]:
        """The lines at ``range(start, stop, step)``, run by run (no temporary per row)."""
        if step < 0:
            return array("I", [self[position] for position in range(start, stop, step)])
        column = array("I")
        for run_start, run_end, first in self._runs():
            low, high = max(start, run_start), min(stop, run_end)
            low += (start - low) % step  # the slice's first position in this run
            if low < high:
                lines = np.arange(first + low - run_start, first + high - run_start, step)
                column.frombytes(lines.astype(np.uint32).tobytes())
        return column

    def __iter__(self) -> Iterator[int]:
        if self._array is not None:
            yield from self._array
            return
        for start, end, first in self._runs():
            yield from range(first, first + end - start)

    def _runs(self) -> Iterator[tuple[int, int, int]]:
        """(start, end, first line) of each run."""
        ends = [*self._starts[1:], self._length] if self._starts else []
        return zip(self._starts, ends, self._firsts, strict=True)


# What the whole-file steps take: the parser's column, or a plain array made from it.
Lines = array[int] | LineNumbers
