"""A connection's contract profile (`Connection.profile`) and what switching it does to the links.

Each adapter serves the profiles in `Adapter.profiles`; one that reaches the same upstream record
as another profile's (`Adapter.keeps_ids_from`) keeps its remote id across a switch. Every other
record upstream is created again in the new profile's shape, its old id kept aside in
`UpstreamLink.former_remote_ids` (and taken back if the connection returns to that profile). No
link is deleted: a record with no place in the new profile keeps its link for the old one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import models

from .adapters.base import adapter_for_link
from .models import Connection, UpstreamLink
from .outbox import mark_pending, move_to_profile


@dataclass
class SwitchPlan:
    """What a switch to `profile` would do to each record already linked on the platform."""

    profile: str
    kept: list[UpstreamLink] = field(default_factory=list)  # same remote id, sent again
    restored: list[UpstreamLink] = field(default_factory=list)  # its id under `profile` again
    recreated: list[UpstreamLink] = field(default_factory=list)  # created anew upstream
    unplaced: list[UpstreamLink] = field(default_factory=list)  # no place: kept, not sent
    fresh: list[UpstreamLink] = field(default_factory=list)  # never upstream: sent as new

    @property
    def changes_anything(self) -> bool:
        return bool(self.kept or self.restored or self.recreated or self.unplaced or self.fresh)


def _links(connection: Connection) -> Iterator[tuple[UpstreamLink, models.Model | None]]:
    links = UpstreamLink.objects.filter(
        organization_id=connection.organization_id, platform=connection.platform
    ).select_related("content_type")
    for link in links.order_by("content_type_id", "object_id", "channel"):
        yield link, link.record


def plan_switch(connection: Connection, profile: str) -> SwitchPlan:
    """What switching `connection` to `profile` would do, link by link (nothing is written)."""
    plan = SwitchPlan(profile)
    for link, record in _links(connection):
        if record is None or link.profile == profile:
            continue
        adapter = adapter_for_link(link, record, profile)
        if adapter is None:
            plan.unplaced.append(link)
        elif not link.remote_id:
            plan.fresh.append(link)
        elif link.profile in adapter.keeps_ids_from:
            plan.kept.append(link)
        elif link.former_remote_ids.get(profile):
            plan.restored.append(link)
        else:
            plan.recreated.append(link)
    return plan


def switch_links(connection: Connection) -> int:
    """Move the connection's links to its (new) profile and queue them (the caller then makes the
    links of records only the new profile takes: `ensure_links`). Runs in the caller's
    transaction. Returns the links queued."""
    queued = 0
    for link, record in _links(connection):
        if record is None:
            continue
        adapter = adapter_for_link(link, record, connection.profile)
        move_to_profile(link, adapter, connection.profile)
        mark_pending(link)  # a record with no place in the profile is shown so by its run
        queued += 1
    return queued
