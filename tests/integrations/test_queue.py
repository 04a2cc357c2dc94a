"""Tasks are enqueued by name (integrations/queue.py) and still run here when tasks run eagerly."""

from __future__ import annotations

import pytest
from celery import current_app
from django.conf import settings

from integrations import queue, tasks
from integrations.models import Platform, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db


def test_it_keeps_the_task_names_the_beat_schedule_and_the_senders_use() -> None:
    names = {queue.SYNC_LINK, queue.SWEEP, queue.PROCESS_WEBHOOK_EVENT}

    assert names <= set(current_app.tasks)
    assert tasks.sync_link.name == queue.SYNC_LINK
    assert queue.SWEEP in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


@pytest.mark.skipif(not settings.CELERY_TASK_ALWAYS_EAGER, reason="runs eagerly only")
def test_it_runs_a_task_enqueued_by_name_here_when_tasks_run_eagerly(org) -> None:
    endpoint = WebhookEndpoint.objects.create(organization=org, platform=Platform.SPARK)
    event = WebhookEvent.objects.create(
        organization=org, endpoint=endpoint, notification_id="n-1", body={"payload": {}}
    )

    queue.enqueue(queue.PROCESS_WEBHOOK_EVENT, event.pk)

    event.refresh_from_db()
    assert event.processed_at is not None
