"""Re-registering the Spark webhook rotates its secret without a gap: the old secret and
registration keep working until Spark accepts the new one, the old secret is still accepted during
the grace period, and the old registration is removed upstream."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations import services, spark, webhooks
from integrations.clients import build_client, forget_clients
from integrations.models import Connection, SyncAttempt, WebhookEndpoint
from integrations.sandbox import registry
from integrations.sandbox.spark import SparkEmulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def emulator(org, settings, tmp_path) -> SparkEmulator:
    settings.DATA_DIR = tmp_path
    settings.INTEGRATIONS_SANDBOX = True
    settings.SPARK_WEBHOOK_SECRET_GRACE_S = 3600
    registry.reset_all()
    forget_clients()
    services.save_connection(
        Connection(organization=org, platform="spark"), **registry.SANDBOX_CREDENTIALS["spark"]
    )
    yield registry.emulator("spark")
    registry.reset_all()
    forget_clients()


def spark_secret(emulator: SparkEmulator, webhook_id: str) -> str:
    """The secret Spark signs this registration's deliveries with."""
    return emulator.state["webhooks"][webhook_id]["webhookSecret"]


def deliver(endpoint: WebhookEndpoint, secret: str, notification_id: str) -> int:
    """A price delivery signed with `secret`, as Spark sends it: the receiver's status."""
    body = json.dumps(
        {"notificationId": notification_id, "payload": {"payloadType": "PriceDelta"}}
    ).encode()
    return (
        Client()
        .post(
            reverse("spark_webhook", args=[endpoint.token]),
            body,
            content_type="application/json",
            HTTP_X_PAYLOAD_SIGNATURE=spark.sign(body, secret),
        )
        .status_code
    )


def test_it_keeps_the_old_registration_and_secret_when_spark_refuses_the_new_one(
    org, owner_client, emulator
):
    first = webhooks.register_webhook(org)
    old_secret = spark_secret(emulator, first.remote_id)
    emulator.faults_for(registry.tenant_of(org.pk)).fail_next = 1  # the next POST /webhooks: 503

    with pytest.raises(webhooks.WebhookSetupError) as refused:
        webhooks.register_webhook(org)

    assert "still work" in str(refused.value)
    endpoint = WebhookEndpoint.objects.get(organization=org)
    assert (endpoint.remote_id, endpoint.secret) == (first.remote_id, old_secret)
    assert not endpoint.is_rotating and endpoint.candidate_secret == ""
    assert "503" in endpoint.last_error and endpoint.last_error_at is not None
    assert list(emulator.state["webhooks"]) == [first.remote_id]  # nothing created, nothing removed
    assert deliver(endpoint, old_secret, "after-failure") == 200
    page = owner_client.get(reverse("integrations")).content.decode()
    assert endpoint.last_error in page
    assert f'The registration <span class="mono">{first.remote_id}</span>' in page


def test_it_accepts_the_old_secret_during_the_grace_period_and_refuses_it_after(
    org, owner_client, emulator
):
    first = webhooks.register_webhook(org)
    old_secret = spark_secret(emulator, first.remote_id)

    second = webhooks.register_webhook(org)

    new_secret = spark_secret(emulator, second.remote_id)
    assert second.remote_id != first.remote_id and new_secret != old_secret
    assert list(emulator.state["webhooks"]) == [second.remote_id]  # the old one removed upstream
    removal = SyncAttempt.objects.get(method="DELETE")
    assert (removal.path, removal.status_code) == (f"/webhooks/{first.remote_id}", 204)
    assert second.retired_remote_ids == [] and "Removed" in second.removal_note
    remaining_s = (second.previous_secret_valid_until - timezone.now()).total_seconds()
    assert 3500 < remaining_s <= 3600
    assert deliver(second, old_secret, "signed-before-the-switch") == 200
    assert deliver(second, new_secret, "signed-after-the-switch") == 200
    page = owner_client.get(reverse("integrations")).content.decode()
    assert "previous secret is still accepted until" in page and second.remote_id in page

    WebhookEndpoint.objects.filter(pk=second.pk).update(
        previous_secret_valid_until=timezone.now() - timedelta(seconds=1)
    )

    assert deliver(second, old_secret, "late-old") == 401
    assert deliver(second, new_secret, "late-new") == 200


def test_it_refuses_the_old_secret_at_once_without_a_grace_period(org, emulator, settings):
    settings.SPARK_WEBHOOK_SECRET_GRACE_S = 0
    first = webhooks.register_webhook(org)
    old_secret = spark_secret(emulator, first.remote_id)

    second = webhooks.register_webhook(org)

    assert second.previous_secret_encrypted == "" and not second.in_grace()
    assert deliver(second, old_secret, "old") == 401


def test_it_records_a_404_on_removal_as_nothing_to_remove(org, emulator):
    first = webhooks.register_webhook(org)
    del emulator.state["webhooks"][first.remote_id]  # Spark no longer has it

    second = webhooks.register_webhook(org)

    assert second.retired_remote_ids == []
    assert f"no registration {first.remote_id} to remove" in second.removal_note
    assert SyncAttempt.objects.get(method="DELETE").status_code == 404  # in the call history


def test_it_removes_an_earlier_registration_left_over_by_a_failed_removal(org, emulator):
    webhooks.register_webhook(org)
    client = build_client(Connection.objects.get(organization=org, platform="spark"))
    try:
        leftover = client.register_webhook(
            "https://portal.example/old", "old-secret", ["Create"], ["PriceDelta"]
        )
    finally:
        client.close()
    WebhookEndpoint.objects.filter(organization=org).update(retired_remote_ids=[leftover])

    latest = webhooks.register_webhook(org)

    assert list(emulator.state["webhooks"]) == [latest.remote_id]
    assert latest.retired_remote_ids == []


def test_it_accepts_the_candidate_secret_only_while_its_registration_is_in_flight(org):
    endpoint = WebhookEndpoint(organization=org)
    endpoint.set_secret("current")
    endpoint.set_candidate_secret("candidate")
    endpoint.rotation_started_at = timezone.now()
    endpoint.save()

    assert deliver(endpoint, "candidate", "racing-the-answer") == 200
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(candidate_secret_encrypted="")
    assert deliver(endpoint, "candidate", "after-a-refusal") == 401
    assert deliver(endpoint, "current", "current") == 200


def test_it_shows_a_rotation_in_flight_on_the_integrations_page(org, owner_client, outsider_client):
    endpoint = WebhookEndpoint(organization=org, remote_id="wh-ours")
    endpoint.set_secret("current")
    endpoint.set_candidate_secret("candidate")
    endpoint.rotation_started_at = timezone.now()
    endpoint.save()

    page = owner_client.get(reverse("integrations")).content.decode()
    theirs = outsider_client.get(reverse("integrations")).content.decode()

    assert "Re-registration in progress" in page and "wh-ours" in page
    assert "Re-registration in progress" not in theirs and "wh-ours" not in theirs


def test_it_re_encrypts_every_webhook_secret_with_the_newest_key(org, settings):
    settings.FIELD_ENCRYPTION_KEY = "old-key"
    endpoint = WebhookEndpoint(organization=org)
    endpoint.set_secret("current")
    endpoint.set_candidate_secret("candidate")
    endpoint.previous_secret_encrypted = _encrypted("previous")
    endpoint.save()

    settings.FIELD_ENCRYPTION_KEY = "new-key,old-key"
    output = io.StringIO()
    call_command("rotate_credentials", stdout=output)
    settings.FIELD_ENCRYPTION_KEY = "new-key"  # the old key dropped

    assert "1 webhook(s)" in output.getvalue()

    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.candidate_secret, endpoint.previous_secret) == (
        "current",
        "candidate",
        "previous",
    )


def _encrypted(secret: str) -> str:
    holder = WebhookEndpoint()
    holder.set_secret(secret)
    return holder.secret_encrypted
