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
from .adapters.base import ADAPTERS, Adapter, adapters_for
from .models import Channel, Connection, LinkState, UpstreamLink

logger = logging.getLogger(__name__)


def enabled_platforms(organization_id: int) -> set[str]:
    return set(
        Connection.objects.filter(organization_id=organization_id, enabled=True).values_list(
            "platform", flat=True
        )
    )


def link_for(record: OrgOwned, adapter: Adapter[Any]) -> UpstreamLink:
    link, _ = UpstreamLink.objects.get_or_create(
        platform=adapter.platform,
        channel=adapter.channel,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        defaults={"organization_id": record.organization_id},
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
    platforms = enabled_platforms(record.organization_id)
    marked = []
    for adapter in adapters_for(record, channel=Channel.RECORD):
        if adapter.platform in platforms:
            link = link_for(record, adapter)
            mark_pending(link)
            marked.append(link.pk)
    for adapter in ADAPTERS:
        if (
            adapter.streams
            and adapter.follows_record
            and adapter.platform in platforms
            and isinstance(record, adapter.model)
            and adapter.applies(record)
        ):
            # A stream (e.g. a meter given a Wattics stream id) catches up with what is stored.
            link = link_for(record, adapter)
            adapter.record_changed(link, record)
            mark_pending(link)
            marked.append(link.pk)
    for adapter in ADAPTERS:
        if adapter.platform not in platforms or adapter.streams:
            continue
        for dependent in adapter.dependents(record):
            if adapter.applies(dependent):
                link = link_for(dependent, adapter)
                if link.state != LinkState.PENDING:
                    mark_pending(link)
                    marked.append(link.pk)
    return marked


def mark_readings_changed(owner: OrgOwned, start: datetime, end: datetime) -> list[int]:
    """Interval data of `owner` (a device or meter) changed between start and end (UTC)."""
    platforms = enabled_platforms(owner.organization_id)
    marked = []
    for adapter in ADAPTERS:
        if not adapter.streams or adapter.platform not in platforms:
            continue
        if not isinstance(owner, adapter.model) or not adapter.applies(owner):
            continue
        link = link_for(owner, adapter)
        adapter.mark_range(link, start, end)
        mark_pending(link)
        marked.append(link.pk)
    return marked


def ensure_links(organization_id: int, platform: str) -> int:
    """Create (pending) links for every existing record that belongs on `platform` (new connection)."""
    created = 0
    for adapter in ADAPTERS:
        if adapter.platform != platform or adapter.streams:
            continue
        for record in adapter.model.objects.filter(organization_id=organization_id).iterator():
            if adapter.applies(record):
                link = link_for(record, adapter)
                if link.state == LinkState.PENDING:
                    enqueue(link.pk)
                    created += 1
    return created


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
