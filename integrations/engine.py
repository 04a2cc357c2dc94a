"""The sync engine: a transactional outbox of UpstreamLinks, worked off by Celery tasks.

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

import hashlib
import json
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from . import queue
from .adapters.base import (
    ADAPTERS,
    Adapter,
    FailurePlan,
    InDoubt,
    adapter_for_link,
    adapters_for,
    payload_changes,
)
from .clients import CallLog, client_for
from .http import UpstreamError
from .models import Channel, Connection, LinkState, Unsent, UpstreamLink

logger = logging.getLogger(__name__)

WAIT_FOR_PARENT_S = 30
NO_CONNECTION_RETRY_S = 3600


def max_attempts() -> int:
    return getattr(settings, "SYNC_MAX_ATTEMPTS", 8)


def claim_lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "SYNC_CLAIM_LEASE_S", 600))


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s ... capped at an hour); Retry-After wins."""
    base = getattr(settings, "SYNC_BACKOFF_BASE_S", 5.0)
    delay = min(3600.0, base * (2 ** max(0, attempts - 1))) * random.uniform(0.75, 1.25)
    if retry_after_s is not None:
        delay = max(float(retry_after_s), 0.0)
    return delay


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _as_json(payload: Any) -> Any:
    """The payload as stored in a JSONField (decimals and dates as the text they hash as)."""
    return json.loads(json.dumps(payload, default=str))


@dataclass
class Outcome:
    """What one run of a link came to."""

    state: str
    retry_in_s: float | None = None
    sent: bool = False
    note: str = ""


# --- the outbox side: runs inside the writer's transaction ---------------------------------------
def enabled_platforms(organization_id: int) -> set[str]:
    return set(
        Connection.objects.filter(organization_id=organization_id, enabled=True).values_list(
            "platform", flat=True
        )
    )


def _link_for(record: models.Model, adapter: Adapter) -> UpstreamLink:
    link, _ = UpstreamLink.objects.get_or_create(
        platform=adapter.platform,
        channel=adapter.channel,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        defaults={"organization_id": record.organization_id},
    )
    return link


def _mark_pending(link: UpstreamLink) -> None:
    # A worker sending the old version keeps its claim, so nobody sends the record beside it; its
    # outcome can't overwrite "pending" (_finish), and the link runs again once it lets go.
    # A link in doubt stays so: only a person's answer moves it (the change goes with it then).
    if (
        UpstreamLink.objects.filter(pk=link.pk)
        .exclude(state=LinkState.IN_DOUBT)
        .update(state=LinkState.PENDING, next_attempt_at=None, attempts=0, waiting_for="")
    ):
        enqueue(link.pk)


def _unclaimed(now: datetime) -> Q:
    """No worker holds the link (never claimed, let go, or its lease ran out)."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


class ClaimLost(Exception):
    """A long run found its lease taken over (it ran out): it stops sending at once."""


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


def mark_record_changed(record: models.Model, *, deleted: bool = False) -> list[int]:
    """Mark the links of `record` (and of records whose payload embeds it) pending."""
    if deleted:
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        ).delete()
        return []
    platforms = enabled_platforms(record.organization_id)
    marked = []
    for adapter in adapters_for(record, channel=Channel.RECORD):
        if adapter.platform in platforms:
            link = _link_for(record, adapter)
            _mark_pending(link)
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
            link = _link_for(record, adapter)
            adapter.record_changed(link, record)
            _mark_pending(link)
            marked.append(link.pk)
    for adapter in ADAPTERS:
        if adapter.platform not in platforms or adapter.streams:
            continue
        for dependent in adapter.dependents(record):
            if adapter.applies(dependent):
                link = _link_for(dependent, adapter)
                if link.state != LinkState.PENDING:
                    _mark_pending(link)
                    marked.append(link.pk)
    return marked


def mark_readings_changed(owner: models.Model, start: datetime, end: datetime) -> list[int]:
    """Interval data of `owner` (a device or meter) changed between start and end (UTC)."""
    platforms = enabled_platforms(owner.organization_id)
    marked = []
    for adapter in ADAPTERS:
        if not adapter.streams or adapter.platform not in platforms:
            continue
        if not isinstance(owner, adapter.model) or not adapter.applies(owner):
            continue
        link = _link_for(owner, adapter)
        adapter.mark_range(link, start, end)
        _mark_pending(link)
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
                link = _link_for(record, adapter)
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


def _finish(link: UpstreamLink, lease: datetime, **values: Any) -> bool:
    """Write the outcome if this worker still holds the claim and nothing changed meanwhile.

    A record marked pending while it was being sent keeps "pending": this worker only lets go,
    keeping what the platform now knows (a remote id it just created, so the next run updates
    rather than creates), and the link runs again with the change.
    """
    values.setdefault("claimed_until", None)
    held = UpstreamLink.objects.filter(pk=link.pk, claimed_until=lease)
    if held.filter(state=LinkState.SYNCING).update(**values):
        return True
    facts: dict[str, Any] = {"claimed_until": None}
    if values.get("remote_id"):
        facts["remote_id"] = values["remote_id"]
    if "create_sent_at" in values and values["create_sent_at"] is None:
        # What the platform said about a create (made it, or surely never got it) holds too.
        facts.update(create_sent_at=None, create_payload={})
    if held.update(**facts):
        enqueue(link.pk)
    return False


def _record_calls(link: UpstreamLink, connection: Connection, log: CallLog) -> None:
    log.save(connection, link)


def _parent_link(record: models.Model, adapter: Adapter) -> tuple[UpstreamLink | None, str]:
    parent = adapter.parent(record)
    if parent is None:
        return None, ""
    parent_adapter = next(
        (a for a in adapters_for(parent.record, parent.channel) if a.platform == parent.platform),
        None,
    )
    if parent_adapter is None:
        return None, ""
    link = _link_for(parent.record, parent_adapter)
    return link, parent.label or str(parent.record)


def run_link(link_id: int, *, ignore_schedule: bool = False) -> Outcome:
    """Claim and sync one link. Never raises for upstream trouble: the outcome is on the link."""
    lease = claim(link_id, ignore_schedule=ignore_schedule)
    if lease is None:
        return Outcome("skipped")
    link = UpstreamLink.objects.select_related("content_type").get(pk=link_id)
    record = link.content_type.model_class()._default_manager.filter(pk=link.object_id).first()
    adapter = adapter_for_link(link, record) if record is not None else None
    if record is None or adapter is None:
        link.delete()
        return Outcome("gone")
    refusal = adapter.not_accepted(record)
    if refusal:
        return _not_accepted(link, lease, refusal)

    connection = Connection.objects.filter(
        organization_id=link.organization_id, platform=link.platform, enabled=True
    ).first()
    if connection is None or not connection.has_credentials:
        _finish(
            link,
            lease,
            state=LinkState.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=NO_CONNECTION_RETRY_S),
            last_error=f"No enabled {link.get_platform_display()} connection: add one on the Integrations page.",
        )
        return Outcome(LinkState.PENDING, note="no connection")

    parent_link, parent_label = _parent_link(record, adapter)
    parent_remote_id = ""
    if parent_link is not None:
        if parent_link.state != LinkState.SYNCED or not parent_link.remote_id:
            if parent_link.state == LinkState.PENDING:
                enqueue(parent_link.pk)
            _finish(
                link,
                lease,
                state=LinkState.PENDING,
                parent_link=parent_link,
                waiting_for=f"{parent_link.get_platform_display()} {parent_label}"[:200],
                next_attempt_at=timezone.now() + timedelta(seconds=WAIT_FOR_PARENT_S),
            )
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
                remote_id = adapter.recover(client, link, link.create_payload, parent_remote_id)
                recovered_hash, sent = payload_hash(link.create_payload), True
            else:
                # Once the record is there, a platform with no update call cannot take a change.
                sent = not link.remote_id or (changed and adapter.updates)
                if sent and not link.remote_id:
                    creating = _note_create(link, lease, payload)
                remote_id = (
                    adapter.push(client, link, payload, parent_remote_id)
                    if sent
                    else link.remote_id
                )
    except InDoubt as exc:
        _record_calls(link, connection, log)
        return _in_doubt(link, lease, str(exc))
    except UpstreamError as exc:
        _record_calls(link, connection, log)
        if creating and exc.answer_lost:
            return _answer_lost(link, lease, adapter, exc)
        if creating:
            # The platform answered (or never got the call): the create is settled either way.
            return _failed(link, lease, exc, adapter, create_sent_at=None, create_payload={})
        return _failed(link, lease, exc, adapter)
    except ClaimLost as exc:
        _record_calls(link, connection, log)
        return Outcome("skipped", note=str(exc))
    except ValueError as exc:
        # A payload the builders refuse (e.g. a field the platform does not take): nothing to retry.
        _record_calls(link, connection, log)
        _finish(
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
        return _out_of_date(link, lease, adapter, payload)
    now = timezone.now()
    Connection.objects.filter(pk=connection.pk).update(last_auth_at=now, last_auth_error="")
    kept: dict[str, Any] = {}
    if not adapter.streams and not adapter.updates:
        # Sent now (or found, as the lost create sent it), or equal to what was (same hash).
        kept["sent_payload"] = _as_json(link.create_payload if recovering else payload)
    written = _finish(
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
        _mark_pending(link)
    if written:
        for child_id in UpstreamLink.objects.filter(
            parent_link=link, state=LinkState.PENDING
        ).values_list("pk", flat=True):
            UpstreamLink.objects.filter(pk=child_id).update(next_attempt_at=None)
            enqueue(child_id)
    return Outcome(LinkState.SYNCED, sent=sent)


def _not_accepted(link: UpstreamLink, lease: datetime, reason: str) -> Outcome:
    """The platform's contract has no place for the record: no call, nothing to retry."""
    _finish(
        link,
        lease,
        state=LinkState.SYNCED,
        unsent=Unsent.NOT_ACCEPTED,
        unsent_note=reason[:300],
        unsent_changes=[],
        attempts=0,
        next_attempt_at=None,
        last_error="",
        last_status_code=None,
        waiting_for="",
    )
    return Outcome(LinkState.SYNCED, note=reason)


def _out_of_date(
    link: UpstreamLink, lease: datetime, adapter: Adapter, payload: dict[str, Any]
) -> Outcome:
    """The record changed since the platform took it, and the platform has no call to change it:
    the link stays synced (nothing to retry) and says what it cannot send. Its hash stays the one
    the platform accepted, so the note goes once the record is back to what was sent."""
    changes = (
        payload_changes(link.sent_payload, _as_json(payload))
        if link.sent_payload is not None
        else []  # sent before the portal kept a copy: what differs is not known
    )
    _finish(
        link,
        lease,
        state=LinkState.SYNCED,
        unsent=Unsent.OUT_OF_DATE,
        unsent_note=adapter.no_update_note[:300],
        unsent_changes=changes,
        attempts=0,
        next_attempt_at=None,
        last_error="",
        last_status_code=None,
        waiting_for="",
    )
    return Outcome(LinkState.SYNCED, note=adapter.no_update_note)


def _note_create(link: UpstreamLink, lease: datetime, payload: dict[str, Any]) -> bool:
    """Write down, before it goes out, that a create is being sent and what it sends (so a lost
    answer is known as one, even if this worker dies mid-call). ClaimLost if the lease is gone."""
    sent = json.loads(json.dumps(payload, default=str))  # what the JSON body carries
    noted = UpstreamLink.objects.filter(pk=link.pk, claimed_until=lease).update(
        create_sent_at=timezone.now(), create_payload=sent
    )
    if not noted:
        raise ClaimLost(f"link {link.pk}: the lease ran out before its create was sent")
    link.create_payload = sent
    return True


def _answer_lost(
    link: UpstreamLink, lease: datetime, adapter: Adapter, exc: UpstreamError
) -> Outcome:
    """A create went out and its answer did not come back: the platform may hold the record."""
    if adapter.can_recover(link.create_payload):
        # The next run finds it (Adapter.recover): an ordinary retry, with the create noted.
        return _failed(link, lease, exc, permanent=False)
    return _in_doubt(
        link,
        lease,
        f"The answer to the create was lost ({exc}): {link.get_platform_display()} may hold "
        "the record, and it chose the record's id itself. Check there, then use its id here or "
        "create it again.",
        status_code=exc.status_code,
    )


def _in_doubt(
    link: UpstreamLink, lease: datetime, note: str, status_code: int | None = None
) -> Outcome:
    _finish(
        link,
        lease,
        state=LinkState.IN_DOUBT,
        attempts=0,
        next_attempt_at=None,
        last_error=note[:2000],
        last_status_code=status_code,
    )
    return Outcome(LinkState.IN_DOUBT, note=note)


def _failed(
    link: UpstreamLink,
    lease: datetime,
    exc: UpstreamError,
    adapter: Adapter | None = None,
    *,
    permanent: bool | None = None,
    **settled: Any,
) -> Outcome:
    """Write a failed call's outcome (`settled`: what else the call told us, written with it);
    an adapter may have its own plan for the failure (Adapter.on_failure)."""
    attempts = link.attempts + 1
    plan = adapter.on_failure(link, exc, attempts) if adapter is not None else None
    if plan is not None:
        return _follow_plan(link, lease, exc, attempts, plan, **settled)
    if exc.permanent if permanent is None else permanent:
        _finish(
            link,
            lease,
            state=LinkState.REJECTED,
            attempts=attempts,
            last_error=exc.message[:2000],
            last_status_code=exc.status_code,
            **settled,
        )
        return Outcome(LinkState.REJECTED, note=exc.message)
    if attempts >= max_attempts():
        _finish(
            link,
            lease,
            state=LinkState.FAILED,
            attempts=attempts,
            last_error=f"Gave up after {attempts} attempts: {exc.message}"[:2000],
            last_status_code=exc.status_code,
            **settled,
        )
        return Outcome(LinkState.FAILED, note=exc.message)
    delay = backoff_s(attempts, exc.retry_after_s)
    _finish(
        link,
        lease,
        state=LinkState.PENDING,
        attempts=attempts,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=exc.message[:2000],
        last_status_code=exc.status_code,
        **settled,
    )
    return Outcome(LinkState.PENDING, retry_in_s=delay, note=exc.message)


def _follow_plan(
    link: UpstreamLink,
    lease: datetime,
    exc: UpstreamError,
    attempts: int,
    plan: FailurePlan,
    **settled: Any,
) -> Outcome:
    """An adapter's own plan for a failure: pending, behind since its first failed run."""
    now = timezone.now()
    values: dict[str, Any] = {
        **settled,
        "state": LinkState.PENDING,
        "attempts": attempts,
        "last_status_code": exc.status_code,
        "behind_since": Coalesce(F("behind_since"), Value(now)),
        "updated_at": now,
    }
    if plan.pause_reason:
        _finish(
            link,
            lease,
            **values,
            paused=True,
            paused_for_credentials=True,
            next_attempt_at=None,
            last_error=plan.pause_reason[:2000],
        )
        return Outcome(LinkState.PENDING, note=plan.pause_reason)
    delay = max(plan.retry_in_s or 0.0, 0.0)
    _finish(
        link,
        lease,
        **values,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=exc.message[:2000],
    )
    return Outcome(LinkState.PENDING, retry_in_s=delay, note=exc.message)


def due_link_ids(organization_id: int | None = None, limit: int = 5000) -> list[int]:
    """Links that should run now: pending and due, or claimed by a worker whose lease ran out."""
    now = timezone.now()
    due = (
        Q(state=LinkState.PENDING)
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & _unclaimed(now)
    )
    stale = Q(state=LinkState.SYNCING, claimed_until__lt=now)
    queryset = UpstreamLink.objects.filter(due | stale, paused=False)
    if organization_id is not None:
        queryset = queryset.filter(organization_id=organization_id)
    return list(queryset.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])


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
    for _ in range(max_rounds):
        ids = due_link_ids(organization_id)
        if not ids or set(ids) <= tried:
            break  # nothing due, or only links that already ran and are still due (no progress)
        tried = set()
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
    queryset = UpstreamLink.objects.all()
    if organization_id is not None:
        queryset = queryset.filter(organization_id=organization_id)
    return dict(queryset.values_list("state").annotate(n=models.Count("pk")).order_by())
