"""The names of the integrations tasks, enqueued by name (portal/queue.py): the engine and the
webhooks never import `integrations.tasks`, so the tasks import them (and the services) without a
cycle. `apps.py` imports `integrations.tasks`, so the names are registered in every process."""

from __future__ import annotations

from portal.queue import enqueue

__all__ = ["PROCESS_WEBHOOK_EVENT", "SWEEP", "SYNC_LINK", "enqueue"]

SYNC_LINK = "integrations.tasks.sync_link"
SWEEP = "integrations.tasks.sweep"  # CELERY_BEAT_SCHEDULE names it too
PROCESS_WEBHOOK_EVENT = "integrations.tasks.process_webhook_event"
