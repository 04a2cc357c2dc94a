"""How a run of a link ends: the outcome written on the link, only while the worker holds it.

`finish` writes an outcome under the worker's lease (a record changed meanwhile stays pending);
the rest are the kinds of ending: synced but not accepted or out of date upstream, in doubt after
a lost create, failed (backoff, then failed or rejected), or an adapter's own plan for a failure.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .adapters.base import Adapter, FailurePlan, payload_changes
from .http import UpstreamError
from .models import LinkState, Unsent, UpstreamLink
from .outbox import enqueue


def max_attempts() -> int:
    return getattr(settings, "SYNC_MAX_ATTEMPTS", 8)


def backoff_s(attempts: int, retry_after_s: float | None = None) -> float:
    """Exponential backoff with jitter (5 s, 10 s, 20 s ... capped at an hour); Retry-After wins."""
    base = getattr(settings, "SYNC_BACKOFF_BASE_S", 5.0)
    delay = min(3600.0, base * (2 ** max(0, attempts - 1))) * random.uniform(0.75, 1.25)
    if retry_after_s is not None:
        delay = max(float(retry_after_s), 0.0)
    return delay


def payload_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def field_hashes(payload: Any) -> dict[str, str]:
    """A short hash of each top-level field of a payload (an object); {} for anything else."""
    if not isinstance(payload, dict):
        return {}
    return {str(key): payload_hash(value)[:12] for key, value in payload.items()}


def payload_note(payload: Any, sent_before: dict[str, str], *, creating: bool) -> str:
    """What a record's call carries, for the sync history: "created with 12 fields", "changed
    name, size_kw" (against the fields last accepted), or "sent 12 fields" when nothing says
    what the platform held."""
    fields = field_hashes(payload)
    count = f"{len(fields)} field{'s' if len(fields) != 1 else ''}" if fields else "the record"
    if creating:
        return f"created with {count}"
    if not fields or not sent_before:
        return f"sent {count}"
    changed = sorted(
        key for key in fields.keys() | sent_before.keys() if fields.get(key) != sent_before.get(key)
    )
    if not changed:
        return f"sent {count}, none changed"
    shown = ", ".join(changed[:8]) + (f" and {len(changed) - 8} more" if len(changed) > 8 else "")
    return f"changed {shown}"


def as_json(payload: Any) -> Any:
    """The payload as stored in a JSONField (decimals and dates as the text they hash as)."""
    return json.loads(json.dumps(payload, default=str))


@dataclass
class Outcome:
    """What one run of a link came to."""

    state: str
    retry_in_s: float | None = None
    sent: bool = False
    note: str = ""


class ClaimLost(Exception):
    """A long run found its lease taken over (it ran out): it stops sending at once."""


def finish(link: UpstreamLink, lease: datetime, **values: Any) -> bool:
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


def not_accepted(link: UpstreamLink, lease: datetime, reason: str) -> Outcome:
    """The platform's contract has no place for the record: no call, nothing to retry."""
    finish(
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


def out_of_date(
    link: UpstreamLink, lease: datetime, adapter: Adapter, payload: dict[str, Any]
) -> Outcome:
    """The record changed since the platform took it, and the platform has no call to change it:
    the link stays synced (nothing to retry) and says what it cannot send. Its hash stays the one
    the platform accepted, so the note goes once the record is back to what was sent."""
    changes = (
        payload_changes(link.sent_payload, as_json(payload))
        if link.sent_payload is not None
        else []  # sent before the portal kept a copy: what differs is not known
    )
    finish(
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


def note_create(link: UpstreamLink, lease: datetime, payload: dict[str, Any]) -> bool:
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


def answer_lost(
    link: UpstreamLink, lease: datetime, adapter: Adapter, exc: UpstreamError
) -> Outcome:
    """A create went out and its answer did not come back: the platform may hold the record."""
    if adapter.can_recover(link.create_payload):
        # The next run finds it (Adapter.recover): an ordinary retry, with the create noted.
        return failed(link, lease, exc, permanent=False)
    return in_doubt(
        link,
        lease,
        f"The answer to the create was lost ({exc}): {link.get_platform_display()} may hold "
        "the record, and it chose the record's id itself. Check there, then use its id here or "
        "create it again.",
        status_code=exc.status_code,
    )


def in_doubt(
    link: UpstreamLink, lease: datetime, note: str, status_code: int | None = None
) -> Outcome:
    finish(
        link,
        lease,
        state=LinkState.IN_DOUBT,
        attempts=0,
        next_attempt_at=None,
        last_error=note[:2000],
        last_status_code=status_code,
    )
    return Outcome(LinkState.IN_DOUBT, note=note)


def failed(
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
        return follow_plan(link, lease, exc, attempts, plan, **settled)
    if exc.permanent if permanent is None else permanent:
        finish(
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
        finish(
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
    finish(
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


def follow_plan(
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
        finish(
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
    finish(
        link,
        lease,
        **values,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=exc.message[:2000],
    )
    return Outcome(LinkState.PENDING, retry_in_s=delay, note=exc.message)
