"""Connections to the upstream platforms, the sync state of every record there, and every call made."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from portal.tenancy import OrgOwned

from . import crypto


class Platform(models.TextChoices):
    """The four upstream platforms."""

    WATTCARBON = "wattcarbon", "WattCarbon"
    SPARK = "spark", "Volue Spark"
    WATTSHIFT = "wattshift", "WattShift"
    WATTICS = "wattics", "Wattics"


class Profile(models.TextChoices):
    """Which version of a platform's contract a connection speaks (docs/upstreams/<platform>.md)."""

    QUICKSTART = "quickstart", "Quickstart"
    CURRENT = "current", "Current"


# One line each, on the connection form and the Integrations page.
PROFILE_HELP: dict[str, str] = {
    Profile.QUICKSTART: "The contract of the platform's quickstart documents (older API versions).",
    Profile.CURRENT: "The API the platform publishes today (its current reference and guides).",
}


# What each platform calls its credential pair (the `connect` command and the form use these).
CREDENTIAL_LABELS: dict[str, tuple[str | None, str]] = {
    Platform.WATTCARBON: ("Account email", "API key"),
    Platform.SPARK: ("Client id", "Client secret"),
    Platform.WATTSHIFT: (None, "API key"),
    Platform.WATTICS: ("Username", "Password"),
}


def default_base_url(platform: str) -> str:
    urls: dict[str, str] = {
        Platform.WATTCARBON: settings.WATTCARBON_BASE_URL,
        Platform.SPARK: settings.SPARK_BASE_URL,
        Platform.WATTSHIFT: settings.WATTSHIFT_BASE_URL,
        Platform.WATTICS: settings.WATTICS_BASE_URL,
    }
    return urls[platform]


class Connection(OrgOwned):
    """An organization's account on one platform: where it is and how to sign in (encrypted)."""

    platform = models.CharField(max_length=20, choices=Platform.choices)
    base_url = models.URLField(
        "base URL", blank=True, help_text="Leave empty for the platform's default address."
    )
    token_url = models.URLField(
        "token URL", blank=True, help_text="Spark only: where client-credentials tokens are issued."
    )
    profile = models.CharField(
        max_length=12,
        choices=Profile.choices,
        default=Profile.QUICKSTART,
        help_text="Which version of the platform's API the portal speaks on this connection.",
    )
    enabled = models.BooleanField(default=True)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    last_auth_at = models.DateTimeField(null=True, blank=True)
    last_auth_error = models.TextField(blank=True)
    extra = models.JSONField(
        default=dict, blank=True, help_text="Platform settings that are not secret."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform"], name="one_connection_per_platform"
            )
        ]
        ordering = ["platform"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} ({self.organization})"

    @property
    def effective_base_url(self) -> str:
        return self.base_url or default_base_url(self.platform)

    def clean(self) -> None:
        """Only addresses the egress policy allows (integrations/egress.py): an organization admin
        types these, so they must not reach the portal's own network."""
        from .egress import check_url

        errors = {}
        if self.platform != Platform.SPARK and self.token_url:
            errors["token_url"] = "Only Spark connections have a token URL."
        for field in ("base_url", "token_url"):
            value = getattr(self, field)
            if value and field not in errors:
                try:
                    check_url(self.platform, value)
                except ValueError as exc:
                    errors[field] = str(exc)
        if self.platform == Platform.WATTCARBON:
            from .wattcarbon import paths_from

            try:
                paths_from((self.extra or {}).get("paths"))
            except ValueError as exc:
                errors["extra"] = str(exc)
        if errors:
            raise ValidationError(errors)

    @property
    def effective_token_url(self) -> str:
        """Spark's token endpoint: the connection's own, else the operator's setting."""
        return self.token_url or settings.SPARK_TOKEN_URL

    def upstream_hosts(self) -> tuple[str, str]:
        """Where this connection's credentials are sent (a change of either clears them)."""
        token = self.effective_token_url if self.platform == Platform.SPARK else ""
        return (_origin_text(self.effective_base_url), _origin_text(token))

    @property
    def uses_sandbox(self) -> bool:
        """Sandbox mode and no address of its own: served by the in-process emulator."""
        return bool(settings.INTEGRATIONS_SANDBOX) and not self.base_url

    @property
    def credentials(self) -> dict[str, Any]:
        return crypto.decrypt(self.credentials_encrypted)

    def set_credentials(self, **values: str) -> None:
        self.credentials_encrypted = crypto.encrypt({k: v for k, v in values.items() if v})

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials_encrypted)


def _origin_text(url: str) -> str:
    from .egress import origin_of

    try:
        return str(origin_of(url)) if url else ""
    except ValueError:
        return url


class LinkState(models.TextChoices):
    """Where a record stands on one platform."""

    PENDING = "pending", "Pending"
    SYNCING = "syncing", "Syncing"
    SYNCED = "synced", "Synced"
    FAILED = "failed", "Failed"  # transient errors until the retry limit: retried on demand
    REJECTED = "rejected", "Rejected"  # the platform refused it: a person must fix something
    # A create's answer was lost and the platform gives us no way to find the record: a person
    # says whether it is there (and under which id) or should be created again. Never swept.
    IN_DOUBT = "in_doubt", "In doubt"


class Unsent(models.TextChoices):
    """What of a record the platform does not have although its link is synced: nothing ("")."""

    OUT_OF_DATE = "out_of_date", "Out of date upstream"  # a change the platform cannot take
    NOT_ACCEPTED = "not_accepted", "Not sent"  # the platform's contract has no place for it


def needs_attention() -> models.Q:
    """Links a person must act on: failed (retries used up), rejected (something to fix), in doubt
    (say whether the record is there), out of date upstream (a change no call can carry), or
    paused until the connection is saved (credentials refused). One definition for the dashboard,
    the Integrations page and the lists' sync column."""
    return (
        models.Q(state__in=[LinkState.FAILED, LinkState.REJECTED, LinkState.IN_DOUBT])
        | models.Q(state=LinkState.SYNCED, unsent=Unsent.OUT_OF_DATE)
        | models.Q(paused_for_credentials=True)
    )


def retrying() -> models.Q:
    """Links on their way that met an error and will try again by themselves."""
    return (
        models.Q(state__in=[LinkState.PENDING, LinkState.SYNCING])
        & ~models.Q(last_error="")
        & ~needs_attention()
    )


class Channel(models.TextChoices):
    """What of a record goes to the platform: the record itself, its interval data, or a record
    the platform needs beside it (WattCarbon current: the device's meter, its events document)."""

    RECORD = "record", "Record"
    TIMESERIES = "timeseries", "Timeseries"
    PACKETS = "packets", "Meter packets"
    METER = "meter", "Meter"
    DOCUMENT = "document", "Document"


class UpstreamLink(OrgOwned):
    """One local record on one platform: its remote id and sync state (the outbox row)."""

    # Not columns: set on an instance by whoever uses them, absent otherwise.
    lease: datetime  # the claim a worker holds while it runs the link (engine.run_link)
    backlog: int  # a stream's readings Wattics has not acknowledged (the upstream_links tag)
    exports_held: bool  # its meter has a received channel, which Wattics is not sent (same tag)

    platform = models.CharField(max_length=20, choices=Platform.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.RECORD)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    record = GenericForeignKey("content_type", "object_id")
    remote_id = models.CharField(max_length=200, blank=True)
    profile = models.CharField(
        max_length=12,
        choices=Profile.choices,
        default=Profile.QUICKSTART,
        help_text="The profile of the connection this link last ran under (its remote id's).",
    )
    former_remote_ids = models.JSONField(
        default=dict,
        blank=True,
        help_text="Remote ids the record has under the connection's other profiles: {profile: id}.",
    )
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.PENDING)
    payload_hash = models.CharField(
        max_length=64, blank=True, help_text="Hash of what the platform last accepted."
    )
    attempts = models.PositiveIntegerField(
        default=0, help_text="Failed attempts since the last success."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    waiting_for = models.CharField(
        max_length=200, blank=True, help_text="The parent this link waits for."
    )
    parent_link = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="child_links"
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    paused_for_credentials = models.BooleanField(
        default=False,
        help_text="Paused by the engine because the platform refused the credentials; saving the "
        "connection again resumes it (a link paused by a person stays paused).",
    )
    behind_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Streams that never give up (Wattics): when the first of the failed runs in a "
        "row began; cleared once the stream has caught up.",
    )
    cursor = models.DateTimeField(
        null=True, blank=True, help_text="Streams: the last instant the platform acknowledged."
    )
    progress = models.JSONField(default=dict, blank=True)
    create_sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a create was sent whose answer we have not read (set before the call).",
    )
    create_payload = models.JSONField(
        default=dict, blank=True, help_text="What that create sent, for a person to compare."
    )
    # A synced link whose record the platform does not (fully) have: a change with no update call
    # to carry it, or a record the platform's contract does not take. The state stays synced
    # (nothing to retry); these say what is missing upstream, and the last success clears them.
    unsent = models.CharField(max_length=20, choices=Unsent.choices, blank=True)
    unsent_note = models.CharField(max_length=300, blank=True)
    unsent_changes = models.JSONField(
        default=list, blank=True, help_text="What differs: [{field, sent, current}]."
    )
    sent_payload = models.JSONField(
        null=True,
        blank=True,
        help_text="What the platform last accepted, kept where it has no update call.",
    )
    sent_fields = models.JSONField(
        default=dict,
        blank=True,
        help_text="A short hash of each field the platform last accepted: what a change changes.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "channel", "content_type", "object_id"],
                name="one_link_per_record_platform_channel",
            )
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            # The sweep's three queries (engine.due_link_ids), each a range of one of these:
            # pending links by when they are due (NULL: since they were marked, at the end) and
            # links held by a worker by when its lease ends. Partial: a hundred thousand synced
            # links add nothing to them.
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=models.Q(state="pending", paused=False),
                name="link_pending_due_idx",
            ),
            models.Index(
                fields=["claimed_until", "id"],
                condition=models.Q(state="syncing", paused=False),
                name="link_syncing_lease_idx",
            ),
            models.Index(fields=["organization", "platform", "state"]),
            models.Index(fields=["content_type", "object_id"]),
        ]
        ordering = ["platform", "channel"]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.get_channel_display().lower()} of {self.content_type.model} #{self.object_id}"

    @property
    def shown_state(self) -> str:
        """The state as pages show it: a synced link missing something upstream says what."""
        return self.unsent if self.state == LinkState.SYNCED and self.unsent else self.state

    def get_shown_state_display(self) -> str:
        if self.shown_state == self.state:
            return self.get_state_display()
        return Unsent(self.unsent).label

    @property
    def is_due(self) -> bool:
        return self.state == LinkState.PENDING and (
            self.next_attempt_at is None or self.next_attempt_at <= timezone.now()
        )


class SyncChunk(models.Model):
    """One piece of a link's interval data (a calendar month for WattCarbon) and whether it is upstream."""

    link = models.ForeignKey(UpstreamLink, on_delete=models.CASCADE, related_name="chunks")
    key = models.CharField(max_length=20)  # e.g. "2025-03"
    dirty = models.BooleanField(default=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    rows = models.PositiveIntegerField(default=0)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["link", "key"], name="one_chunk_per_key")]
        ordering = ["link", "key"]

    def __str__(self) -> str:
        return f"{self.link} {self.key}"


class SyncAttempt(models.Model):
    """One HTTP call to a platform: when, what, how it ended. No secrets, no bodies."""

    link = models.ForeignKey(
        UpstreamLink, on_delete=models.CASCADE, related_name="attempts_log", null=True, blank=True
    )
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="attempts", null=True, blank=True
    )
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    note = models.CharField(
        max_length=300,
        blank=True,
        help_text="What the call carried: created with N fields, the fields changed, readings.",
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["link", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status_code or 'no answer'}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _time_span(value: str) -> timedelta | None:
    """A .NET time span `hh:mm:ss` (as Spark writes resolutions), else None."""
    parts = value.split(":")
    if len(parts) != 3 or not all(part.split(".")[0].isdigit() for part in parts):
        return None
    hours, minutes, seconds = (float(part) for part in parts)
    span = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return span if span > timedelta(0) else None


def _webhook_token() -> str:
    import secrets

    return secrets.token_urlsafe(24)


class WebhookEndpoint(OrgOwned):
    """An organization's receiving URL for a platform's webhooks (Spark), with its signing secrets.

    A re-registration rotates the secret without a gap: the new secret waits as the candidate
    until the platform accepts the new registration, then becomes current while the one before
    stays accepted until `previous_secret_valid_until` (deliveries signed before the switch).
    """

    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.SPARK)
    token = models.CharField(max_length=64, unique=True, default=_webhook_token, editable=False)
    secret_encrypted = models.TextField(editable=False)
    candidate_secret_encrypted = models.TextField(blank=True, editable=False)
    rotation_started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the registration with the candidate secret began."
    )
    previous_secret_encrypted = models.TextField(blank=True, editable=False)
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(max_length=200, blank=True, help_text="The platform's webhook id.")
    retired_remote_ids = models.JSONField(
        default=list, blank=True, help_text="Earlier registrations still to remove upstream."
    )
    removal_note = models.TextField(
        blank=True, help_text="What became of the registration before the current one."
    )
    profile = models.CharField(
        max_length=12,
        choices=Profile.choices,
        default=Profile.QUICKSTART,
        help_text="The profile of the connection that made the registration.",
    )
    operations = models.JSONField(default=list)
    # Quickstart: the event types (PriceDelta); current: the notification types subscribed to.
    event_types = models.JSONField(default=list)
    registered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "platform"], name="one_webhook_per_platform"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} webhook of {self.organization}"

    @property
    def secret(self) -> str:
        return _decrypt_secret(self.secret_encrypted)

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = _encrypt_secret(secret)

    @property
    def candidate_secret(self) -> str:
        return _decrypt_secret(self.candidate_secret_encrypted)

    def set_candidate_secret(self, secret: str) -> None:
        self.candidate_secret_encrypted = _encrypt_secret(secret)

    @property
    def previous_secret(self) -> str:
        return _decrypt_secret(self.previous_secret_encrypted)

    @property
    def is_rotating(self) -> bool:
        return bool(self.candidate_secret_encrypted)

    def in_grace(self, now: datetime | None = None) -> bool:
        """The previous secret is still accepted."""
        until = self.previous_secret_valid_until
        return bool(self.previous_secret_encrypted and until and until > (now or timezone.now()))

    def verifying_secrets(self, now: datetime | None = None) -> list[str]:
        """Every secret a delivery may be signed with now: the current one, the candidate while
        its registration is in flight (Spark may deliver before the answer is stored), and the
        previous one during its grace period."""
        secrets = [self.secret, self.candidate_secret]
        if self.in_grace(now):
            secrets.append(self.previous_secret)
        return [secret for secret in secrets if secret]

    @property
    def url(self) -> str:
        from django.urls import reverse

        return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("spark_webhook", args=[self.token])


def _encrypt_secret(secret: str) -> str:
    return crypto.encrypt({"secret": secret}) if secret else ""


def _decrypt_secret(encrypted: str) -> str:
    return crypto.decrypt(encrypted).get("secret", "") if encrypted else ""


class WebhookEvent(OrgOwned):
    """One verified delivery from a platform, stored once per notification (the whole body kept)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="events")
    notification_id = models.CharField(max_length=200)
    event_id = models.CharField(max_length=200, blank=True)
    event_type = models.CharField(max_length=100, blank=True)
    notification_type = models.CharField(max_length=100, blank=True)
    operation = models.CharField(max_length=20, blank=True)
    body = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    process_error = models.TextField(blank=True)
    deliveries = models.PositiveIntegerField(
        default=1, help_text="How often the platform delivered it."
    )
    customers = models.ManyToManyField("homes.Customer", blank=True, related_name="spark_events")
    meters = models.ManyToManyField("homes.Meter", blank=True, related_name="spark_events")

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "notification_id"], name="one_event_per_notification"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type or self.notification_type} {self.notification_id}"

    @property
    def is_test(self) -> bool:
        return self.event_type == "Test" or self.notification_type == "WebhookTest"

    @property
    def is_price_event(self) -> bool:
        kinds = {
            self.event_type,
            self.notification_type,
            str(self.payload.get("payloadType") or ""),
        }
        return any(kind and ("PriceDelta" in kind or "PriceCurve" in kind) for kind in kinds)

    @property
    def payload(self) -> dict[str, Any]:
        payload = self.body.get("payload") if isinstance(self.body, dict) else None
        return payload if isinstance(payload, dict) else {}

    @property
    def price_points(self) -> list[dict[str, Any]]:
        points = (self._price_curve.get("points") or []) if self._price_curve else []
        return [point for point in points if isinstance(point, dict)]

    @property
    def _price_curve(self) -> dict[str, Any]:
        curve = self.payload.get("priceCurveDelta")
        return curve if isinstance(curve, dict) else {}

    @property
    def price_area(self) -> str:
        return str(self.payload.get("priceArea") or "")

    @property
    def price_currency(self) -> str:
        return str(self._price_curve.get("currency") or "")

    @property
    def price_unit(self) -> str:
        """What a price is per: `NOK/kWh`, from the curve's currency and energy unit."""
        unit = str(self._price_curve.get("energyUnit") or "")
        return f"{self.price_currency}/{unit}" if self.price_currency and unit else unit

    @property
    def targets(self) -> list[dict[str, Any]]:
        """The published payloads' `targets` (price curve, LPC), as sent."""
        targets = self.payload.get("targets")
        return [t for t in targets if isinstance(t, dict)] if isinstance(targets, list) else []

    @property
    def payload_type(self) -> str:
        return str(self.payload.get("payloadType") or "")

    @property
    def eligibility_changes(self) -> tuple[list[str], list[str]] | None:
        """A UserEligibility payload's (added users, removed users); None for other payloads."""
        added, removed = self.payload.get("addedUsers"), self.payload.get("removedUsers")
        if not isinstance(added, list) and not isinstance(removed, list):
            return None
        return (
            [str(user) for user in added] if isinstance(added, list) else [],
            [str(user) for user in removed] if isinstance(removed, list) else [],
        )

    @property
    def target_labels(self) -> list[str]:
        """Each target as `resource @ location` (either part absent when the target lacks it)."""
        labels = []
        for target in self.targets:
            resource, location = target.get("resourceId"), target.get("locationId")
            parts = [str(part) for part in (resource, location) if part]
            if parts:
                labels.append(" @ ".join(parts))
        return labels

    @property
    def period(self) -> tuple[datetime, datetime] | None:
        """The hours the event's price points cover (UTC): the first point's start to the last
        point's start plus the curve's resolution (an hour when unreadable)."""
        instants = []
        for point in self.price_points:
            try:
                instants.append(datetime.fromisoformat(str(point.get("timestamp"))))
            except ValueError:
                continue
        instants = [instant for instant in instants if instant.tzinfo is not None]
        if not instants:
            return None
        step = _time_span(str(self._price_curve.get("resolution") or "")) or timedelta(hours=1)
        return min(instants), max(instants) + step


class ChargeAction(models.TextChoices):
    """What a VehicleChargeAction report says happened."""

    START = "Start", "Start charging"
    STOP = "Stop", "Stop charging"


class ChargeReport(OrgOwned):
    """A VehicleChargeAction report to Spark about one vehicle, synced through the engine."""

    links: list[UpstreamLink]  # not a column: set for the page by the charge_reports tag

    vehicle = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="charge_reports"
    )
    event = models.ForeignKey(
        WebhookEvent, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    name = models.CharField(max_length=200)
    action = models.CharField(max_length=5, choices=ChargeAction.choices)
    power_w = models.PositiveIntegerField("power (W)")
    state_of_charge = models.FloatField(help_text="0 to 1")
    battery_capacity_wh = models.PositiveIntegerField("battery capacity (Wh)")

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_action_display()} report for {self.vehicle.name}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("device_detail", args=[self.vehicle_id])


class EnergyUsageReport(OrgOwned):
    """An EnergyUsage report to Spark (current profile): a device's stored hourly readings over a
    period, usually an event's, synced through the engine once the device is on Spark."""

    links: list[UpstreamLink]  # not a column: set for the page by the energy_reports tag

    device = models.ForeignKey(
        "devices.Device", on_delete=models.CASCADE, related_name="energy_usage_reports"
    )
    event = models.ForeignKey(
        WebhookEvent,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="energy_usage_reports",
    )
    start = models.DateTimeField(help_text="First hour reported (UTC).")
    end = models.DateTimeField(help_text="End of the last hour reported (UTC), exclusive.")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="energy_report_period"
            )
        ]

    def __str__(self) -> str:
        return f"Energy usage of {self.device.name}, {self.start:%Y-%m-%d %H:%M}Z to {self.end:%Y-%m-%d %H:%M}Z"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("device_detail", args=[self.device_id])
