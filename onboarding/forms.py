"""The device step the solar and heat-pump steps build on: a "has one" toggle, the kind's own
fields, a date, a name and a custom id (unique in the organization, checked on every step)."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.kinds import KINDS, form_field, validate_details
from devices.models import Device, custom_id_validator
from portal.models import Organization
from portal.widgets import IsoDateInput

CUSTOM_ID_TAKEN = "Another device in your organization has this custom id."


def custom_id_field(default_hint: str) -> forms.CharField:
    return forms.CharField(
        label="Custom id",
        max_length=100,
        required=False,
        validators=[custom_id_validator],
        help_text=f"Your stable id for this device (WattCarbon's customId). Leave blank to get {default_hint}.",
    )


def custom_id_taken(organization: Organization, custom_id: str) -> bool:
    return Device.objects.filter(organization=organization, custom_id__iexact=custom_id).exists()


class DeviceStepForm(forms.Form):
    """A device step: a "has one" toggle, the kind's own fields, a date, a name and a custom id.

    When the toggle is off, the rest of the step is ignored rather than validated: it may hold
    what was typed before the user changed their mind, and it is kept for when they change it back.
    """

    kind: str
    toggle_name: str
    default_name: str
    default_custom_id_hint: str

    commenced_operation_date = forms.DateField(
        label="Commenced operation",
        required=False,
        widget=IsoDateInput(),
        help_text="WattCarbon ignores readings before this date.",
    )
    device_name = forms.CharField(label="Device name", max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        organization: Organization,
        taken_custom_ids: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.taken_custom_ids = {value.lower() for value in taken_custom_ids or set()}
        self.kind_field_names: list[str] = []
        for spec in KINDS[self.kind].fields:
            self.fields[spec.name] = form_field(spec)
            if spec.default is not None:
                self.fields[spec.name].initial = spec.default
            self.kind_field_names.append(spec.name)
        self.fields["custom_id"] = custom_id_field(self.default_custom_id_hint)
        self.fields["device_name"].widget.attrs["placeholder"] = self.default_name
        # Drawn by hand as a Bootstrap switch (templates/onboarding/_device_header.html).
        self.fields[self.toggle_name].widget.attrs.update(
            {"class": "form-check-input", "role": "switch"}
        )
        self.details: dict[str, Any] = {}

    @property
    def is_on(self) -> bool:
        return bool(self.cleaned_data.get(self.toggle_name))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not data.get(self.toggle_name):
            for name in [n for n in self.errors if n != self.toggle_name]:
                del self.errors[name]
            return {self.toggle_name: False}
        derived_from_missing = self.prepare_details(data)
        raw = {name: data.get(name) for name in self.kind_field_names}
        self.details, errors = validate_details(self.kind, raw)
        for name, message in errors.items():
            if name in self.fields and name not in self.errors and name not in derived_from_missing:
                self.add_error(name, message)
        custom_id = (data.get("custom_id") or "").strip()
        if custom_id and "custom_id" not in self.errors:
            if custom_id.lower() in self.taken_custom_ids:
                self.add_error(
                    "custom_id", "The solar array of this home already has this custom id."
                )
            elif custom_id_taken(self.organization, custom_id):
                self.add_error("custom_id", CUSTOM_ID_TAKEN)
        return data

    def prepare_details(self, data: dict[str, Any]) -> set[str]:
        """Fill in what the kind's fields can derive before validation (subclasses); the names
        of fields left empty because what they derive from is missing (already an error)."""
        return set()

    def device(self) -> dict[str, Any] | None:
        """What `onboard_home()` takes for this device, or None when the toggle is off."""
        if not self.is_on:
            return None
        return {
            "name": self.cleaned_data.get("device_name", ""),
            "custom_id": self.cleaned_data.get("custom_id", ""),
            "commenced_operation_date": self.cleaned_data.get("commenced_operation_date"),
            "details": self.details,
        }

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.kind_field_names]
