"""Alerts: a condition found by the periodic check (data stopped, a platform refusing something),
raised once while it lasts, and who was told about it by email."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from portal.models import Membership, Organization
from portal.tenancy import OrgOwned


class AlertKind(models.TextChoices):
    """What an alert is about; members choose how they hear of each kind."""

    NO_DATA = "no_data", "No new readings"
    SYNC_PROBLEM = "sync_problem", "Record not in sync upstream"
    WATTICS_BEHIND = "wattics_behind", "Wattics stream behind"
    SPARK_SILENT = "spark_silent", "No Spark webhook deliveries"
    UPLOAD_WAITING = "upload_waiting", "Upload waiting for confirmation"
    CREDENTIALS = "credentials", "Platform credentials refused"


class AlertState(models.TextChoices):
    """Open until someone acknowledges it or the condition clears (resolved by the check)."""

    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


UNRESOLVED = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


class Alert(OrgOwned):
    """One occurrence of a condition, from the check that found it until the check that no longer does."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    key = models.CharField(
        max_length=200,
        help_text="The condition, e.g. no_data:series:12 (one unresolved alert each).",
    )
    state = models.CharField(max_length=12, choices=AlertState.choices, default=AlertState.OPEN)
    title = models.CharField(max_length=300)
    detail = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="The record's page.")
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(help_text="The last check that found the condition.")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            # Raised once: two checks at the same time cannot both open the same condition.
            models.UniqueConstraint(
                fields=["organization", "key"],
                condition=Q(state__in=["open", "acknowledged"]),
                name="one_unresolved_alert_per_condition",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "state", "kind"]),
            models.Index(fields=["organization", "-opened_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_state_display().lower()})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("alert_detail", args=[self.pk])

    @property
    def is_resolved(self) -> bool:
        return self.state == AlertState.RESOLVED


class AlertSettings(models.Model):
    """An organization's thresholds for the conditions (one row, created with the defaults)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="alert_settings"
    )
    no_data_days = models.PositiveSmallIntegerField(
        "days without new readings",
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Alert when an active device's or a meter's last reading is older than this.",
    )
    wattics_behind_hours = models.PositiveSmallIntegerField(
        "hours a Wattics stream may be behind",
        default=6,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
    )
    spark_silence_days = models.PositiveSmallIntegerField(
        "days without a Spark delivery",
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="After the webhook's registration, or its last delivery.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alert settings"

    def __str__(self) -> str:
        return f"Alert settings of {self.organization}"


class NotificationMode(models.TextChoices):
    """How a member hears of one kind of alert."""

    IMMEDIATE = "immediate", "Email at once"
    DIGEST = "digest", "Daily digest"
    NONE = "none", "No email"


DEFAULT_MODE = NotificationMode.IMMEDIATE


class NotificationPreference(models.Model):
    """A member's choice for one kind of alert (no row: DEFAULT_MODE)."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="alert_preferences"
    )
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    mode = models.CharField(max_length=10, choices=NotificationMode.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "kind"], name="one_preference_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.membership.user}: {self.kind} by {self.mode}"


class AlertDelivery(models.Model):
    """One alert told to one person (by an immediate email or in a digest): never twice."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(max_length=10, choices=NotificationMode.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="one_delivery_per_alert_user")
        ]
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.alert} to {self.user} ({self.mode})"
