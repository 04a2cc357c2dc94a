"""readings.parser.lines.LineNumbers reads as the array('I') it stands for, in runs or not."""

from __future__ import annotations

from array import array

import pytest

from readings.parser.lines import LineNumbers


def _both(runs: list[tuple[int, int]]) -> tuple[LineNumbers, array[int]]:
    lines, plain = LineNumbers(), array("I")
    for first, count in runs:
        lines.add_run(first, count)
        plain.extend(range(first, first + count))
    return lines, plain


RUNS = [
    [],
    [(2, 5)],
    [(2, 3), (5, 4)],  # continues: one run
    [(2, 3), (9, 2), (12, 7), (40, 1)],  # blank lines and skipped rows between batches
]


@pytest.mark.parametrize("runs", RUNS)
def test_it_reads_as_the_plain_column(runs):
    lines, plain = _both(runs)
    assert len(lines) == len(plain)
    assert list(lines) == list(plain)
    for index in range(-len(plain), len(plain)):
        assert lines[index] == plain[index]
    for step in (1, 2, 3, 12):
        for start in (0, 1, 4):
            assert lines[start::step] == plain[start::step]
    assert lines[1:-1] == plain[1:-1]
    with pytest.raises(IndexError):
        lines[len(plain)]


@pytest.mark.parametrize("runs", RUNS)
def test_a_row_by_row_write_turns_it_into_the_plain_column(runs):
    lines, plain = _both(runs)
    lines.append(77)
    plain.append(77)
    lines.add_run(100, 3)
    plain.extend([100, 101, 102])
    lines.extend([5, 6])
    plain.extend([5, 6])
    assert list(lines) == list(plain)
    assert lines[-4] == plain[-4]
    lines.reverse()
    plain.reverse()
    assert list(lines) == list(plain)
    assert lines[::2] == plain[::2]


def test_runs_take_a_few_numbers_not_four_bytes_a_row():
    lines = LineNumbers()
    for batch in range(1000):
        lines.add_run(2 + batch * 2048, 2048)
    assert len(lines) == 2_048_000
    assert lines[2_047_999] == 2_048_001
    assert len(lines._starts) == 1  # one run: the batches follow each other
