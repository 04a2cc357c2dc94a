"""What storing a series' readings did: the counts, and the range that changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import overload


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What storing a series did: every reading of the file is exactly one of the three."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class Outcome:
    """The counts, and the epoch seconds of the first and last reading that changed."""

    counts: StoreCounts
    changed_from: int | None  # epoch seconds of the first and last reading that changed
    changed_to: int | None


@overload
def utc(epoch: int) -> datetime: ...
@overload
def utc(epoch: None) -> None: ...
def utc(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
