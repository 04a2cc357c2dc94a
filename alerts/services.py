"""The writes of alerts: the periodic check (raise, refresh, resolve), acknowledging, the
organization's thresholds, members' email choices and unsubscribing, and telling people by email
(at once or in a daily digest; one delivery row per alert and person, so never twice)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.models import Membership, Organization, User
from portal.queue import enqueue
from readings.models import Series

from . import emails
from .conditions import conditions_of, no_data_key
from .models import (
    DEFAULT_MODE,
    UNRESOLVED,
    Alert,
    AlertDelivery,
    AlertKind,
    AlertSettings,
    AlertState,
    NotificationMode,
    NotificationPreference,
)

log = logging.getLogger(__name__)

# Emails speak of recent alerts: one raised before this (or before the person joined) is on the
# alerts page, not in a new member's or a re-subscribed member's inbox.
EMAIL_LOOKBACK = timedelta(days=2)
UNSUBSCRIBE_SALT = "alerts.unsubscribe"


@dataclass(frozen=True)
class CheckOutcome:
    """What one check of one organization did."""

    raised: int
    resolved: int
    unresolved: int
    emails: int


def settings_for(organization: Organization) -> AlertSettings:
    """The organization's thresholds (the defaults, unsaved, until an admin changes them)."""
    found = AlertSettings.objects.filter(organization=organization).first()
    return found or AlertSettings(organization=organization)


def check_organization(organization: Organization, *, now: datetime | None = None) -> CheckOutcome:
    """Find the organization's conditions now: open an alert for each new one (the unique
    constraint makes a concurrent check's insert of the same condition a no-op), refresh the ones
    still there, resolve those gone; then email the members who want it at once."""
    now = now or timezone.now()
    found = conditions_of(organization, settings_for(organization), now)
    with transaction.atomic():
        unresolved = unresolved_alerts(organization)
        new = [
            Alert(
                organization=organization,
                kind=condition.kind,
                key=key,
                title=condition.title[:300],
                detail=condition.detail,
                url=condition.url[:300],
                opened_at=now,
                last_seen_at=now,
            )
            for key, condition in found.items()
            if key not in unresolved
        ]
        Alert.objects.bulk_create(new, ignore_conflicts=True)
        seen = []
        for key, alert in unresolved.items():
            condition = found.get(key)
            if condition is None:
                continue
            seen.append(alert.pk)
            text = (condition.title[:300], condition.detail, condition.url[:300])
            if text != (alert.title, alert.detail, alert.url):
                Alert.objects.filter(pk=alert.pk).update(title=text[0], detail=text[1], url=text[2])
        Alert.objects.filter(pk__in=seen).update(last_seen_at=now)
        gone = [alert.pk for key, alert in unresolved.items() if key not in found]
        resolved = Alert.objects.filter(pk__in=gone, state__in=UNRESOLVED).update(
            state=AlertState.RESOLVED, resolved_at=now
        )
    sent = notify_immediately(organization, now=now)
    return CheckOutcome(len(new), resolved, len(found), sent)


def unresolved_alerts(organization: Organization) -> dict[str, Alert]:
    """The organization's open and acknowledged alerts, by condition key."""
    return {
        alert.key: alert
        for alert in Alert.objects.filter(organization=organization, state__in=UNRESOLVED)
    }


def check_all(*, now: datetime | None = None) -> list[tuple[Organization, CheckOutcome]]:
    """The beat's check: every organization, one after the other."""
    return [
        (organization, check_organization(organization, now=now))
        for organization in Organization.objects.order_by("pk")
    ]


def queue_check(organization_id: int) -> None:
    """Check an organization soon (a worker, or here and now when tasks run eagerly)."""
    try:
        enqueue("alerts.tasks.check_organization", organization_id)
    except BrokerUnavailable:
        log.warning("Broker unavailable: alerts of organization %s checked here.", organization_id)
        check_organization(Organization.objects.get(pk=organization_id))


def on_readings_changed(sender: type[Series], series: Series, **kwargs: Any) -> None:
    """``readings_changed`` receiver: when the series has an unresolved "no data" alert, check
    the organization again once the readings are committed, so the alert resolves as soon as the
    missing days are uploaded (other stores cost one indexed lookup)."""
    waiting = Alert.objects.filter(
        organization_id=series.organization_id,
        key=no_data_key(series.pk),
        state__in=UNRESOLVED,
    ).exists()
    if waiting:
        organization_id = series.organization_id
        transaction.on_commit(lambda: queue_check(organization_id))


@transaction.atomic
def acknowledge_alert(alert: Alert, user: User) -> bool:
    """Someone is on it: an open alert becomes acknowledged (it still resolves by itself)."""
    return bool(
        Alert.objects.filter(pk=alert.pk, state=AlertState.OPEN).update(
            state=AlertState.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user
        )
    )


@transaction.atomic
def save_alert_settings(alert_settings: AlertSettings) -> AlertSettings:
    """Store an organization's thresholds (a validated AlertSettingsForm's instance)."""
    alert_settings.full_clean()
    alert_settings.save()
    return alert_settings


def modes_of(membership: Membership) -> dict[str, str]:
    """The member's choice for every kind of alert."""
    chosen = dict(
        NotificationPreference.objects.filter(membership=membership).values_list("kind", "mode")
    )
    return {kind: chosen.get(kind, DEFAULT_MODE) for kind in AlertKind.values}


@transaction.atomic
def set_notification_modes(membership: Membership, modes: dict[str, str]) -> None:
    """A member's email choices, kind by kind (kinds left out are unchanged)."""
    for kind, mode in modes.items():
        if kind not in AlertKind.values or mode not in NotificationMode.values:
            raise ValueError(f"{kind!r} by {mode!r} is not a choice.")
        NotificationPreference.objects.update_or_create(
            membership=membership, kind=kind, defaults={"mode": mode}
        )


def unsubscribe_token(membership: Membership, kinds: Iterable[str]) -> str:
    """A signed token that stops these emails for this member without signing in."""
    return signing.dumps({"m": membership.pk, "k": sorted(set(kinds))}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(token: str) -> tuple[Membership, list[str]] | None:
    """The membership and kinds a token names; None when it is forged, or the membership gone."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    membership = (
        Membership.objects.select_related("user", "organization").filter(pk=data.get("m")).first()
    )
    kinds = [kind for kind in data.get("k", []) if kind in AlertKind.values]
    return (membership, kinds) if membership is not None else None


def unsubscribe(membership: Membership, kinds: Iterable[str]) -> None:
    set_notification_modes(membership, dict.fromkeys(kinds, NotificationMode.NONE))


def notify_immediately(organization: Organization, *, now: datetime | None = None) -> int:
    """Email each member who wants it at once the open alerts they have not been told of, one
    email per member and check. Returns the emails sent."""
    now = now or timezone.now()
    sent = 0
    memberships = Membership.objects.filter(
        organization=organization, user__is_active=True
    ).select_related("user", "organization")
    for membership in memberships:
        kinds = [
            k for k, mode in modes_of(membership).items() if mode == NotificationMode.IMMEDIATE
        ]
        alerts = Alert.objects.filter(state=AlertState.OPEN)
        sent += _deliver(membership, alerts, kinds, NotificationMode.IMMEDIATE, now)
    return sent


def send_digests(*, now: datetime | None = None) -> int:
    """The daily digest: each member who chose it for some kind gets one email with the alerts of
    those kinds they have not been told of (resolved ones too, saying so); nothing on a day
    without any. Returns the emails sent."""
    now = now or timezone.now()
    sent = 0
    membership_ids = (
        NotificationPreference.objects.filter(mode=NotificationMode.DIGEST)
        .values_list("membership_id", flat=True)
        .distinct()
    )
    memberships = Membership.objects.filter(
        pk__in=membership_ids, user__is_active=True
    ).select_related("user", "organization")
    for membership in memberships:
        kinds = [k for k, mode in modes_of(membership).items() if mode == NotificationMode.DIGEST]
        sent += _deliver(membership, Alert.objects.all(), kinds, NotificationMode.DIGEST, now)
    return sent


def _deliver(
    membership: Membership, alerts: Any, kinds: list[str], mode: str, now: datetime
) -> int:
    """Claim (one delivery row each, the membership locked so two runs queue) and email the
    member's undelivered recent alerts of `kinds`. 1 when an email went, 0 when none was due."""
    if not kinds:
        return 0
    since = max(membership.created_at, now - EMAIL_LOOKBACK)
    with transaction.atomic():
        Membership.objects.select_for_update().filter(pk=membership.pk).first()
        due = list(
            alerts.filter(
                organization=membership.organization, kind__in=kinds, opened_at__gte=since
            )
            .exclude(deliveries__user=membership.user)
            .order_by("opened_at", "pk")
        )
        if not due:
            return 0
        claimed = AlertDelivery.objects.bulk_create(
            [AlertDelivery(alert=alert, user=membership.user, mode=mode) for alert in due]
        )
    message = emails.alerts_email(
        membership,
        due,
        digest=mode == NotificationMode.DIGEST,
        unsubscribe_token=unsubscribe_token(membership, {alert.kind for alert in due}),
    )
    delivered = AlertDelivery.objects.filter(pk__in=[delivery.pk for delivery in claimed])
    try:
        message.send()
    except OSError as exc:  # SMTP refused or unreachable: recorded, never retried (never twice)
        log.warning("alert email to %s failed: %s", membership.user.email, exc)
        delivered.update(error=str(exc)[:500])
        return 0
    delivered.update(sent_at=timezone.now())
    return 1
