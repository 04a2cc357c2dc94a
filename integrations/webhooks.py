"""Spark webhooks: registering the organization's receiving URL, receiving signed deliveries, and
processing them (in a task) into events linked to our customers and meters."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from devices.models import Device
from homes.models import Customer, Home, Meter
from portal.models import Organization

from . import queue, spark
from .clients import CallLog, client_for
from .models import Connection, Platform, Profile, UpstreamLink, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
OPERATIONS = ("Create", "Update", "Delete")
EVENT_TYPES = ("PriceDelta",)
NOTIFICATION_TYPES = spark.NOTIFICATION_TYPES  # the current profile subscribes to these


class WebhookSetupError(Exception):
    """Registering or testing the webhook failed; the message is for the admin."""


def _spark_client(organization: Organization) -> tuple[spark.SparkClient, Connection, CallLog]:
    connection = Connection.objects.filter(
        organization=organization, platform=Platform.SPARK, enabled=True
    ).first()
    if connection is None or not connection.has_credentials:
        raise WebhookSetupError("Connect Volue Spark first (client id and secret).")
    log = CallLog()
    client = client_for(connection, log)
    assert isinstance(client, spark.SparkClient)  # a Spark connection's client
    return client, connection, log


def register_webhook(
    organization: Organization,
    operations: Iterable[str] = OPERATIONS,
    event_types: Iterable[str] = EVENT_TYPES,
    notification_types: Iterable[str] = NOTIFICATION_TYPES,
) -> WebhookEndpoint:
    """Register (or re-register, with a new secret) the organization's Spark webhook.

    The new secret waits as the candidate until Spark accepts the registration: a refusal leaves
    the current registration and secret exactly as they were, with the error shown. On success
    the candidate becomes current, the previous secret stays accepted for
    SPARK_WEBHOOK_SECRET_GRACE_S, and the previous registration is removed upstream.

    The connection's profile chooses the call: quickstart `{url, operations, eventTypes}`, current
    `{webhookUrl, webhookSecret, name, notificationTypes}` (docs/upstreams/spark.md).
    """
    from .http import UpstreamError

    client, connection, log = _spark_client(organization)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint, _ = WebhookEndpoint.objects.select_for_update().get_or_create(
            organization=organization, platform=Platform.SPARK
        )
        endpoint.set_candidate_secret(secret)
        endpoint.rotation_started_at = timezone.now()
        # The token (and so the URL) exists before Spark hears of it.
        endpoint.save(update_fields=["candidate_secret_encrypted", "rotation_started_at"])
    candidate = endpoint.candidate_secret_encrypted
    profile = connection.profile
    if profile == Profile.CURRENT:
        operations, event_types = [], list(notification_types)
    else:
        operations, event_types = list(operations), list(event_types)
    try:
        try:
            if profile == Profile.CURRENT:
                payload = spark.webhook_payload(
                    url=endpoint.url,
                    secret=secret,
                    name=f"Gridfolio: {organization.name}"[:200],
                    notification_types=event_types,
                )
                remote_id = client.post_webhook(payload)
            else:
                remote_id = client.register_webhook(endpoint.url, secret, operations, event_types)
        except UpstreamError as exc:
            # Only our own candidate is dropped: another registration may have started meanwhile.
            WebhookEndpoint.objects.filter(
                pk=endpoint.pk, candidate_secret_encrypted=candidate
            ).update(candidate_secret_encrypted="", rotation_started_at=None)
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                last_error=str(exc), last_error_at=timezone.now()
            )
            if endpoint.remote_id:
                raise WebhookSetupError(
                    f"Spark refused the new registration ({exc}); the registration "
                    f"{endpoint.remote_id} and its secret still work."
                ) from exc
            raise WebhookSetupError(f"Spark refused the webhook: {exc}") from exc
        endpoint = _promote(
            endpoint.pk, secret, candidate, remote_id, operations, event_types, profile
        )
        return _remove_retired(client, endpoint)
    finally:
        log.save(connection)


def _promote(
    endpoint_pk: int,
    secret: str,
    candidate: str,
    remote_id: str,
    operations: list[str],
    event_types: list[str],
    profile: str,
) -> WebhookEndpoint:
    """Spark accepted the registration: its secret becomes current, the one before is kept for the
    grace period, and the registration before goes on the list to remove upstream."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_pk)
        now = timezone.now()
        grace_s = max(0, int(settings.SPARK_WEBHOOK_SECRET_GRACE_S))
        if endpoint.secret_encrypted and grace_s:
            endpoint.previous_secret_encrypted = endpoint.secret_encrypted
            endpoint.previous_secret_valid_until = now + timedelta(seconds=grace_s)
        else:
            endpoint.previous_secret_encrypted = ""
            endpoint.previous_secret_valid_until = None
        if endpoint.remote_id and endpoint.remote_id != remote_id:
            endpoint.retired_remote_ids = [*endpoint.retired_remote_ids, endpoint.remote_id]
        endpoint.set_secret(secret)
        endpoint.remote_id = remote_id
        endpoint.operations = operations
        endpoint.event_types = event_types
        endpoint.profile = profile
        endpoint.registered_at = now
        endpoint.last_error = ""
        endpoint.last_error_at = None
        endpoint.removal_note = ""
        if endpoint.candidate_secret_encrypted == candidate:
            endpoint.candidate_secret_encrypted = ""
            endpoint.rotation_started_at = None
        endpoint.save()
    return endpoint


def _remove_retired(client: spark.SparkClient, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Remove the earlier registrations upstream, so they stop drawing 401s once the grace period
    ends. A 404 or 405 means there is nothing to remove (a platform without the call); another
    failure keeps the id for the next registration. Every call is in the connection's history."""
    from .http import UpstreamError

    removed: set[str] = set()
    notes: list[str] = []
    for remote_id in endpoint.retired_remote_ids:
        try:
            if client.delete_webhook(remote_id):
                notes.append(f"Removed the earlier registration {remote_id} from Spark.")
            else:
                notes.append(
                    f"Spark had no registration {remote_id} to remove (404 or 405): "
                    "nothing removed."
                )
            removed.add(remote_id)
        except UpstreamError as exc:
            notes.append(
                f"Could not remove the earlier registration {remote_id} ({exc}): "
                "tried again at the next registration."
            )
    if not notes:
        return endpoint
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.retired_remote_ids = [i for i in endpoint.retired_remote_ids if i not in removed]
        endpoint.removal_note = " ".join(notes)
        endpoint.save(update_fields=["retired_remote_ids", "removal_note"])
    return endpoint


def send_test_event(organization: Organization, simulation: str = "pricecurve") -> None:
    """Have Spark send a signed event to the registered URL: quickstart `POST
    /webhooks/{id}/test`; current, which has no such call, one of the sandbox's simulation calls
    (`simulation`, a key of `spark.SIMULATIONS`), targeting this organization's own records."""
    from .http import UpstreamError

    endpoint = WebhookEndpoint.objects.filter(
        organization=organization, platform=Platform.SPARK
    ).first()
    if endpoint is None or not endpoint.remote_id:
        raise WebhookSetupError("Register the webhook first.")
    client, connection, log = _spark_client(organization)
    if endpoint.profile != connection.profile:
        raise WebhookSetupError(
            f"The webhook was registered under the {Profile(endpoint.profile).label.lower()} "
            f"profile and the connection now speaks {Profile(connection.profile).label.lower()}: "
            "register it again first."
        )
    if connection.profile == Profile.CURRENT and simulation not in spark.SIMULATIONS:
        raise WebhookSetupError(f"Unknown simulation {simulation!r}.")
    try:
        if connection.profile == Profile.CURRENT:
            client.simulate_event(simulation, simulation_body(organization, simulation))
        else:
            client.test_webhook(endpoint.remote_id)
    except UpstreamError as exc:
        raise WebhookSetupError(f"Spark could not send the test: {exc}") from exc
    finally:
        log.save(connection)


def simulation_body(organization: Organization, simulation: str) -> dict[str, Any]:
    """A simulation call's body naming this organization's records on Spark (current profile):
    its location-bound resources as a price curve's or a resource LPC's targets, its locations
    with a meter point as a location LPC's. Spark picks targets of its own when the list is
    absent, which would reach no record of ours."""
    from .adapters.spark.current import device_meter_point, location_id

    links = UpstreamLink.objects.filter(
        organization=organization, platform=Platform.SPARK, profile=Profile.CURRENT
    ).exclude(remote_id="")
    if simulation == "lpc/locations":
        homes = Home.objects.filter(
            organization=organization,
            pk__in=links.filter(content_type=ContentType.objects.get_for_model(Home)).values(
                "object_id"
            ),
        ).prefetch_related("meters")
        return {
            "locations": [
                {
                    "location": {
                        "locationId": location_id(home),
                        "meterPointId": meter.meter_point_id or meter.meter_number,
                    }
                }
                for home in homes
                for meter in list(home.meters.all())[:1]
            ]
        }
    devices = Device.objects.filter(
        organization=organization,
        pk__in=links.filter(content_type=ContentType.objects.get_for_model(Device)).values(
            "object_id"
        ),
    ).exclude(kind="vehicle")
    resource_ids = dict(
        links.filter(content_type=ContentType.objects.get_for_model(Device)).values_list(
            "object_id", "remote_id"
        )
    )
    if simulation == "pricecurve":
        return {
            "targets": [
                {"resourceId": resource_ids[d.pk], "locationId": location_id(d.home)}
                for d in devices.select_related("home")
            ]
        }
    if simulation == "lpc/resources":
        return {
            "resources": [
                {
                    "resource": {
                        "locationId": location_id(d.home),
                        "resourceId": resource_ids[d.pk],
                        "meterPointId": device_meter_point(d),
                    }
                }
                for d in devices.select_related("home", "meter")
                if device_meter_point(d)
            ]
        }
    return {}


@dataclass
class Receipt:
    """How the receiver answers a delivery."""

    status: int
    message: str


def receive(endpoint: WebhookEndpoint, body: bytes, headers: Mapping[str, str]) -> Receipt:
    """Verify, store once, queue. The signature is checked on the raw bytes, before any parsing,
    against each secret valid now (see WebhookEndpoint.verifying_secrets).

    A verified delivery is answered 200, a repeat too: the published webhook server contract
    answers 200 and Spark retries a delivery that gets anything else (docs/upstreams/spark.md).
    """
    secrets_now = endpoint.verifying_secrets(timezone.now())
    # The published API signs in `X-Payload-Signature` only; the quickstart's `Spark-Signature`
    # is no signature of a current registration.
    names = (
        spark.CURRENT_SIGNATURE_HEADERS
        if endpoint.profile == Profile.CURRENT
        else spark.SIGNATURE_HEADER_NAMES
    )
    if not any(spark.verify_signature(body, secret, headers, names) for secret in secrets_now):
        return Receipt(401, "missing or wrong signature")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return Receipt(400, "the body is not JSON")
    if not isinstance(data, dict):
        return Receipt(400, "the body is not a JSON object")
    notification_id = data.get("notificationId") or data.get("eventId")
    if not isinstance(notification_id, str) or not notification_id:
        return Receipt(400, "the body has no notificationId or eventId")
    sent_payload = data.get("payload")
    payload: dict[str, Any] = sent_payload if isinstance(sent_payload, dict) else {}
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
            transaction.on_commit(lambda: queue.enqueue(queue.PROCESS_WEBHOOK_EVENT, event.pk))
    except IntegrityError:
        # Spark retries deliveries: a repeat is acknowledged and otherwise ignored.
        WebhookEvent.objects.filter(
            endpoint=endpoint, notification_id=notification_id[:200]
        ).update(deliveries=F("deliveries") + 1)
        return Receipt(200, "already received")
    return Receipt(200, "received")


@dataclass
class NamedIds:
    """The Spark ids a delivery's payload names, by kind."""

    users: set[str]
    meters: set[str]
    resources: set[str]
    locations: set[str]


# Where the docs name the records an event concerns (docs/upstreams/spark.md, "Event deliveries"):
# the quickstart says a price event's payload "names the affected users or meters" without field
# names, so the ids it defines (`userId`, `meterId`, `vehicleId`, `resourceId`, and their lists)
# are read wherever they appear; the published API's `targets` items are `{resourceId, locationId}`
# and its UserEligibility payload lists `addedUsers` and `removedUsers`.
USER_ID_FIELDS = frozenset({"userId", "userIds", "addedUsers", "removedUsers"})
METER_ID_FIELDS = frozenset({"meterId", "meterIds"})
RESOURCE_ID_FIELDS = frozenset({"resourceId", "resourceIds", "vehicleId"})
TARGET_RESOURCE_FIELDS = frozenset({"resourceId"})
# The published API's locations (our homes, current profile): `targets[].locationId` of a price
# curve, and `locationId` in the LPC payloads' targets and their `location`/`resource` objects.
LOCATION_ID_FIELDS = frozenset({"locationId"})
MAX_PAYLOAD_DEPTH = 8


def named_ids(payload: Any) -> NamedIds:
    """The users, meters and resources `payload` names through the documented id fields.

    Inside `targets` only the documented target fields count: a `userId` or `meterId` there (the
    shape our emulator once invented) names nothing.
    """
    found = NamedIds(set(), set(), set(), set())
    stack: list[tuple[Any, int]] = [(payload, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            continue
        if isinstance(node, list):
            stack.extend((item, depth + 1) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if key == "targets":
                for target in value if isinstance(value, list) else ():
                    if isinstance(target, dict):
                        for field in TARGET_RESOURCE_FIELDS:
                            found.resources |= _ids(target.get(field))
                        for field in LOCATION_ID_FIELDS:
                            found.locations |= _ids(target.get(field))
                        for inner in ("location", "resource"):
                            if isinstance(target.get(inner), dict):
                                stack.append(({"targets": [target[inner]]}, depth + 1))
            elif key in USER_ID_FIELDS:
                found.users |= _ids(value)
            elif key in METER_ID_FIELDS:
                found.meters |= _ids(value)
            elif key in RESOURCE_ID_FIELDS:
                found.resources |= _ids(value)
            elif key in LOCATION_ID_FIELDS:
                found.locations |= _ids(value)
            elif isinstance(value, dict | list):
                stack.append((value, depth + 1))
    return found


def _ids(value: Any) -> set[str]:
    """One id or a list of ids (strings; integers tolerated), anything else ignored."""
    values = value if isinstance(value, list) else [value]
    return {
        str(item)[:200]
        for item in values
        if (isinstance(item, str) and item)
        or (isinstance(item, int) and not isinstance(item, bool))
    }


def process_event(event_id: int) -> None:
    """Link the event to the customers and meters it names (by their Spark ids): a resource
    (vehicle, tank) links its home's customer, a meter its home's customer too, a location (a
    home, current profile) its customer and its meters."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None or event.processed_at:
        return
    payload = event.body.get("payload") if isinstance(event.body.get("payload"), dict) else {}
    named = named_ids(payload)

    def local_ids(model: type, remote_ids: set[str]) -> list[int]:
        if not remote_ids:
            return []
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
            organization_id=event.organization_id, pk__in=local_ids(Meter, named.meters)
        ).select_related("home")
        homes = Home.objects.filter(
            organization_id=event.organization_id, pk__in=local_ids(Home, named.locations)
        )
        meters = meters | Meter.objects.filter(
            organization_id=event.organization_id, home__in=homes
        ).select_related("home")
        devices = Device.objects.filter(
            organization_id=event.organization_id, pk__in=local_ids(Device, named.resources)
        ).select_related("home")
        customer_ids = (
            set(local_ids(Customer, named.users))
            | {meter.home.customer_id for meter in meters}
            | {device.home.customer_id for device in devices}
            | {home.customer_id for home in homes}
        )
        event.customers.set(
            Customer.objects.filter(organization_id=event.organization_id, pk__in=customer_ids)
        )
        event.meters.set(meters.distinct())
        WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
