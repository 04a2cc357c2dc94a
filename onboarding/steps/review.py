"""Step 6: the review of everything entered, by step, each with its Edit button; its submit
button is Create."""

from __future__ import annotations

from typing import Any

from django import forms

from devices.kinds import display_details
from homes.models import ACType

from ..forms import DeviceStepForm


class ReviewForm(forms.Form):
    """The review step has no fields: its submit button is Create."""


def review_sections(
    *,
    place: dict[str, Any],
    plan: dict[str, Any],
    home: dict[str, Any],
    solar: DeviceStepForm | None,
    heat_pump: DeviceStepForm | None,
) -> list[dict[str, Any]]:
    """Everything entered, by step (`step` and `rows`): the cleaned data of the steps, the device
    steps' forms when valid (None otherwise)."""
    location = ", ".join(p for p in (place.get("city"), place.get("state")) if p)
    address = ", ".join(p for p in (home.get("street"), home.get("city"), home.get("state")) if p)
    water = {True: "yes", False: "no", None: "don't know"}[home.get("has_electric_water_heater")]
    return [
        {
            "step": "zip",
            "rows": [
                ("Zip code", place.get("zip_code", "")),
                ("Place", location or "Not in the zip code table"),
                (
                    "Time zone",
                    place.get("timezone")
                    or f"{place.get('fallback_timezone')} (the organization's)",
                ),
            ],
        },
        {
            "step": "plan",
            "rows": [
                ("Utility", plan.get("utility", "")),
                ("Rate plan", plan.get("rate_plan", "")),
            ],
        },
        {
            "step": "home",
            "rows": [
                *_customer_rows(home),
                ("Home", home.get("name", "")),
                ("Address", address or "—"),
                ("Appliances", ", ".join(_appliances(home)) or "none listed"),
                ("Electric water heater", water),
            ],
        },
        {"step": "solar", "rows": device_rows(solar)},
        {"step": "heat_pump", "rows": device_rows(heat_pump)},
    ]


def _customer_rows(home: dict[str, Any]) -> list[tuple[str, Any]]:
    if home.get("customer_mode") == "existing" and home.get("customer"):
        return [("Customer", f"{home['customer'].name} (existing)")]
    return [
        ("Customer", f"{home.get('customer_name', '')} (new)"),
        ("Email", home.get("customer_email") or "—"),
        ("Phone", home.get("customer_phone") or "—"),
    ]


def _appliances(home: dict[str, Any]) -> list[str]:
    appliances = [
        label
        for key, label in (
            ("has_ev_charger", "EV charger"),
            ("has_electric_heater", "electric heater"),
            ("has_smart_water_heater", "smart water heater"),
        )
        if home.get(key)
    ]
    if home.get("has_ac"):
        appliances.append(f"AC ({ACType(home['ac_type']).label.lower()})")
    return appliances


def device_rows(form: DeviceStepForm | None) -> list[tuple[str, Any]]:
    """A device step's rows: its name, custom id, the kind's details and the date, or "No …"."""
    if form is None or not form.is_on:
        return [("", f"No {form.default_name.lower() if form else 'device'}")]
    data = form.cleaned_data
    rows: list[tuple[str, Any]] = [
        ("Device name", data.get("device_name") or form.default_name),
        ("Custom id", data.get("custom_id") or "generated on Create"),
    ]
    # Details are stored as JSON numbers: 1800.0 reads better as 1800.
    rows += [
        (label, int(value) if isinstance(value, float) and value.is_integer() else value)
        for label, value in display_details(form.kind, form.details)
    ]
    if data.get("commenced_operation_date"):
        rows.append(("Commenced operation", data["commenced_operation_date"]))
    return rows
