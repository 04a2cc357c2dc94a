"""A real Celery worker (Redis in CI, the in-memory transport otherwise) syncing through the engine."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from devices import services as device_services
from integrations.models import LinkState, UpstreamLink
from portal.celery import app
from tests.factories import DeviceFactory, HomeFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _forget_broker_connections() -> None:
    # The app keeps its connection and producer pools: made earlier with another broker URL
    # (the suite's eager default), they would keep talking to that one.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_worker():
    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = settings.CELERY_BROKER_URL or "memory://"
    _forget_broker_connections()
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker
    app.conf.update(previous)
    _forget_broker_connections()


def wait_for(predicate, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_it_syncs_a_saved_device_through_a_real_worker(
    org, wattcarbon, wattcarbon_connection, celery_worker
):
    device = DeviceFactory.build(
        organization=org, home=HomeFactory(organization=org), custom_id="W-1"
    )
    device_services.save_device(device)  # commits: the task goes to the broker, the worker runs it
    link = UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(device), object_id=device.pk
    )
    assert wait_for(lambda: UpstreamLink.objects.get(pk=link.pk).state == LinkState.SYNCED)
    link.refresh_from_db()
    assert link.remote_id in wattcarbon.app.state["devices"]


def test_it_retries_a_503_in_the_worker_and_sends_once(
    org, wattcarbon, wattcarbon_connection, celery_worker, settings
):
    settings.SYNC_BACKOFF_BASE_S = 0.2
    wattcarbon.app.faults.fail_next = 2
    device = DeviceFactory.build(
        organization=org, home=HomeFactory(organization=org), custom_id="W-2"
    )
    device_services.save_device(device)
    link = UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(device), object_id=device.pk
    )
    assert wait_for(lambda: UpstreamLink.objects.get(pk=link.pk).state == LinkState.SYNCED)
    remote = [d["device"]["customId"] for d in wattcarbon.app.state["devices"].values()]
    assert remote == ["W-2"]
