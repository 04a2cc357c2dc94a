"""Device kinds and their own fields: the one place to read or extend them.

Why a validated JSON document per kind (`Device.details`) rather than a details model per kind:
a portfolio holds 100,000 devices of seven kinds, and the list pages, imports and sync engine read
them all the same way. One table keeps the list a single indexed query with no joins, lets a new
kind (or a field the platforms add) arrive without a migration, and keeps every rule here, where a
form, the CSV import, the admin and the payload builders all read it. The price is that the database
does not type-check `details`; `validate_details()` does, on every write path (services call it).

The choices of the enum fields come from devices/vocabulary.py, the one place they are kept
(WattCarbon's values, docs/upstreams/wattcarbon.md: the platform publishes no full lists).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypedDict

from django import forms
from django.db import models

from .vocabulary import (
    BUILDING_TYPES,
    EXTERNAL_REGISTRIES,
    HEATING_BACKUP_SYSTEMS,
    INVERTER_DATA_SOURCES,
    PREVIOUS_FUELS,
)


class DeviceKind(models.TextChoices):
    """What a device is. Each kind has its own fields in KINDS below."""

    SOLAR = "solar", "Solar"
    ELECTRIFICATION = "electrification", "Heat pump / electrification"
    BATTERY = "battery", "Battery"
    VEHICLE = "vehicle", "Vehicle"
    HOT_WATER_TANK = "hot_water_tank", "Hot water tank"
    EV_CHARGER = "ev_charger", "EV charger"
    DEMAND_RESPONSE = "demand_response", "Demand response"


# The enum lists (the seed shows one value of each; the rest is our assumption) live in
# devices/vocabulary.py; the kinds WattCarbon takes, in integrations/vocabulary/wattcarbon.py.
EIA_REQUIRED_ABOVE_KW = Decimal("1000")


@dataclass(frozen=True)
class KindField:
    """One kind-specific field: its type, limits and the platforms' name for it."""

    name: str
    label: str
    type: str  # decimal | integer | boolean | choice | text | watts_list | event_list | vin | year
    required: bool = False
    choices: list[tuple[str, str]] | None = None
    default: Any = None
    min_value: Decimal | int | None = None
    max_value: Decimal | int | None = None
    help_text: str = ""
    upstream_name: str = ""  # WattCarbon's camelCase name, where its contract has the field


@dataclass(frozen=True)
class Kind:
    """A device kind: its label and fields."""

    value: str
    label: str
    fields: tuple[KindField, ...] = field(default_factory=tuple)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


def _d(value: str) -> Decimal:
    return Decimal(value)


KINDS: dict[str, Kind] = {
    DeviceKind.SOLAR: Kind(
        DeviceKind.SOLAR,
        "Solar",
        (
            KindField(
                "nameplate_capacity_kw",
                "Nameplate capacity (kW DC)",
                "decimal",
                required=True,
                min_value=_d("0.001"),
                max_value=_d("1000000"),
                upstream_name="nameplateCapacityKw",
            ),
            KindField(
                "inverter_data_source",
                "Inverter data source",
                "choice",
                choices=INVERTER_DATA_SOURCES,
                upstream_name="inverterDataSource",
            ),
            KindField(
                "inverter_data_id", "Inverter data id", "text", upstream_name="inverterDataId"
            ),
            KindField(
                "external_registry_name",
                "External registry",
                "choice",
                choices=EXTERNAL_REGISTRIES,
                upstream_name="externalRegistryName",
            ),
            KindField(
                "external_registry_device_id",
                "External registry device id",
                "text",
                upstream_name="externalRegistryDeviceId",
            ),
            KindField(
                "eia_plant_id",
                "EIA plant id",
                "text",
                help_text="Required above 1,000 kW.",
                upstream_name="eiaPlantId",
            ),
            KindField(
                "system_size_kw",
                "System size (kW AC)",
                "decimal",
                min_value=_d("0.001"),
                max_value=_d("1000000"),
                help_text="For WattShift; defaults to the nameplate capacity.",
            ),
            KindField(
                "net_metered",
                "Net metered",
                "boolean",
                default=True,
                help_text="Exports are credited at the retail rate.",
            ),
        ),
    ),
    DeviceKind.ELECTRIFICATION: Kind(
        DeviceKind.ELECTRIFICATION,
        "Heat pump / electrification",
        (
            KindField(
                "area_sqft",
                "Conditioned area (sq ft)",
                "decimal",
                min_value=_d("1"),
                max_value=_d("1000000"),
                upstream_name="areaSqft",
            ),
            KindField(
                "previous_fuel",
                "Previous fuel",
                "choice",
                choices=PREVIOUS_FUELS,
                upstream_name="previousFuel",
            ),
            KindField(
                "replaces_furnace",
                "Replaces a furnace",
                "boolean",
                default=False,
                upstream_name="replacesFurnace",
            ),
            KindField(
                "replaces_water_heater",
                "Replaces a water heater",
                "boolean",
                default=False,
                upstream_name="replacesWaterHeater",
            ),
            KindField(
                "cold_climate",
                "Cold-climate heat pump",
                "boolean",
                default=False,
                upstream_name="coldClimate",
            ),
            KindField(
                "effective_useful_life_years",
                "Effective useful life (years)",
                "integer",
                default=15,
                min_value=1,
                max_value=50,
                upstream_name="effectiveUsefulLifeYears",
            ),
            KindField(
                "building_type",
                "Building type",
                "choice",
                choices=BUILDING_TYPES,
                upstream_name="buildingType",
            ),
            KindField(
                "heating_backup_system",
                "Heating backup system",
                "choice",
                choices=HEATING_BACKUP_SYSTEMS,
                upstream_name="heatingBackupSystem",
            ),
            KindField(
                "heat_pump_hspf",
                "Heat pump HSPF",
                "decimal",
                min_value=_d("1"),
                max_value=_d("20"),
                upstream_name="heatPumpHspf",
            ),
            KindField(
                "water_heater_uef",
                "Water heater UEF",
                "decimal",
                min_value=_d("0.1"),
                max_value=_d("6"),
                upstream_name="waterHeaterUef",
            ),
        ),
    ),
    DeviceKind.BATTERY: Kind(
        DeviceKind.BATTERY,
        "Battery",
        (
            KindField(
                "capacity_kwh",
                "Capacity (kWh)",
                "decimal",
                required=True,
                min_value=_d("0.1"),
                max_value=_d("1000000"),
            ),
            KindField(
                "power_kw",
                "Power (kW)",
                "decimal",
                required=True,
                min_value=_d("0.1"),
                max_value=_d("1000000"),
            ),
        ),
    ),
    DeviceKind.VEHICLE: Kind(
        DeviceKind.VEHICLE,
        "Vehicle",
        (
            KindField("brand", "Brand", "text", required=True),
            KindField("model", "Model", "text", required=True),
            KindField("year", "Model year", "year", required=True, min_value=1990),
            KindField(
                "vin",
                "VIN",
                "vin",
                required=True,
                help_text="17 characters; the check digit is verified.",
            ),
            KindField(
                "battery_capacity_kwh",
                "Battery capacity (kWh)",
                "decimal",
                min_value=_d("1"),
                max_value=_d("500"),
            ),
        ),
    ),
    DeviceKind.HOT_WATER_TANK: Kind(
        DeviceKind.HOT_WATER_TANK,
        "Hot water tank",
        (
            KindField("brand", "Brand", "text", required=True),
            KindField("model", "Model", "text", required=True),
            KindField(
                "capacity_l",
                "Capacity (litres)",
                "decimal",
                required=True,
                min_value=_d("1"),
                max_value=_d("100000"),
            ),
            KindField(
                "heating_elements_w",
                "Heating elements (W)",
                "watts_list",
                required=True,
                help_text="One power per element, comma-separated, e.g. 2000, 2000.",
            ),
        ),
    ),
    DeviceKind.EV_CHARGER: Kind(
        DeviceKind.EV_CHARGER,
        "EV charger",
        (
            KindField(
                "power_kw",
                "Power (kW)",
                "decimal",
                required=True,
                min_value=_d("0.1"),
                max_value=_d("1000"),
            ),
        ),
    ),
    DeviceKind.DEMAND_RESPONSE: Kind(
        DeviceKind.DEMAND_RESPONSE,
        "Demand response",
        (
            KindField("program_name", "Program", "text"),
            KindField(
                "max_reduction_kw",
                "Largest reduction (kW)",
                "decimal",
                min_value=_d("0"),
                max_value=_d("1000000"),
            ),
            KindField(
                "events",
                "Events",
                "event_list",
                help_text=(
                    "One event a line (or separated by ;): start/end in ISO 8601 with the UTC "
                    "offset, e.g. 2025-07-01T17:00-05:00/2025-07-01T20:00-05:00. WattCarbon's "
                    "current profile sends them as the asset's demand-response events document."
                ),
            ),
        ),
    ),
}

MAX_EVENTS = 2000


# --- VIN -------------------------------------------------------------------------------------------
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_error(vin: str) -> str | None:
    """Why `vin` is not a valid 17-character VIN (ISO 3779 with the North American check digit)."""
    vin = vin.strip().upper()
    if len(vin) != 17:
        return f"A VIN has 17 characters; this one has {len(vin)}."
    bad = sorted({c for c in vin if c not in _VIN_VALUES})
    if bad:
        return f"A VIN cannot contain {', '.join(bad)} (I, O and Q are never used)."
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    expected = "X" if total % 11 == 10 else str(total % 11)
    if vin[8] != expected:
        return f"The check digit (9th character) should be {expected}: a character is mistyped."
    return None


# --- events (demand response) ---------------------------------------------------------------------
def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not an ISO 8601 date and time.") from None
    if instant.utcoffset() is None:
        raise ValueError(f"{text.strip()!r} has no UTC offset (e.g. -05:00 or Z).")
    return instant


def clean_events(raw: Any) -> list[list[str]]:
    """Events as stored: [[start, end], ...] (ISO 8601 with offsets), in time order, each ending
    after it starts, none twice. Text takes one `start/end` a line or separated by `;`."""
    if isinstance(raw, list | tuple):
        items = [item if isinstance(item, str) else "/".join(map(str, item)) for item in raw]
    else:
        items = str(raw).replace(";", "\n").splitlines()
    events: list[tuple[datetime, datetime]] = []
    for number, item in enumerate((text for text in items if text.strip()), start=1):
        start_text, slash, end_text = item.partition("/")
        if not slash:
            raise ValueError(f"Event {number}: write it as start/end.")
        try:
            start, end = _instant(start_text), _instant(end_text)
        except ValueError as exc:
            raise ValueError(f"Event {number}: {exc}") from None
        if end <= start:
            raise ValueError(f"Event {number}: it ends before it starts.")
        events.append((start, end))
    if len(events) > MAX_EVENTS:
        raise ValueError(f"At most {MAX_EVENTS:,} events.")
    events.sort(key=lambda event: event[0])
    for before, after in itertools.pairwise(events):
        if after[0] < before[1]:
            raise ValueError(f"The events starting {before[0]:%Y-%m-%d %H:%M} overlap.")
    return [[start.isoformat(), end.isoformat()] for start, end in events]


# --- validation -------------------------------------------------------------------------------------
def _clean_value(spec: KindField, raw: Any) -> Any:
    """One field's value in its stored form; raises ValueError with a message for the user."""
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"true", "1", "yes", "y", "on"}:
            return True
        if text in {"false", "0", "no", "n", "off"}:
            return False
        raise ValueError("Enter true or false.")
    if spec.type in {"decimal", "integer", "year"}:
        try:
            number = Decimal(str(raw).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError("Enter a number.") from None
        if not number.is_finite():
            raise ValueError("Enter a number.")
        if spec.type in {"integer", "year"} and number != number.to_integral_value():
            raise ValueError("Enter a whole number.")
        maximum = spec.max_value if spec.type != "year" else date.today().year + 2
        if spec.min_value is not None and number < spec.min_value:
            raise ValueError(f"Must be at least {spec.min_value}.")
        if maximum is not None and number > maximum:
            raise ValueError(f"Must be at most {maximum}.")
        # Stored as JSON numbers: int for whole-number types, else a float of the decimal text.
        return int(number) if spec.type in {"integer", "year"} else float(number)
    if spec.type == "choice":
        value = str(raw).strip()
        allowed = [v for v, _ in spec.choices or []]
        if value not in allowed:
            raise ValueError(f"Choose one of: {', '.join(allowed)}.")
        return value
    if spec.type == "event_list":
        return clean_events(raw)
    if spec.type == "vin":
        value = str(raw).strip().upper()
        error = vin_error(value)
        if error:
            raise ValueError(error)
        return value
    if spec.type == "watts_list":
        items = raw if isinstance(raw, list | tuple) else str(raw).replace(";", ",").split(",")
        watts = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise ValueError(f"{text!r} is not a power in W.") from None
            if not number.is_finite() or number <= 0 or number > 100000:
                raise ValueError(f"{text} W is not a plausible element power.")
            watts.append(int(number))
        if not watts:
            raise ValueError("Enter at least one element power in W.")
        return watts
    value = str(raw).strip()
    if len(value) > 200:
        raise ValueError("At most 200 characters.")
    return value


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == []


def validate_details(kind: str, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean a kind's details: (cleaned, errors by field name). Unknown names are errors."""
    spec = KINDS.get(kind)
    if spec is None:
        return {}, {"kind": f"Unknown kind {kind!r}. Choose one of: {', '.join(KINDS)}."}
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = set(spec.field_names())
    for name in raw:
        if name not in known:
            errors[name] = f"{spec.label} devices have no field {name!r}."
    for f in spec.fields:
        value = raw.get(f.name)
        if _is_empty(value):
            if f.required:
                errors[f.name] = f"{f.label} is required for {spec.label.lower()} devices."
            elif f.default is not None:
                cleaned[f.name] = f.default
            continue
        try:
            cleaned[f.name] = _clean_value(f, value)
        except ValueError as exc:
            errors[f.name] = str(exc)
    if kind == DeviceKind.SOLAR and "nameplate_capacity_kw" in cleaned:
        above = Decimal(str(cleaned["nameplate_capacity_kw"])) > EIA_REQUIRED_ABOVE_KW
        if above and not cleaned.get("eia_plant_id"):
            errors["eia_plant_id"] = "An EIA plant id is required above 1,000 kW."
    return cleaned, errors


# --- forms ----------------------------------------------------------------------------------------------
class _FieldOptions(TypedDict):
    """The options every kind field's form field takes."""

    label: str
    required: bool
    help_text: str


def form_field(spec: KindField) -> forms.Field:
    """The Django form field for one kind field (validation proper happens in validate_details)."""
    common: _FieldOptions = {
        "label": spec.label,
        "required": spec.required,
        "help_text": spec.help_text,
    }
    if spec.type == "boolean":
        return forms.BooleanField(label=spec.label, required=False, help_text=spec.help_text)
    if spec.type == "choice":
        return forms.ChoiceField(choices=[("", "—"), *(spec.choices or [])], **common)
    if spec.type == "event_list":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    if spec.type in {"decimal", "integer", "year"}:
        return forms.DecimalField(
            min_value=spec.min_value,
            max_value=spec.max_value if spec.type != "year" else None,
            decimal_places=None if spec.type == "decimal" else 0,
            **common,
        )
    return forms.CharField(max_length=200, **common)


def form_initial(kind: str, details: dict[str, Any]) -> dict[str, Any]:
    """Form initial values for stored details (lists shown comma-separated)."""
    initial = {}
    for f in KINDS[kind].fields:
        value = details.get(f.name, f.default)
        if f.type == "event_list" and isinstance(value, list):
            initial[f.name] = "\n".join("/".join(event) for event in value)
        else:
            initial[f.name] = ", ".join(str(v) for v in value) if isinstance(value, list) else value
    return initial


def display_details(kind: str, details: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs for a detail page, in the kind's field order."""
    rows = []
    for f in KINDS[kind].fields:
        value = details.get(f.name)
        if value is None or value == "":
            continue
        if f.choices:
            value = dict(f.choices).get(value, value)
        elif f.type == "event_list" and isinstance(value, list):
            if not value:
                continue
            first, last = value[0][0].replace("T", " "), value[-1][1].replace("T", " ")
            value = f"{len(value):,} event{'s' if len(value) != 1 else ''}, {first} to {last}"
        elif isinstance(value, list):
            value = ", ".join(f"{v:,} W" for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        elif isinstance(value, float) and value.is_integer():
            value = int(value)  # 1800.0 sq ft reads as 1800
        rows.append((f.label, value))
    return rows
