"""The Celery app (the standard Django recipe): `celery -A portal worker`, `celery -A portal beat`."""

from __future__ import annotations

import os

from celery import Celery, Task
from celery.signals import beat_init, task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # A task is acknowledged when it finishes, so a worker killed mid-task leaves it queued.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=15 * 60,
    task_soft_time_limit=14 * 60,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    task_ignore_result=True,
    timezone="UTC",
)
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _require_secrets(**kwargs: object) -> None:
    from portal.checks import require_secrets

    require_secrets()


@task_prerun.connect
@task_postrun.connect
def reuse_database_connections(task: Task | None = None, **kwargs: object) -> None:
    """A task is like a request: keep the connection up to CONN_MAX_AGE, drop a broken one.

    (Celery's Django fix-up would close it around every task; CELERY_DB_REUSE_MAX turns that off.)
    """
    if task is not None and not task.request.is_eager:
        from django.db import close_old_connections

        close_old_connections()
