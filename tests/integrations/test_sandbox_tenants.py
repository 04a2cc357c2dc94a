"""Sandbox mode: every organization shares the in-process emulators, yet an outage an admin sets and
a Spark event an admin asks for concern that admin's organization alone."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from devices import services as device_services
from homes import services as home_services
from integrations import engine, services, webhooks
from integrations.clients import build_client, forget_clients
from integrations.http import UpstreamError
from integrations.models import Connection, LinkState, UpstreamLink, WebhookEndpoint
from integrations.sandbox import registry
from tests.factories import CustomerFactory, DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.INTEGRATIONS_SANDBOX = True
    registry.reset_all()
    forget_clients()
    yield registry
    registry.reset_all()
    forget_clients()


def _connect(organization, platform: str) -> Connection:
    return services.save_connection(
        Connection(organization=organization, platform=platform),
        **registry.SANDBOX_CREDENTIALS[platform],
    )


def _device_link(organization) -> UpstreamLink:
    device = device_services.save_device(
        DeviceFactory.build(organization=organization, home=HomeFactory(organization=organization))
    )
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        platform="wattcarbon",
    )


def test_it_fails_only_the_acting_organizations_calls_during_a_sandbox_outage(
    org, other_org, owner_client, outsider_client, sandbox
):
    _connect(org, "wattcarbon")
    theirs = _connect(other_org, "wattcarbon")
    owner_client.post(
        reverse("sandbox_outage"), {"platform": "wattcarbon", "seconds": 600, "status": 503}
    )

    ours = engine.run_link(_device_link(org).pk, ignore_schedule=True)
    assert ours.state == LinkState.PENDING  # 503: retried later

    page = outsider_client.post(
        reverse("connection_test", args=["wattcarbon"]), follow=True
    ).content.decode()
    assert "Signed in" in page
    theirs.refresh_from_db()
    assert theirs.last_auth_error == ""
    assert engine.run_link(_device_link(other_org).pk, ignore_schedule=True).state == (
        LinkState.SYNCED
    )


def _on_spark(organization) -> str:
    """A customer of `organization` synced to Spark and the organization's webhook registered:
    the customer's Spark user id."""
    home = HomeFactory(
        organization=organization,
        customer=home_services.save_customer(CustomerFactory.build(organization=organization)),
    )
    engine.sync_now(organization.pk)
    webhooks.register_webhook(organization)
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(home.customer),
        object_id=home.customer_id,
        platform="spark",
    ).remote_id


def test_it_sends_a_sandbox_price_event_only_to_the_organization_that_asked(
    org, other_org, owner_client, sandbox
):
    _connect(org, "spark")
    _connect(other_org, "spark")
    _on_spark(org)
    _on_spark(other_org)
    spark = sandbox.emulator("spark")
    delivered: list[str] = []
    spark.background = False
    spark.deliver = lambda url, body, headers: delivered.append(url) or 202

    owner_client.post(reverse("sandbox_emit_price_event"))

    ours = WebhookEndpoint.objects.get(organization=org)
    assert delivered == [ours.url]


def test_it_keeps_one_organizations_spark_webhook_out_of_anothers_reach(org, other_org, sandbox):
    _connect(org, "spark")
    theirs = _connect(other_org, "spark")
    _on_spark(org)
    spark = sandbox.emulator("spark")
    spark.background = False
    spark.deliver = lambda url, body, headers: 202
    our_webhook = WebhookEndpoint.objects.get(organization=org).remote_id

    client = build_client(theirs)
    try:
        with pytest.raises(UpstreamError) as refused:
            client.test_webhook(our_webhook)
    finally:
        client.close()
    assert refused.value.status_code == 404
    webhooks.send_test_event(org)  # the owner still can
