"""Devices of every kind; interval readings and their uploads live beside them."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse

from homes.models import Home, Meter
from portal.tenancy import OrgOwned

from .kinds import KINDS, DeviceKind, display_details, validate_details

custom_id_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$",
    "Use letters, digits and . _ : / - (starting with a letter or digit), at most 100 characters.",
)


class DeviceStatus(models.TextChoices):
    """Where a device is in its life."""

    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DECOMMISSIONED = "decommissioned", "Decommissioned"


class Device(OrgOwned):
    """One physical device at a home: its kind, and its kind's own fields in `details`."""

    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="devices")
    meter = models.ForeignKey(
        Meter, on_delete=models.SET_NULL, null=True, blank=True, related_name="devices"
    )
    name = models.CharField(max_length=200)
    custom_id = models.CharField(
        "custom id",
        max_length=100,
        validators=[custom_id_validator],
        help_text="Your stable id for this device, unique in your organization (WattCarbon's customId).",
    )
    kind = models.CharField(max_length=20, choices=DeviceKind.choices)
    commenced_operation_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=DeviceStatus.choices, default=DeviceStatus.ACTIVE
    )
    owner_name = models.CharField(
        max_length=200, blank=True, help_text="Defaults to the home's customer."
    )
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(
                "organization",
                Lower("custom_id"),
                name="unique_device_custom_id_per_org",
                violation_error_message="Another device in your organization has this custom id.",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "name", "id"]),
            models.Index(fields=["organization", "kind"]),
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["home"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.custom_id})"

    def get_absolute_url(self) -> str:
        return reverse("device_detail", args=[self.pk])

    def clean(self) -> None:
        """Validate the kind's own fields (every write path saves through full_clean)."""
        errors: dict[str, list[str]] = {}
        if self.kind:
            self.details, detail_errors = validate_details(self.kind, self.details or {})
            labels = (
                {f.name: f.label for f in KINDS[self.kind].fields} if self.kind in KINDS else {}
            )
            messages = [f"{labels.get(name, name)}: {msg}" for name, msg in detail_errors.items()]
            if messages:
                errors["details"] = messages
        if (
            self.meter_id
            and self.home_id
            and self.meter is not None
            and self.meter.home_id != self.home_id
        ):
            errors["meter"] = ["This meter belongs to another home."]
        if errors:
            raise ValidationError(errors)

    @property
    def kind_spec(self):
        return KINDS[self.kind]

    @property
    def effective_owner_name(self) -> str:
        return self.owner_name or self.home.customer.name

    @property
    def details_display(self) -> list[tuple[str, object]]:
        return display_details(self.kind, self.details)

    @property
    def nameplate_kw(self) -> float | None:
        value = self.details.get("nameplate_capacity_kw")
        return float(value) if value is not None else None


class SeriesQuantity(models.TextChoices):
    """What a series measures; the sign convention follows WattCarbon (positive = generation or savings)."""

    GENERATION = "generation", "Generation / savings"
    CONSUMPTION = "consumption", "Consumption"


class Series(OrgOwned):
    """The hourly kWh readings of one device (generation or savings) or one meter (consumption)."""

    device = models.OneToOneField(
        Device, on_delete=models.CASCADE, null=True, blank=True, related_name="series"
    )
    meter = models.OneToOneField(
        Meter, on_delete=models.CASCADE, null=True, blank=True, related_name="series"
    )
    quantity = models.CharField(max_length=20, choices=SeriesQuantity.choices)
    first_instant = models.DateTimeField(null=True, blank=True)
    last_instant = models.DateTimeField(null=True, blank=True)
    reading_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(device__isnull=False, meter__isnull=True)
                | models.Q(device__isnull=True, meter__isnull=False),
                name="series_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"Readings of {self.owner}"

    @property
    def owner(self) -> Device | Meter:
        owner = self.device if self.device_id else self.meter
        assert owner is not None, "a series has a device or a meter (series_has_one_owner)"
        return owner

    @property
    def timezone(self) -> str:
        return self.owner.home.timezone or self.organization.timezone


class Reading(models.Model):
    """One hourly value (kWh) of a series at a UTC instant: the big table, keyed by (series, instant)."""

    pk = models.CompositePrimaryKey("series_id", "instant")
    # No database foreign key and no index of its own: the primary key (series, instant) serves
    # every lookup, and checking the key row by row doubled the cost of loading new data (bench/ingest).
    # Writes go only through devices.readings.store_readings (which locks the series); deletes
    # cascade through Django after waiting for a running store (lock_series_before_delete).
    series = models.ForeignKey(
        Series,
        on_delete=models.CASCADE,
        related_name="readings",
        db_index=False,
        db_constraint=False,
    )
    instant = models.DateTimeField(help_text="Start of the hour, UTC.")
    value_kwh = models.FloatField()

    class Meta:
        ordering = ["series", "instant"]

    def __str__(self) -> str:
        return f"{self.instant:%Y-%m-%d %H:%M}Z {self.value_kwh} kWh"


class UploadStatus(models.TextChoices):
    """Where an uploaded file stands."""

    PREVIEW = "preview", "Checked, waiting for confirmation"
    PROCESSING = "processing", "Processing"
    STORED = "stored", "Stored"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (never confirmed)"
    DISCARDED = "discarded", "Discarded"


# An upload in one of these holds a file in DATA_DIR/uploads/ (its ``stored_file``) until it is
# stored, discarded or expired: what the per-organization cap counts and the expiry sweep removes.
PENDING_STATUSES = (UploadStatus.PREVIEW, UploadStatus.PROCESSING, UploadStatus.FAILED)


class Upload(OrgOwned):
    """A file of readings someone uploaded: who, when, what it held and what became of it."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="uploads")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    first_instant = models.DateTimeField(null=True, blank=True)
    last_instant = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=UploadStatus.choices, default=UploadStatus.PREVIEW
    )
    report = models.JSONField(default=dict, blank=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, while processing.")
    stored_file = models.CharField(
        max_length=300, blank=True, help_text="Where the file waits for confirmation."
    )
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(fields=["status", "updated_at"]),  # the expiry sweep, the cap
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display().lower()})"
