"""Devices of every kind, each at a home and optionally on a meter."""

from __future__ import annotations

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
