"""The outbox side of the sync engine: runs inside the writer's transaction.

`homes` and `devices` services announce a change (`record_changed`, `readings_changed`);
`integrations.receivers` calls `mark_*` here, which marks the affected UpstreamLinks pending in that
same transaction and enqueues their task after commit. The worker side is `integrations.engine`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.tenancy import OrgOwned

from . import queue
from .adapters.base import ADAPTERS, Adapter, adapters_for, serves
from .models import Channel, Connection, LinkState, UpstreamLink

logger = logging.getLogger(__name__)


def profiles_of(organization_id: int) -> dict[str, str]:
    """{platform: profile} of the organization's enabled connections (what its adapters are)."""
    return dict(
        Connection.objects.filter(organization_id=organization_id, enabled=True).values_list(
            "platform", "profile"
        )
    )


def link_for(record: OrgOwned, adapter: Adapter[Any], profile: str) -> UpstreamLink:
    """The record's link on the adapter's platform and channel (made, pending, under `profile`
    when it is new)."""
    link, _ = UpstreamLink.objects.get_or_create(
        platform=adapter.platform,
        channel=adapter.channel,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        defaults={"organization_id": record.organization_id, "profile": profile},
    )
    return link


def mark_pending(link: UpstreamLink) -> None:
    # A worker sending the old version keeps its claim, so nobody sends the record beside it; its
    # outcome can't overwrite "pending" (_finish), and the link runs again once it lets go.
    # A link in doubt stays so: only a person's answer moves it (the change goes with it then).
    if (
        UpstreamLink.objects.filter(pk=link.pk)
        .exclude(state=LinkState.IN_DOUBT)
        .update(state=LinkState.PENDING, next_attempt_at=None, attempts=0, waiting_for="")
    ):
        enqueue(link.pk)


def mark_record_changed(record: models.Model, *, deleted: bool = False) -> list[int]:
    """Mark the links of `record` (and of records whose payload embeds it) pending."""
    if deleted:
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        ).delete()
        return []
    if not isinstance(record, OrgOwned):
        return []  # no organization's record: no adapter takes it, nothing embeds it
    profiles = profiles_of(record.organization_id)
    marked = []
    for adapter in adapters_for(record, channel=Channel.RECORD, profiles=profiles):
        link = link_for(record, adapter, profiles[adapter.platform])
        mark_pending(link)
        marked.append(link.pk)
    for adapter in ADAPTERS:
        if (
            adapter.streams
            and adapter.follows_record
            and serves(adapter, profiles)
            and isinstance(record, adapter.model)
            and adapter.applies(record)
        ):
            # A stream (e.g. a meter given a Wattics stream id) catches up with what is stored.
            link = link_for(record, adapter, profiles[adapter.platform])
            adapter.record_changed(link, record)
            mark_pending(link)
            marked.append(link.pk)
    for adapter in ADAPTERS:
        if not serves(adapter, profiles) or adapter.streams:
            continue
        for dependent in adapter.dependents(record):
            if adapter.applies(dependent):
                link = link_for(dependent, adapter, profiles[adapter.platform])
                if link.state != LinkState.PENDING:
                    mark_pending(link)
                    marked.append(link.pk)
    return marked


def mark_readings_changed(owner: OrgOwned, start: datetime, end: datetime) -> list[int]:
    """Interval data of `owner` (a device or meter) changed between start and end (UTC)."""
    profiles = profiles_of(owner.organization_id)
    marked = []
    for adapter in ADAPTERS:
        if not adapter.streams or not serves(adapter, profiles):
            continue
        if not isinstance(owner, adapter.model) or not adapter.applies(owner):
            continue
        link = link_for(owner, adapter, profiles[adapter.platform])
        adapter.mark_range(link, start, end)
        mark_pending(link)
        marked.append(link.pk)
    return marked


def ensure_links(organization_id: int, platform: str, profile: str) -> int:
    """Create (pending) links for every existing record that belongs on `platform` under `profile`
    (a new connection, or one that changed profile)."""
    created = 0
    for adapter in ADAPTERS:
        if adapter.platform != platform or profile not in adapter.profiles:
            continue
        if adapter.streams and not adapter.follows_record:
            continue  # made when readings change
        for record in adapter.model.objects.filter(organization_id=organization_id).iterator():
            if not adapter.applies(record):
                continue
            if adapter.streams:
                # A stream that follows its record starts with it, catching up with what is
                # stored; one that exists already runs when its record or readings change.
                if not _has_link(record, adapter):
                    link = link_for(record, adapter, profile)
                    adapter.record_changed(link, record)
                    mark_pending(link)
                    created += 1
                continue
            link = link_for(record, adapter, profile)
            if link.state == LinkState.PENDING:
                enqueue(link.pk)
                created += 1
    return created


def _has_link(record: OrgOwned, adapter: Adapter[Any]) -> bool:
    return UpstreamLink.objects.filter(
        platform=adapter.platform,
        channel=adapter.channel,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
    ).exists()


def enqueue(link_id: int) -> None:
    """Run the link's task once the current transaction commits.

    The link is pending in the database already (the outbox): a broker that can't take the task
    must not turn the caller's committed write into an error. The sweep queues it once it is back.
    """
    transaction.on_commit(lambda: _send(link_id))


def _send(link_id: int) -> None:
    try:
        queue.enqueue(queue.SYNC_LINK, link_id)
    except BrokerUnavailable:
        logger.warning("Broker unavailable: link %s waits for the sweep.", link_id, exc_info=True)


def profile_change(
    link: UpstreamLink, adapter: Adapter[Any] | None, profile: str
) -> dict[str, Any]:
    """The field values that move `link` to its connection's new `profile` (empty: nothing to do).

    The adapter of the new profile (None: the record has no place in it) keeps the remote id when
    it reaches the same record upstream (`keeps_ids_from`); otherwise the id is put aside in
    `former_remote_ids` (restored if the connection speaks that profile again) and the record is
    created again. Either way the link runs again in the new profile's shape.
    """
    if link.profile == profile or adapter is None:
        return {}
    former = dict(link.former_remote_ids)
    values: dict[str, Any] = {
        "profile": profile,
        "state": LinkState.PENDING,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": "",
        "last_status_code": None,
        "waiting_for": "",
        "create_sent_at": None,
        "create_payload": {},
        "unsent": "",
        "unsent_note": "",
        "unsent_changes": [],
    }
    if link.profile in adapter.keeps_ids_from:
        return values
    if link.remote_id:
        former[link.profile] = link.remote_id
    values.update(
        remote_id=former.pop(profile, ""),
        former_remote_ids=former,
        payload_hash="",
        sent_payload=None,
        synced_at=None,
        cursor=None,
        progress={},
        behind_since=None,
    )
    return values


def move_to_profile(
    link: UpstreamLink, adapter: Adapter[Any] | None, profile: str, *, running: bool = False
) -> bool:
    """Apply `profile_change` to the link (its interval chunks start afresh with a new record).
    `running`: a worker holds the link (engine.run_link), which keeps its state."""
    values = profile_change(link, adapter, profile)
    if not values:
        return False
    if running:
        del values["state"]
    UpstreamLink.objects.filter(pk=link.pk).update(**values)
    if "cursor" in values:
        link.chunks.all().delete()
    for field, value in values.items():
        setattr(link, field, value)
    return True
