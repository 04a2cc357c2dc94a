"""The current Spark emulator's reading of the published schemas (swagger `components.schemas`).

Every schema sets `additionalProperties: false`, so a property it does not define is refused (a
400), at any depth. Enums are PascalCase and matched exactly. The published API answers a 400 in
one of two shapes depending on the endpoint: a bare JSON string, or problem+json
(`HttpValidationProblemDetails`); `refusal()` writes either, naming each field by its JSON path.
This module is the emulator's own reading: it imports nothing from the client.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from integrations.sandbox.base import Response

PROBLEM_JSON = "application/problem+json"
STRING = "string"  # a 400 whose body is a bare JSON string
PROBLEM = "problem"  # a 400 whose body is problem+json

LOCATION_TYPES = ("Unknown", "Residential", "Commercial", "Other")
RESOURCE_TYPES = ("Generic", "Vehicle", "Charger", "HotWaterTank", "HVAC", "SolarInverter")
NOTIFICATION_TYPES = (
    "Unknown",
    "PriceCurveCreated",
    "UserEligibilityUpdated",
    "LocationLPCRequested",
    "ResourceLPCRequested",
    "LPCReservationCreated",
)
PRICE_AREAS = (
    "Unknown",
    "NO1",
    "NO2",
    "NO3",
    "NO4",
    "NO5",
    "FI",
    "DK1",
    "DK2",
    "SE1",
    "SE2",
    "SE3",
    "SE4",
)
CURRENCIES = ("NOK", "EUR", "SEK", "DKK")
ENERGY_UNITS = ("kWh", "MWh")
REPORT_PAYLOAD_TYPES = (
    "EnergyUsage",
    "LocationEnergyUsage",
    "LocationEnergyUsagePlan",
    "ResourceLPCAcknowledgement",
    "LocationLPCAcknowledgement",
)
# The location and LPC report types are open to invited partners only (docs.voluespark.com,
# "reports"): the sandbox partner may send EnergyUsage alone.
OPEN_REPORT_PAYLOAD_TYPES = ("EnergyUsage",)

# A schema: {"type": ..., "properties": {...}, "required": [...], "items": ..., "enum": [...],
# "format": "date-time" | "time-span", "nullable": bool}.
Schema = dict[str, Any]


def _obj(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required)}


def _str(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def _enum(values: tuple[str, ...], **extra: Any) -> Schema:
    return {"type": "string", "enum": list(values), **extra}


def _array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


NUMBER: Schema = {"type": "number"}
DATE_TIME = _str(format="date-time")
TIME_SPAN = _str(format="time-span")
COORDINATE = {**_obj({"latitude": NUMBER, "longitude": NUMBER}), "nullable": True}

POST_USER = _obj({"userId": _str()}, ("userId",))
LOCATION_FIELDS: dict[str, Schema] = {
    "locationId": _str(),
    "locationType": _enum(LOCATION_TYPES, nullable=True),
    "coordinates": COORDINATE,
    "meterPointId": _str(nullable=True),  # deprecated, still accepted
    "meterPointIds": _array(_str(), nullable=True),
}
POST_LOCATION = _obj(LOCATION_FIELDS, ("locationId",))
PUT_LOCATION = _obj(LOCATION_FIELDS, ("locationId",))
PATCH_LOCATION = _obj(
    {
        "locationType": LOCATION_FIELDS["locationType"],
        "coordinates": COORDINATE,
        "meterPointIds": LOCATION_FIELDS["meterPointIds"],
    }
)
POST_VEHICLE = _obj(
    {"resourceId": _str(), "resourceType": _enum(RESOURCE_TYPES)}, ("resourceId", "resourceType")
)
POST_LOCATION_RESOURCE = _obj(
    {
        "resourceId": _str(),
        "resourceType": _enum(RESOURCE_TYPES),
        "meterPointId": _str(nullable=True),
    },
    ("resourceId", "resourceType"),
)
WEBHOOK_FIELDS: dict[str, Schema] = {
    "name": _str(nullable=True),
    "webhookSecret": _str(nullable=True),
    "webhookUrl": _str(),
    "notificationTypes": _array(_enum(NOTIFICATION_TYPES)),
    "enabled": {"type": "boolean"},
}
POST_WEBHOOK = _obj(
    {
        key: WEBHOOK_FIELDS[key]
        for key in ("name", "webhookSecret", "webhookUrl", "notificationTypes")
    },
    ("webhookUrl",),
)
PUT_WEBHOOK = _obj(WEBHOOK_FIELDS, ("webhookUrl",))
PATCH_WEBHOOK = _obj({key: {**schema, "nullable": True} for key, schema in WEBHOOK_FIELDS.items()})
PRICE_CURVE = _obj(
    {
        "points": _array(_obj({"price": NUMBER, "timestamp": DATE_TIME})),
        "energyUnit": _enum(ENERGY_UNITS),
        "currency": _enum(CURRENCIES),
        "resolution": TIME_SPAN,
    }
)
PRICE_CURVE_TARGET = _obj(
    {"resourceId": _str(), "locationId": _str()}, ("locationId", "resourceId")
)
SIMULATE_PRICE_CURVE = _obj(
    {
        "targets": _array(PRICE_CURVE_TARGET, nullable=True),
        "priceCurveDelta": PRICE_CURVE,
        "priceArea": _enum(PRICE_AREAS),
    }
)
LPC_POINTS = _array(_obj({"maxPowerInKiloWatts": NUMBER, "timestamp": DATE_TIME}), nullable=True)
SIMULATE_LOCATION_LPC = _obj(
    {
        "locations": _array(
            _obj(
                {
                    "location": _obj({"locationId": _str(), "meterPointId": _str()}),
                    "points": LPC_POINTS,
                }
            ),
            nullable=True,
        )
    }
)
SIMULATE_RESOURCE_LPC = _obj(
    {
        "resources": _array(
            _obj(
                {
                    "resource": _obj(
                        {"locationId": _str(), "resourceId": _str(), "meterPointId": _str()}
                    ),
                    "points": LPC_POINTS,
                }
            ),
            nullable=True,
        )
    }
)
ENERGY_POINT = _obj(
    {"timestamp": DATE_TIME, "kiloWattHours": NUMBER}, ("kiloWattHours", "timestamp")
)
ENERGY_USAGE = _obj(
    {
        "payloadType": _enum(REPORT_PAYLOAD_TYPES),
        "resourceId": _str(),
        "locationId": _str(nullable=True),
        "meterPointId": _str(nullable=True),
        "points": _array(ENERGY_POINT),
        "resolution": TIME_SPAN,
        "curvePoints": _array(ENERGY_POINT, nullable=True),  # deprecated
    },
    ("resolution", "resourceId"),
)
POST_REPORT = _obj({"eventId": _str(nullable=True), "payloads": _array({"type": "object"})})

_TIME_SPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d{1,7})?$")


class Errors:
    """Messages by JSON path (`$` for the body itself)."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path or "$", []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)


def check(value: Any, schema: Schema, errors: Errors, path: str = "") -> None:
    """Record in `errors` every way `value` breaks `schema` (objects: no property undefined)."""
    if value is None:
        if not schema.get("nullable"):
            errors.add(path, "Must not be null.")
        return
    kind = schema.get("type")
    if kind == "object":
        if not isinstance(value, dict):
            errors.add(path, "Must be an object.")
            return
        properties: dict[str, Schema] = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.add(_join(path, key), f"The {key} field is required.")
        if properties or schema.get("required"):
            for key, item in value.items():
                if key not in properties:
                    errors.add(_join(path, key), "Unknown property (additionalProperties: false).")
                else:
                    check(item, properties[key], errors, _join(path, key))
    elif kind == "array":
        if not isinstance(value, list):
            errors.add(path, "Must be an array.")
            return
        for index, item in enumerate(value):
            check(item, schema["items"], errors, f"{path}[{index}]")
    elif kind == "string":
        _check_string(value, schema, errors, path)
    elif kind == "number":
        if not _is_number(value):
            errors.add(path, "Must be a number.")
    elif kind == "boolean" and not isinstance(value, bool):
        errors.add(path, "Must be true or false.")


def _check_string(value: Any, schema: Schema, errors: Errors, path: str) -> None:
    if not isinstance(value, str):
        errors.add(path, "Must be a string.")
        return
    if "enum" in schema and value not in schema["enum"]:
        errors.add(path, f"Must be one of: {', '.join(schema['enum'])}.")
    elif schema.get("format") == "date-time" and parse_instant(value) is None:
        errors.add(path, "Must be a date-time with an offset (ISO 8601).")
    elif schema.get("format") == "time-span" and time_span_s(value) is None:
        errors.add(path, "Must be a time span such as 01:00:00.")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def parse_instant(value: str) -> datetime | None:
    """An ISO 8601 instant with its offset (`Z` or ±hh:mm), else None."""
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


def time_span_s(value: str) -> float | None:
    """A .NET time span (`[d.]hh:mm:ss[.fffffff]`) in seconds, else None."""
    match = _TIME_SPAN.match(value)
    if not match or int(match.group(3)) > 59 or int(match.group(4)) > 59:
        return None
    days, hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def message(errors: Errors) -> str:
    """The errors as one line, each field named: what a bare-string 400 says."""
    return "; ".join(f"{path}: {' '.join(texts)}" for path, texts in errors.fields.items())


def refusal(errors: Errors, style: str) -> Response:
    """A 400 in the endpoint's published shape."""
    if style == STRING:
        return Response.json(400, message(errors))
    body = {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors.fields,
    }
    return Response.json(400, body, content_type=PROBLEM_JSON)


def refuse(path: str, text: str, style: str) -> Response:
    errors = Errors()
    errors.add(path, text)
    return refusal(errors, style)
