"""Shared helpers for benchmarks: timing, peak memory and the result table."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass
class Row:
    """One line of the benchmark table: ours vs the baseline measured in the same run."""

    bench: str
    measure: str
    ours_s: float
    baseline_s: float
    target_ratio: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours_s / self.baseline_s if self.baseline_s else float("inf")


@contextmanager
def timed() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    elapsed = [0.0]
    yield lambda: elapsed[0]
    elapsed[0] = time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_table(rows: list[Row]) -> None:
    header = f"{'bench':<10} {'measure':<44} {'ours s':>9} {'base s':>9} {'ratio':>7} {'target':>7}  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        target = f"{row.target_ratio:.1f}x" if row.target_ratio else ""
        print(
            f"{row.bench:<10} {row.measure:<44} {row.ours_s:>9.3f} {row.baseline_s:>9.3f} "
            f"{row.ratio:>6.2f}x {target:>7}  {row.note}"
        )
