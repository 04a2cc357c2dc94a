"""Celery tasks of the sync engine: ids in, one engine or service call each.

Callers enqueue them by name (`integrations.queue`): keep the names, the beat schedule in
portal/settings.py and any worker still holding queued tasks use them.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import engine, queue, services


@shared_task(name=queue.SYNC_LINK, bind=True, acks_late=True, max_retries=None, ignore_result=True)
def sync_link(self, link_id: int) -> str:
    """Sync one link; on a transient error Celery retries it after the engine's backoff."""
    outcome = engine.run_link(link_id)
    if outcome.retry_in_s is not None and not self.request.is_eager:
        # The link is already pending with next_attempt_at, so the sweep would find it too: the
        # retry only makes it prompt. Eager mode (make run) leaves it to the in-process sweeper.
        raise self.retry(countdown=outcome.retry_in_s)
    return outcome.state


@shared_task(name=queue.SWEEP, ignore_result=True)
def sweep() -> int:
    """Every minute (beat): re-enqueue pending-and-due links and links of dead workers, at most
    SYNC_SWEEP_LIMIT a run (the longest due first; the rest the next minute), found through the
    partial indexes that hold only such links (``engine.due_link_ids``)."""
    ids = engine.due_link_ids(limit=settings.SYNC_SWEEP_LIMIT)
    for link_id in ids:
        sync_link.delay(link_id)
    return len(ids)


@shared_task(name=queue.PROCESS_WEBHOOK_EVENT, acks_late=True, ignore_result=True)
def process_webhook_event(event_id: int) -> None:
    """Link a received Spark event to our customers and meters (the receiver answered already)."""
    services.process_webhook_event(event_id)
