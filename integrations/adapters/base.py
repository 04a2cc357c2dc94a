"""Which local records go to which platform, and how: one adapter per (platform, record, channel).

An adapter knows (1) whether a record belongs on its platform, (2) the parent that must be there
first, (3) the payload (built by the platform module's pure builders), and (4) the client call.
The engine (`integrations.engine`) does everything else: claiming, ordering, retries, the ledger.
Platform modules register their adapters with `register()`; `adapters_for(record, profile=...)`
finds them.

Profiles: each adapter serves the contract profiles in `profiles` (a connection speaks one:
`Connection.profile`). `keeps_ids_from` names the other profiles whose remote ids it takes over when
a connection switches (the same record upstream, reached by both); a link made under any other
profile is created again (its old id is kept in `UpstreamLink.former_remote_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models

from portal.tenancy import OrgOwned

from ..http import UpstreamError
from ..models import Channel, Profile, UpstreamLink


@dataclass
class Parent:
    """The record (and its platform and channel) that must be upstream before this one."""

    record: OrgOwned
    platform: str
    channel: str = Channel.RECORD
    label: str = ""


@dataclass(frozen=True)
class FailurePlan:
    """An adapter's own answer to a failed run, instead of the engine's rule (see `on_failure`).

    Either way the link stays pending, never failed nor rejected, and is behind since its first
    failed run: `retry_in_s` runs it again after that long, however many runs failed;
    `pause_reason` pauses it until its connection is saved again (the credentials were refused).
    """

    retry_in_s: float | None = None
    pause_reason: str = ""


class InDoubt(Exception):
    """A create's answer was lost and the platform gives no way to find the record: a person
    decides whether it is there (and under which id) or must be created again."""


class Adapter[M: OrgOwned]:
    """Base of every adapter (of records of model M). Record adapters implement `payload` and
    `push`."""

    platform: str
    model: type[M]
    channel: str = Channel.RECORD
    label: str = ""  # what the link is called on pages, e.g. "device", "timeseries"
    profiles: frozenset[str] = frozenset({Profile.QUICKSTART})
    keeps_ids_from: frozenset[str] = frozenset()

    # Whether the platform has a call that changes a record already there. Without one, a change
    # to a synced record is not sent and its link shows it as out of date upstream, saying why.
    updates = True
    no_update_note = ""  # e.g. "changes not sent: WattShift has no update call for homes"

    def applies(self, record: M) -> bool:
        return True

    def not_accepted(self, record: M) -> str:
        """Why the platform's contract has no place for `record` (then nothing is sent), or ""."""
        return ""

    def parent(self, record: M) -> Parent | None:
        return None

    def payload(self, record: M, parent_remote_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def push(
        self, client: Any, link: UpstreamLink, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        """Send `payload`; return the remote id."""
        raise NotImplementedError

    def on_failure(
        self, link: UpstreamLink, error: UpstreamError, failed_runs: int
    ) -> FailurePlan | None:
        """What to do about a failed run (`failed_runs` in a row, this one included); None for the
        engine's rule: backoff, failed after SYNC_MAX_ATTEMPTS, rejected when permanent."""
        return None

    # --- exactly-once creates (engine.run_link): a create whose answer was lost -----------------
    def can_recover(self, sent: dict[str, Any]) -> bool:
        """Whether `recover` can find the record `sent` created without a person: the platform
        enforces an id of ours in it, so sending it again cannot make a second one."""
        return False

    def recover(
        self, client: Any, link: UpstreamLink, sent: dict[str, Any], parent_remote_id: str
    ) -> str:
        """The remote id of what the create of `sent` made, found without creating a second
        record (typically: send it again and take "already there" as yes). Raises InDoubt when
        the platform holds something we cannot put an id to."""
        raise InDoubt(
            "The platform chooses this record's id and answered nobody: check whether it holds "
            "the record, then use its id here or create it again."
        )

    def dependents(self, changed: models.Model) -> Iterable[M]:
        """Records of this adapter whose payload embeds `changed` (a home's address in a device)."""
        return ()

    # Streams (interval data) override `run` instead of payload/push: see engine.run_link.
    streams = False
    # Streams that start (or restart) when their record changes, not only when readings do.
    follows_record = False

    def run(self, client: Any, link: UpstreamLink, record: M, parent_remote_id: str) -> None:
        raise NotImplementedError

    def record_changed(self, link: UpstreamLink, record: M) -> None:
        """Streams: the record that owns the stream changed (e.g. its stream id)."""

    def mark_range(self, link: UpstreamLink, start: datetime, end: datetime) -> None:
        """Streams: remember that the data between start and end (UTC) changed."""


# Any: each adapter takes the records of its own model (checked with isinstance before a call).
ADAPTERS: list[Adapter[Any]] = []


def register[M: OrgOwned](adapter: Adapter[M]) -> Adapter[M]:
    ADAPTERS.append(adapter)
    return adapter


def adapters_for(
    record: models.Model, channel: str | None = None, *, profiles: dict[str, str] | None = None
) -> list[Adapter[Any]]:
    """The adapters that take `record` (on `channel`); with `profiles` ({platform: profile}, see
    `profiles_of`), only those of a connected platform that serve its connection's profile."""
    return [
        adapter
        for adapter in ADAPTERS
        if isinstance(record, adapter.model)
        and (channel is None or adapter.channel == channel)
        and (profiles is None or serves(adapter, profiles))
        and adapter.applies(record)
    ]


def serves(adapter: Adapter[Any], profiles: dict[str, str]) -> bool:
    """Whether `adapter` runs for an organization whose connections speak `profiles`."""
    return profiles.get(adapter.platform) in adapter.profiles


def adapter_for_link(link: UpstreamLink, record: models.Model, profile: str) -> Adapter[Any] | None:
    """The adapter that handles `record` on the link's platform and channel under `profile`
    (several adapters may share a model: Spark vehicles and resources are both devices)."""
    for adapter in ADAPTERS:
        if (
            adapter.platform == link.platform
            and adapter.channel == link.channel
            and profile in adapter.profiles
            and isinstance(record, adapter.model)
            and adapter.applies(record)
        ):
            return adapter
    return None


def handled_elsewhere(link: UpstreamLink, record: models.Model) -> list[str]:
    """The profiles under which some adapter handles this link's record (a link kept for when
    its connection speaks one of them again)."""
    return sorted(
        {
            profile
            for adapter in ADAPTERS
            if adapter.platform == link.platform
            and adapter.channel == link.channel
            and isinstance(record, adapter.model)
            and adapter.applies(record)
            for profile in adapter.profiles
        }
    )


def payload_changes(sent: Any, current: Any, prefix: str = "") -> list[dict[str, Any]]:
    """The fields in which `current` differs from `sent`: [{field, sent, current}], nested
    objects as dotted names (`location.city`); a field one side lacks is None there."""
    if not isinstance(sent, dict) or not isinstance(current, dict):
        return [] if sent == current else [{"field": prefix, "sent": sent, "current": current}]
    changes: list[dict[str, Any]] = []
    for key in [*sent, *(key for key in current if key not in sent)]:
        before, after = sent.get(key), current.get(key)
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes.extend(payload_changes(before, after, name))
        elif before != after:
            changes.append({"field": name, "sent": before, "current": after})
    return changes
