"""The sync engine: a transactional outbox of UpstreamLinks, worked off by Celery tasks.

Three modules: the outbox side (`integrations.outbox`, in the writer's transaction), this worker
side (claim, run, sweep), and how a run ends (`integrations.outcomes`).

1. Writers (`homes`, `devices` services) send `record_changed` / `readings_changed` inside their
   transaction; `mark_*` here marks the affected links pending in that same transaction and
   enqueues a task after commit.
2. `run_link` claims a link (a conditional update with a lease, so no two workers send the same
   record and a killed worker's claim expires), checks its parent is upstream, builds the payload,
   skips it when its hash is what the platform already accepted, calls the client, records every
   HTTP call as a SyncAttempt, and writes the outcome only if it still holds the claim.
3. Transient errors come back pending with a backoff (Retry-After honoured) until MAX_ATTEMPTS,
   then failed; permanent ones are rejected with the platform's message. An adapter may decide
   instead (`Adapter.on_failure`): a Wattics stream retries until 200 and never fails.
4. `due_link_ids` feeds the periodic sweep, so a lost task or a dead worker loses nothing.
5. Creates happen once. Before a create goes out the link notes it (`create_sent_at`, with the
   payload); reading the answer clears the note. A link found with the note and no remote id (the
   answer was lost: a timeout or a reset after sending, a 500/502/504, a worker killed mid-call)
   is never created blindly again: the adapter finds the record where the platform enforces an
   id of ours (`Adapter.recover`), and otherwise the link waits "in doubt" for a person
   (`services.adopt_remote_id` / `services.create_again`). An error before anything was sent
   (connection refused, our egress refusal, a 503 or 429) clears the note: an ordinary retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from .adapters.base import (
    Adapter,
    InDoubt,
    adapter_for_link,
    adapters_for,
    handled_elsewhere,
)
from .clients import CallLog, client_for, note_calls
from .http import UpstreamError
from .models import Connection, LinkState, Profile, UpstreamLink
from .outbox import (
    enqueue,
    ensure_links,
    link_for,
    mark_pending,
    mark_readings_changed,
    mark_record_changed,
    move_to_profile,
    profiles_of,
)
from .outcomes import (
    ClaimLost,
    Outcome,
    answer_lost,
    as_json,
    backoff_s,
    failed,
    field_hashes,
    finish,
    in_doubt,
    max_attempts,
    not_accepted,
    note_create,
    out_of_date,
    payload_hash,
    payload_note,
)

# The outbox side and the outcomes live beside this module; these names are the engine's API.
__all__ = [
    "ClaimLost",
    "Outcome",
    "backoff_s",
    "claim",
    "due_link_ids",
    "enqueue",
    "ensure_links",
    "mark_readings_changed",
    "mark_record_changed",
    "max_attempts",
    "payload_hash",
    "renew_claim",
    "retry_links",
    "run_link",
    "sync_now",
]

logger = logging.getLogger(__name__)

WAIT_FOR_PARENT_S = 30
NO_CONNECTION_RETRY_S = 3600


def claim_lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "SYNC_CLAIM_LEASE_S", 600))


# --- the outbox side: runs inside the writer's transaction ---------------------------------------


def _unclaimed(now: datetime) -> Q:
    """No worker holds the link (never claimed, let go, or its lease ran out)."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def renew_claim(link: UpstreamLink) -> None:
    """Extend the lease of a long run (a stream's backlog) from now; ``link.lease`` is the one
    this worker holds (set by run_link). Raises ClaimLost when it no longer holds it."""
    held = getattr(link, "lease", None)
    if held is None:
        return  # not a claimed run (an adapter called directly)
    lease = timezone.now() + claim_lease()
    if not UpstreamLink.objects.filter(pk=link.pk, claimed_until=held).update(claimed_until=lease):
        raise ClaimLost(f"link {link.pk}: the lease ran out and another worker may hold it")
    link.lease = lease


# --- the worker side ------------------------------------------------------------------------------
def claim(link_id: int, *, ignore_schedule: bool = False) -> datetime | None:
    """Take the link for this worker until the returned lease ends; None when someone else has it."""
    now = timezone.now()
    due = Q(state=LinkState.PENDING) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if ignore_schedule:
        due = Q(state=LinkState.PENDING)
    due &= _unclaimed(now)  # changed while a worker sends it: that worker finishes first
    stale = Q(state=LinkState.SYNCING, claimed_until__lt=now)
    lease = now + claim_lease()
    claimed = (
        UpstreamLink.objects.filter(pk=link_id, paused=False)
        .filter(due | stale)
        .update(state=LinkState.SYNCING, claimed_until=lease)
    )
    return lease if claimed else None


def _record_calls(link: UpstreamLink, connection: Connection, log: CallLog) -> None:
    log.save(connection, link)


def _parent_link(
    record: models.Model, adapter: Adapter, profile: str
) -> tuple[UpstreamLink | None, str]:
    parent = adapter.parent(record)
    if parent is None:
        return None, ""
    profiles = profiles_of(parent.record.organization_id) | {adapter.platform: profile}
    parent_adapter = next(
        (
            a
            for a in adapters_for(parent.record, parent.channel, profiles=profiles)
            if a.platform == parent.platform
        ),
        None,
    )
    if parent_adapter is None:
        return None, ""
    link = link_for(parent.record, parent_adapter, profiles[parent.platform])
    return link, parent.label or str(parent.record)


def run_link(link_id: int, *, ignore_schedule: bool = False) -> Outcome:
    """Claim and sync one link. Never raises for upstream trouble: the outcome is on the link."""
    lease = claim(link_id, ignore_schedule=ignore_schedule)
    if lease is None:
        return Outcome("skipped")
    link = UpstreamLink.objects.select_related("content_type").get(pk=link_id)
    model = link.content_type.model_class()
    assert model is not None  # links are made for installed models only
    record = model._default_manager.filter(pk=link.object_id).first()
    connection = Connection.objects.filter(
        organization_id=link.organization_id, platform=link.platform, enabled=True
    ).first()
    profile = connection.profile if connection is not None else link.profile
    adapter = adapter_for_link(link, record, profile) if record is not None else None
    if record is not None and adapter is None and (elsewhere := handled_elsewhere(link, record)):
        # Kept (with its remote id) for a profile the connection may speak again.
        return not_accepted(
            link,
            lease,
            f"Not sent under the {Profile(profile).label.lower()} profile: its contract has no "
            f"place for this record (kept for the {', '.join(elsewhere)} profile).",
        )
    if record is None or adapter is None:
        link.delete()
        return Outcome("gone")
    # The connection changed profile without its links (an edit outside the service).
    move_to_profile(link, adapter, profile, running=True)
    refusal = adapter.not_accepted(record)
    if refusal:
        return not_accepted(link, lease, refusal)

    if connection is None or not connection.has_credentials:
        finish(
            link,
            lease,
            state=LinkState.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=NO_CONNECTION_RETRY_S),
            last_error=f"No enabled {link.get_platform_display()} connection: add one on the Integrations page.",
        )
        return Outcome(LinkState.PENDING, note="no connection")

    parent_link, parent_label = _parent_link(record, adapter, profile)
    parent_remote_id = ""
    if parent_link is not None:
        if parent_link.state != LinkState.SYNCED or not parent_link.remote_id:
            finish(
                link,
                lease,
                state=LinkState.PENDING,
                parent_link=parent_link,
                waiting_for=f"{parent_link.get_platform_display()} {parent_label}"[:200],
                next_attempt_at=timezone.now() + timedelta(seconds=WAIT_FOR_PARENT_S),
            )
            # After the wait is written: a parent that syncs (an eager queue runs it right here)
            # then finds this link among its waiting children and queues it at once.
            if parent_link.state == LinkState.PENDING:
                enqueue(parent_link.pk)
            # The parent may have synced meanwhile (in-process tasks even run it inside this
            # call) without seeing this link wait for it: then this one runs now, not in 30 s.
            if UpstreamLink.objects.filter(pk=parent_link.pk, state=LinkState.SYNCED).exclude(
                remote_id=""
            ).exists() and UpstreamLink.objects.filter(
                pk=link.pk, state=LinkState.PENDING, claimed_until__isnull=True
            ).update(next_attempt_at=None):
                enqueue(link.pk)
            return Outcome(LinkState.PENDING, note="waiting for parent")
        parent_remote_id = parent_link.remote_id

    log = CallLog()
    client = client_for(connection, log)
    link.lease = lease  # a long run renews it (renew_claim)
    creating = recovering = False
    recovered_hash = ""
    try:
        if adapter.streams:
            try:
                adapter.run(client, link, record, parent_remote_id)
            finally:
                lease = link.lease
            remote_id, new_hash, sent, changed = link.remote_id, link.payload_hash, True, False
        else:
            payload = adapter.payload(record, parent_remote_id)
            new_hash = payload_hash(payload)
            changed = new_hash != link.payload_hash
            if not link.remote_id and link.create_sent_at is not None:
                # An earlier create's answer was lost: find what it made, never create blindly.
                recovering = True
                note_calls(client, "looking for what a create whose answer was lost made")
                remote_id = adapter.recover(client, link, link.create_payload, parent_remote_id)
                recovered_hash, sent = payload_hash(link.create_payload), True
            else:
                # Once the record is there, a platform with no update call cannot take a change.
                sent = not link.remote_id or (changed and adapter.updates)
                if sent and not link.remote_id:
                    creating = note_create(link, lease, payload)
                if sent:
                    note_calls(
                        client,
                        payload_note(payload, link.sent_fields, creating=not link.remote_id),
                    )
                remote_id = (
                    adapter.push(client, link, payload, parent_remote_id)
                    if sent
                    else link.remote_id
                )
    except InDoubt as exc:
        _record_calls(link, connection, log)
        return in_doubt(link, lease, str(exc))
    except UpstreamError as exc:
        _record_calls(link, connection, log)
        if creating and exc.answer_lost:
            return answer_lost(link, lease, adapter, exc)
        if creating:
            # The platform answered (or never got the call): the create is settled either way.
            return failed(link, lease, exc, adapter, create_sent_at=None, create_payload={})
        return failed(link, lease, exc, adapter)
    except ClaimLost as exc:
        _record_calls(link, connection, log)
        return Outcome("skipped", note=str(exc))
    except ValueError as exc:
        # A payload the builders refuse (e.g. a field the platform does not take): nothing to retry.
        _record_calls(link, connection, log)
        finish(
            link,
            lease,
            state=LinkState.REJECTED,
            last_error=f"Not sent: {exc}",
            last_status_code=None,
        )
        return Outcome(LinkState.REJECTED, note=str(exc))
    _record_calls(link, connection, log)
    if (
        not adapter.streams
        and not adapter.updates
        and link.remote_id
        and changed
        and not recovering
    ):
        return out_of_date(link, lease, adapter, payload)
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(last_auth_at=now, last_auth_error="")
    kept: dict[str, Any] = {}
    if not adapter.streams and not recovering:
        kept["sent_fields"] = field_hashes(payload)
    if not adapter.streams and not adapter.updates:
        # Sent now (or found, as the lost create sent it), or equal to what was (same hash).
        kept["sent_payload"] = as_json(link.create_payload if recovering else payload)
    written = finish(
        link,
        lease,
        state=LinkState.SYNCED,
        remote_id=remote_id or "",
        # Recovered: the platform holds what the lost create sent; a change since goes next run.
        payload_hash=recovered_hash if recovering else new_hash,
        attempts=0,
        next_attempt_at=None,
        last_error="",
        last_status_code=None,
        waiting_for="",
        synced_at=now,
        behind_since=None,
        create_sent_at=None,
        create_payload={},
        unsent="",
        unsent_note="",
        unsent_changes=[],
        **kept,
    )
    if written and recovering and recovered_hash != new_hash:
        mark_pending(link)
    if written:
        for child_id in UpstreamLink.objects.filter(
            parent_link=link, state=LinkState.PENDING
        ).values_list("pk", flat=True):
            UpstreamLink.objects.filter(pk=child_id).update(next_attempt_at=None)
            enqueue(child_id)
    return Outcome(LinkState.SYNCED, sent=sent)


def due_link_ids(organization_id: int | None = None, limit: int = 5000) -> list[int]:
    """Links that should run now: pending and due, or claimed by a worker whose lease ran out;
    at most ``limit``, the longest due first (then those due since they were marked, then the
    abandoned ones, each by id).

    Three queries, each a range of its own partial index (``UpstreamLink.Meta``) and each
    stopping at ``limit``, so the work is the same with a hundred links or a hundred thousand:
    pending links waiting out a backoff, synced, failed and paused ones are never read.
    """
    now = timezone.now()
    links = UpstreamLink.objects.all()
    if organization_id is not None:
        links = links.filter(organization_id=organization_id)
    pending = links.filter(state=LinkState.PENDING, paused=False).filter(_unclaimed(now))
    ids = list(
        pending.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for query in (
        pending.filter(next_attempt_at__isnull=True).order_by("next_attempt_at", "pk"),
        links.filter(state=LinkState.SYNCING, paused=False, claimed_until__lt=now).order_by(
            "claimed_until", "pk"
        ),
    ):
        if len(ids) >= limit:
            break
        ids += query.values_list("pk", flat=True)[: limit - len(ids)]
    return ids


def retry_links(link_ids: Iterable[int]) -> int:
    """Put failed, rejected or waiting links back in the queue now (the "Sync now"/"Retry" buttons)."""
    ids = list(link_ids)
    with transaction.atomic():
        count = (
            UpstreamLink.objects.filter(pk__in=ids)
            .exclude(state=LinkState.SYNCING)
            .update(state=LinkState.PENDING, next_attempt_at=None, attempts=0)
        )
        for link_id in ids:
            enqueue(link_id)
    return count


def sync_now(organization_id: int | None = None, max_rounds: int = 50) -> dict[str, int]:
    """Run all due work in this process until nothing is left to do; counts of links by state."""
    tried: set[int] = set()
    progressed = True
    for _ in range(max_rounds):
        ids = due_link_ids(organization_id)
        if not ids or (set(ids) <= tried and not progressed):
            # Nothing due, or only links that already ran and are still due while nothing else
            # settled (a link waiting for a parent that synced meanwhile runs again).
            break
        tried = set()
        progressed = False
        for link_id in ids:
            outcome = run_link(link_id)
            if outcome.state not in {
                LinkState.SYNCED,
                LinkState.REJECTED,
                LinkState.FAILED,
                LinkState.IN_DOUBT,
                "gone",
            }:
                tried.add(link_id)
            else:
                progressed = True
    queryset = UpstreamLink.objects.all()
    if organization_id is not None:
        queryset = queryset.filter(organization_id=organization_id)
    return dict(queryset.values_list("state").annotate(n=models.Count("pk")).order_by())
