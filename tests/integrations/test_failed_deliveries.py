"""In sandbox mode the Events page shows the Spark emulator's failed deliveries to the
organization's webhook: the URL it tried and the error (a wrong PUBLIC_BASE_URL made visible)."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse

from integrations import services, webhooks
from integrations.clients import forget_clients
from integrations.models import Connection
from integrations.sandbox import registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def emulator(org, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.INTEGRATIONS_SANDBOX = True
    registry.reset_all()
    forget_clients()
    services.save_connection(
        Connection(organization=org, platform="spark"), **registry.SANDBOX_CREDENTIALS["spark"]
    )
    emulator = registry.emulator("spark")
    emulator.background = False
    emulator.retry_delay_s = 0
    yield emulator
    registry.reset_all()
    forget_clients()


def refused(url: str, body: bytes, headers: dict[str, str]) -> int:
    raise httpx.ConnectError("[Errno 111] Connection refused")


def test_the_events_page_names_the_url_tried_and_the_error(org, other_org, owner_client, emulator):
    endpoint = webhooks.register_webhook(org)
    page = owner_client.get(reverse("webhook_events")).content.decode()
    assert 'id="failed-deliveries"' not in page

    emulator.deliver = refused
    webhooks.send_test_event(org)
    page = owner_client.get(reverse("webhook_events")).content.decode()
    section = page.split('id="failed-deliveries"')[1].split("</section>")[0]
    assert endpoint.url in section
    assert "Connection refused" in section and "PUBLIC_BASE_URL" in section
    # The list refreshes by itself: the partial carries it too.
    partial = owner_client.get(reverse("webhook_events"), headers={"HX-Request": "true"})
    assert 'id="failed-deliveries"' in partial.content.decode()


def test_another_organizations_failures_are_not_shown(org, other_org, owner_client, emulator):
    webhooks.register_webhook(org)
    services.save_connection(
        Connection(organization=other_org, platform="spark"),
        **registry.SANDBOX_CREDENTIALS["spark"],
    )
    theirs = webhooks.register_webhook(other_org)
    emulator.deliver = refused
    webhooks.send_test_event(other_org)
    assert emulator.failed_deliveries({theirs.remote_id})  # theirs failed: not ours to see
    page = owner_client.get(reverse("webhook_events")).content.decode()
    assert 'id="failed-deliveries"' not in page and theirs.url not in page
