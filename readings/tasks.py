"""Celery tasks of the readings upload: thin, each calls one function. A big file is checked, and
later stored, by a worker while the page polls the Upload row (``readings.background``); the
hourly beat expires uploads never confirmed (``readings.services``).

Callers enqueue them by name (portal/queue.py; readings/background.py names them): keep the names,
the beat schedule in portal/settings.py uses one too.
"""

from __future__ import annotations

from celery import shared_task

from . import background, partitions, services


@shared_task(name="readings.tasks.check_upload_task", acks_late=True, ignore_result=True)
def check_upload_task(upload_id: int) -> str:
    """Check a big uploaded file (PROCESSING -> PREVIEW or REJECTED)."""
    return background.run_background_check(upload_id)


@shared_task(name="readings.tasks.confirm_upload_task", acks_late=True, ignore_result=True)
def confirm_upload_task(upload_id: int) -> str:
    """Store a big checked upload (PROCESSING -> STORED, REJECTED or FAILED)."""
    return background.run_background_confirm(upload_id)


@shared_task(name="readings.tasks.expire_pending_uploads", ignore_result=True)
def expire_pending_uploads() -> int:
    """Hourly (beat): delete the files of uploads never confirmed within UPLOAD_PENDING_TTL_S."""
    return services.expire_pending_uploads().expired


@shared_task(name="readings.tasks.refresh_stale_readiness", ignore_result=True)
def refresh_stale_readiness() -> int:
    """Every minute (beat): the M&V verdicts of series stored since, kept for the devices list."""
    return services.refresh_stale_readiness()


@shared_task(name="readings.tasks.ensure_partitions", ignore_result=True)
def ensure_partitions() -> int:
    """Hourly (beat): the readings table's yearly partitions made ahead, and rows waiting in its
    default partition moved into their own year (PostgreSQL; nothing on SQLite)."""
    return len(partitions.ensure_partitions().created)
