"""What storing a series' readings did: the counts, and the range that changed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload


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
class Deltas:
    """What a store changed, reading by reading, sorted by instant: at each epoch (seconds) the
    kWh added (a new reading's value, or a changed one's new minus old value) and the readings
    added (1 new, 0 changed): what the day summaries add up without reading the table again."""

    epochs: Any  # numpy int64
    kwh: Any  # numpy float64
    count: Any  # numpy int64


@dataclass(frozen=True, slots=True)
class Outcome:
    """The counts, the epoch seconds of the first and last reading that changed, and (when the
    path knows them) the changes reading by reading."""

    counts: StoreCounts
    changed_from: int | None  # epoch seconds of the first and last reading that changed
    changed_to: int | None
    deltas: Deltas | None = field(default=None, compare=False)  # the same counts, either path


@overload
def utc(epoch: int) -> datetime: ...
@overload
def utc(epoch: None) -> None: ...
def utc(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
