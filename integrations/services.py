"""Write operations on connections, links and webhooks: the one write surface of the views, the
commands and the tasks of integrations (the engine's own writes stay in engine.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from devices.models import Device
from portal.models import Organization
from portal.records import save_record

from . import crypto, engine, profiles, webhooks
from .clients import CallLog, build_client, forget_clients
from .http import UpstreamClient, UpstreamError
from .models import (
    CREDENTIAL_LABELS,
    ChargeReport,
    Connection,
    EnergyUsageReport,
    LinkState,
    Platform,
    UpstreamLink,
    WebhookEndpoint,
    WebhookEvent,
)

CREDENTIALS_FOLLOW_HOST = (
    "The address changed, so the stored credentials were not kept: enter them again "
    "(a secret is only ever sent to the address it was entered for)."
)


def save_connection(
    connection: Connection, *, username: str = "", password: str = "", api_key: str = ""
) -> Connection:
    """Save a connection; credentials given replace the stored ones, blanks keep them (write-only).

    Stored credentials follow their host: when the base URL's (or Spark token URL's) origin
    changes, the old secrets are dropped and new ones are required, so nobody can send a secret
    someone else entered to an address of their choosing.

    Links the platform paused because it refused the credentials (Wattics streams) resume: saving
    the connection is how a person says "try these again".
    """
    with transaction.atomic():
        stored = Connection.objects.select_for_update().filter(pk=connection.pk).first()
        moved = stored is not None and stored.upstream_hosts() != connection.upstream_hosts()
        switched = stored is not None and stored.profile != connection.profile
        if moved:
            missing = {}
            if CREDENTIAL_LABELS[connection.platform][0] is not None and not username:
                missing["username"] = CREDENTIALS_FOLLOW_HOST
            if not (password or api_key):
                missing["password"] = CREDENTIALS_FOLLOW_HOST
            if missing:
                raise ValidationError(missing)
            connection.credentials_encrypted = ""
            connection.last_auth_at = None
            connection.last_auth_error = ""
        if username or password or api_key:
            current = connection.credentials if connection.credentials_encrypted else {}
            connection.set_credentials(
                username=username or current.get("username", ""),
                password=password or current.get("password", ""),
                api_key=api_key or current.get("api_key", ""),
            )
        connection.full_clean()
        connection.save()
        if switched:
            # Every linked record is sent again in the new profile's shape (integrations/profiles.py).
            profiles.switch_links(connection)
        if connection.enabled:
            # Records that existed before the connection go upstream too.
            engine.ensure_links(connection.organization_id, connection.platform, connection.profile)
            _resume_links_paused_for_credentials(connection)
    forget_clients()
    return connection


def plan_profile_switch(connection: Connection, profile: str) -> profiles.SwitchPlan:
    """What saving `connection` with `profile` would do to its links (read only)."""
    return profiles.plan_switch(connection, profile)


def _resume_links_paused_for_credentials(connection: Connection) -> None:
    """Unpause the connection's links paused for refused credentials (never those a person
    paused) and queue them: each starts again from its own cursor."""
    paused = UpstreamLink.objects.filter(
        organization_id=connection.organization_id,
        platform=connection.platform,
        paused_for_credentials=True,
    )
    ids = list(paused.values_list("pk", flat=True))
    UpstreamLink.objects.filter(pk__in=ids).update(
        paused=False,
        paused_for_credentials=False,
        state=LinkState.PENDING,
        next_attempt_at=None,
        attempts=0,
    )
    for link_id in ids:
        engine.enqueue(link_id)


@dataclass
class ConnectionCheck:
    """The answer of a "Test connection": whether the platform let us in, in its own words."""

    ok: bool
    message: str


def test_connection(connection: Connection) -> ConnectionCheck:
    """Perform the platform's authentication and report the upstream's answer."""
    log = CallLog()
    client = build_client(connection, on_call=log)
    try:
        message = _authenticate(client, connection.platform)
    except UpstreamError as exc:
        ok, message = False, str(exc)
    else:
        ok = True
    finally:
        client.close()
    log.save(connection)
    values = (
        {"last_auth_at": timezone.now(), "last_auth_error": ""}
        if ok
        else {"last_auth_error": message}
    )
    Connection.objects.filter(pk=connection.pk).update(**values)
    return ConnectionCheck(ok, message)


def _authenticate(client: UpstreamClient, platform: str) -> str:
    from .spark import SparkClient
    from .wattcarbon import WattCarbonClient
    from .wattics import WatticsClient
    from .wattshift import WattShiftClient

    if platform == Platform.WATTCARBON:
        assert isinstance(client, WattCarbonClient)
        token = client.create_token()
        return f"Signed in: a {token.get('token_type', 'bearer')} token was issued."
    if platform == Platform.SPARK:
        assert isinstance(client, SparkClient)
        client.access_token()
        return "Signed in: the token endpoint issued a client-credentials token."
    if platform == Platform.WATTSHIFT:
        assert isinstance(client, WattShiftClient)
        utilities = client.get_utilities("95313")
        return f"The API key works: {len(utilities)} utilit{'y' if len(utilities) == 1 else 'ies'} listed for 95313."
    if platform == Platform.WATTICS:
        assert isinstance(client, WatticsClient)
        client.last_packet("gridfolio-connection-test")
        return "The credentials work: the measurements endpoint answered."
    raise ValueError(platform)


def create_charge_report(
    *,
    vehicle: Device,
    event: WebhookEvent | None,
    name: str,
    action: str,
    power_w: int,
    state_of_charge: float,
    battery_capacity_wh: int,
) -> ChargeReport:
    """Record a VehicleChargeAction report; the engine sends it to Spark once the vehicle is there."""
    report = ChargeReport(
        organization_id=vehicle.organization_id,
        vehicle=vehicle,
        event=event,
        name=name,
        action=action,
        power_w=power_w,
        state_of_charge=state_of_charge,
        battery_capacity_wh=battery_capacity_wh,
    )
    return save_record(report)


# --- links in doubt (engine.py, "Creates happen once") -------------------------------------------
# A person's answer settles the lost create: the link is queued again, its create note cleared.
_OUT_OF_DOUBT: dict[str, Any] = {
    "state": LinkState.PENDING,
    "create_sent_at": None,
    "create_payload": {},
    "attempts": 0,
    "next_attempt_at": None,
    "last_error": "",
    "last_status_code": None,
}


def adopt_remote_id(link: UpstreamLink, remote_id: str) -> bool:
    """A person found the record of an in-doubt link on its platform: the link takes its id.

    The link is settled by the engine as any other (it holds what the lost create sent, so a
    change made since is sent as an update where the platform has one). False when the link is
    no longer in doubt (someone answered first): nothing changes.
    """
    remote_id = remote_id.strip()
    if not remote_id:
        raise ValidationError({"remote_id": "Enter the id the platform shows for the record."})
    with transaction.atomic():
        held = UpstreamLink.objects.select_for_update().filter(pk=link.pk, state=LinkState.IN_DOUBT)
        current = held.first()
        if current is None:
            return False
        held.update(
            remote_id=remote_id,
            payload_hash=engine.payload_hash(current.create_payload),
            **_OUT_OF_DOUBT,
        )
        engine.enqueue(link.pk)
    return True


def create_again(link: UpstreamLink) -> bool:
    """A person found no record of an in-doubt link on its platform: the engine creates it anew.
    False when the link is no longer in doubt: nothing changes."""
    with transaction.atomic():
        changed = UpstreamLink.objects.filter(pk=link.pk, state=LinkState.IN_DOUBT).update(
            remote_id="", payload_hash="", **_OUT_OF_DOUBT
        )
        if changed:
            engine.enqueue(link.pk)
    return bool(changed)


# --- links: the board's buttons and `manage.py sync_now` ----------------------------------------
def pause_link(link: UpstreamLink) -> None:
    """Send nothing for this link until a person resumes it."""
    UpstreamLink.objects.filter(pk=link.pk).update(paused=True)


def resume_link(link: UpstreamLink) -> None:
    """Lift a pause (a person's, or the refused credentials') and queue the link now."""
    with transaction.atomic():
        UpstreamLink.objects.filter(pk=link.pk).update(paused=False, paused_for_credentials=False)
        engine.retry_links([link.pk])


def retry_links(link_ids: Iterable[int]) -> int:
    """Put failed, rejected or waiting links back in the queue now ("Sync now", "Retry")."""
    return engine.retry_links(link_ids)


def sync_now(organization_id: int | None = None) -> dict[str, int]:
    """Run all due work in this process; counts of links by state."""
    return engine.sync_now(organization_id)


# --- Spark webhooks (webhooks.py holds the protocol) ---------------------------------------------
def register_spark_webhook(
    organization: Organization,
    operations: Iterable[str] = webhooks.OPERATIONS,
    event_types: Iterable[str] = webhooks.EVENT_TYPES,
    notification_types: Iterable[str] = webhooks.NOTIFICATION_TYPES,
) -> WebhookEndpoint:
    """Register (or re-register, with a new secret) the organization's Spark webhook, in the
    shape of its connection's profile (operations and event types: quickstart; notification
    types: current)."""
    return webhooks.register_webhook(organization, operations, event_types, notification_types)


def send_spark_test_event(organization: Organization, simulation: str = "pricecurve") -> None:
    """Ask Spark to send a signed event to the registered URL (the quickstart's test call, or
    the current profile's `simulation` call)."""
    webhooks.send_test_event(organization, simulation)


def create_energy_usage_report(
    *, device: Device, event: WebhookEvent | None, start: datetime, end: datetime
) -> EnergyUsageReport:
    """Record an EnergyUsage report of the device's readings in [start, end) (UTC); the engine
    sends it to Spark (current profile) once the device is there."""
    report = EnergyUsageReport(
        organization_id=device.organization_id, device=device, event=event, start=start, end=end
    )
    return save_record(report)


def receive_spark_delivery(
    endpoint: WebhookEndpoint, body: bytes, headers: Mapping[str, str]
) -> webhooks.Receipt:
    """Verify a delivery, store it once and queue its processing."""
    return webhooks.receive(endpoint, body, headers)


def process_webhook_event(event_id: int) -> None:
    """Link a received event to our customers and meters (the task's one call)."""
    webhooks.process_event(event_id)


# --- credentials at rest --------------------------------------------------------------------------
WEBHOOK_SECRET_FIELDS = (
    "secret_encrypted",
    "candidate_secret_encrypted",
    "previous_secret_encrypted",
)


def rotate_credentials() -> tuple[int, int]:
    """Re-encrypt every stored credential and webhook secret with the first FIELD_ENCRYPTION_KEY;
    (connections, webhooks) re-encrypted."""
    connections = 0
    for connection in Connection.objects.exclude(credentials_encrypted=""):
        Connection.objects.filter(pk=connection.pk).update(
            credentials_encrypted=crypto.rotate(connection.credentials_encrypted)
        )
        connections += 1
    endpoints = 0
    for endpoint in WebhookEndpoint.objects.all():
        # Each field only if unchanged since read: a registration may promote a secret meanwhile.
        for field in WEBHOOK_SECRET_FIELDS:
            value = getattr(endpoint, field)
            if value:
                WebhookEndpoint.objects.filter(pk=endpoint.pk, **{field: value}).update(
                    **{field: crypto.rotate(value)}
                )
        endpoints += 1
    return connections, endpoints
