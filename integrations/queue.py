"""Tasks are enqueued by name: the engine and the webhooks never import `integrations.tasks`, so
the tasks import them (and the services) without a cycle.

`apps.py` imports `integrations.tasks`, so these names are registered in every process: the
signature then applies the task itself, which honours CELERY_TASK_ALWAYS_EAGER (tests, `make run`),
where `send_task` would always go to the broker.
"""

from __future__ import annotations

from celery import current_app

SYNC_LINK = "integrations.tasks.sync_link"
SWEEP = "integrations.tasks.sweep"  # CELERY_BEAT_SCHEDULE names it too
PROCESS_WEBHOOK_EVENT = "integrations.tasks.process_webhook_event"


def enqueue(task_name: str, *args: object) -> None:
    """Send the task `task_name` with `args` (run here and now when tasks run eagerly)."""
    current_app.signature(task_name, args=args).delay()
