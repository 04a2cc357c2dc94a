"""Spark webhooks: registering the organization's receiving URL, receiving signed deliveries, and
processing them (in a task) into events linked to our customers and meters."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from homes.models import Customer, Meter
from portal.models import Organization

from . import spark
from .clients import CallLog, client_for
from .models import Connection, Platform, UpstreamLink, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
OPERATIONS = ("Create", "Update", "Delete")
EVENT_TYPES = ("PriceDelta",)


class WebhookSetupError(Exception):
    """Registering or testing the webhook failed; the message is for the admin."""


def _spark_client(organization: Organization) -> tuple[spark.SparkClient, Connection, CallLog]:
    connection = Connection.objects.filter(
        organization=organization, platform=Platform.SPARK, enabled=True
    ).first()
    if connection is None or not connection.has_credentials:
        raise WebhookSetupError("Connect Volue Spark first (client id and secret).")
    log = CallLog()
    return client_for(connection, log), connection, log


def register_webhook(
    organization: Organization,
    operations: Iterable[str] = OPERATIONS,
    event_types: Iterable[str] = EVENT_TYPES,
) -> WebhookEndpoint:
    """Register (or re-register, with a new secret) the organization's Spark webhook."""
    from .http import UpstreamError

    client, connection, log = _spark_client(organization)
    endpoint = WebhookEndpoint.objects.filter(
        organization=organization, platform=Platform.SPARK
    ).first()
    if endpoint is None:
        endpoint = WebhookEndpoint(organization=organization, platform=Platform.SPARK)
    secret = secrets.token_urlsafe(32)
    endpoint.set_secret(secret)
    endpoint.operations = list(operations)
    endpoint.event_types = list(event_types)
    endpoint.save()  # the token (and so the URL) exists before Spark hears of it
    try:
        endpoint.remote_id = client.register_webhook(
            endpoint.url, secret, endpoint.operations, endpoint.event_types
        )
    except UpstreamError as exc:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(last_error=str(exc))
        raise WebhookSetupError(f"Spark refused the webhook: {exc}") from exc
    finally:
        log.save(connection)
    endpoint.registered_at = timezone.now()
    endpoint.last_error = ""
    endpoint.save()
    return endpoint


def send_test_event(organization: Organization) -> None:
    """Ask Spark to send a signed test event to the registered URL."""
    from .http import UpstreamError

    endpoint = WebhookEndpoint.objects.filter(
        organization=organization, platform=Platform.SPARK
    ).first()
    if endpoint is None or not endpoint.remote_id:
        raise WebhookSetupError("Register the webhook first.")
    client, connection, log = _spark_client(organization)
    try:
        client.test_webhook(endpoint.remote_id)
    except UpstreamError as exc:
        raise WebhookSetupError(f"Spark could not send the test: {exc}") from exc
    finally:
        log.save(connection)


@dataclass
class Receipt:
    """How the receiver answers a delivery."""

    status: int
    message: str


def receive(endpoint: WebhookEndpoint, body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify, store once, queue. The signature is checked on the raw bytes, before any parsing."""
    if not spark.verify_signature(body, endpoint.secret, headers):
        return Receipt(401, "missing or wrong signature")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Receipt(400, "the body is not JSON")
    if not isinstance(data, dict):
        return Receipt(400, "the body is not a JSON object")
    notification_id = data.get("notificationId") or data.get("eventId")
    if not isinstance(notification_id, str) or not notification_id:
        return Receipt(400, "the body has no notificationId or eventId")
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else {}
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                organization_id=endpoint.organization_id,
                endpoint=endpoint,
                notification_id=notification_id[:200],
                event_id=str(data.get("eventId") or "")[:200],
                event_type=str(data.get("eventType") or payload.get("payloadType") or "")[:100],
                notification_type=str(data.get("notificationType") or "")[:100],
                operation=str(data.get("operation") or "")[:20],
                body=data,
            )
            transaction.on_commit(lambda: _enqueue(event.pk))
    except IntegrityError:
        # Spark retries deliveries: a repeat is acknowledged and otherwise ignored.
        WebhookEvent.objects.filter(
            endpoint=endpoint, notification_id=notification_id[:200]
        ).update(deliveries=F("deliveries") + 1)
        return Receipt(200, "already received")
    return Receipt(202, "accepted")


def _enqueue(event_id: int) -> None:
    from .tasks import process_webhook_event

    process_webhook_event.delay(event_id)


def process_event(event_id: int) -> None:
    """Link the event to the customers and meters it names (by their Spark ids)."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None or event.processed_at:
        return
    payload = event.body.get("payload") if isinstance(event.body.get("payload"), dict) else {}
    targets = payload.get("targets") if isinstance(payload.get("targets"), list) else []
    user_ids = {str(t["userId"]) for t in targets if isinstance(t, dict) and t.get("userId")}
    meter_ids = {str(t["meterId"]) for t in targets if isinstance(t, dict) and t.get("meterId")}

    def local_ids(model: type, remote_ids: set[str]) -> list[int]:
        return list(
            UpstreamLink.objects.filter(
                organization_id=event.organization_id,
                platform=Platform.SPARK,
                content_type=ContentType.objects.get_for_model(model),
                remote_id__in=remote_ids,
            ).values_list("object_id", flat=True)
        )

    with transaction.atomic():
        meters = Meter.objects.filter(
            organization_id=event.organization_id, pk__in=local_ids(Meter, meter_ids)
        )
        customer_ids = set(local_ids(Customer, user_ids)) | {
            meter.home.customer_id for meter in meters
        }
        event.customers.set(
            Customer.objects.filter(organization_id=event.organization_id, pk__in=customer_ids)
        )
        event.meters.set(meters)
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
