"""The Spark emulator's contract checks: problem details, field checks by JSON path."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from integrations.sandbox.base import REASONS, Response

from .data import ACTION_TYPES, REPORT_PAYLOAD_TYPES

PROBLEM_JSON = "application/problem+json"
# The `type` URIs ASP.NET Core (Spark's stack) puts in its problem details.
PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
    415: "https://tools.ietf.org/html/rfc9110#section-15.5.16",
    500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
    502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
    503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
}
VALIDATION_TITLE = "One or more validation errors occurred."


def problem(status: int, *, title: str | None = None, detail: str | None = None) -> Response:
    """An RFC 9457 problem, shaped as ASP.NET Core writes it."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPES.get(status, "about:blank"),
        "title": title or REASONS.get(status, "Error"),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    return Response.json(status, body, content_type=PROBLEM_JSON)


def empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", headers or [])


class FieldErrors:
    """Validation messages of one body, keyed by JSON path (`$` for the body itself)."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path or "$", []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def response(self) -> Response:
        body = {
            "type": PROBLEM_TYPES[400],
            "title": VALIDATION_TITLE,
            "status": 400,
            "detail": f"Invalid fields: {', '.join(self.fields)}.",
            "errors": self.fields,
        }
        return Response.json(400, body, content_type=PROBLEM_JSON)


# --- field checks: each records its own error and returns the value, or None when unusable --------
def _path(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _unknown(
    data: Mapping[str, Any], allowed: Iterable[str], errors: FieldErrors, prefix: str = ""
) -> None:
    # Strict on purpose: a misspelt field (`zipcode`) would otherwise vanish without a trace.
    known = set(allowed)
    for key in data:
        if key not in known:
            errors.add(_path(prefix, key), "Unknown field.")


def _object(
    data: Mapping[str, Any], key: str, errors: FieldErrors, prefix: str = ""
) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        errors.add(_path(prefix, key), f"The {key} field is required.")
        return None
    if not isinstance(value, dict):
        errors.add(_path(prefix, key), "Must be an object.")
        return None
    return value


def _string(
    data: Mapping[str, Any],
    key: str,
    errors: FieldErrors,
    prefix: str = "",
    *,
    required: bool = True,
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            errors.add(_path(prefix, key), f"The {key} field is required.")
        return None
    if not isinstance(value, str):
        errors.add(_path(prefix, key), "Must be a string.")
        return None
    if not value.strip():
        errors.add(_path(prefix, key), "Must not be empty.")
        return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(
    data: Mapping[str, Any],
    key: str,
    errors: FieldErrors,
    prefix: str = "",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    integer: bool = False,
) -> float | None:
    path = _path(prefix, key)
    value = data.get(key)
    if value is None:
        errors.add(path, f"The {key} field is required.")
        return None
    if not _is_number(value) or (integer and not isinstance(value, int)):
        errors.add(path, "Must be an integer." if integer else "Must be a number.")
        return None
    if minimum is not None and value < minimum:
        errors.add(path, f"Must be at least {minimum:g}.")
    elif maximum is not None and value > maximum:
        errors.add(path, f"Must be at most {maximum:g}.")
    elif above is not None and value <= above:
        errors.add(path, f"Must be greater than {above:g}.")
    return float(value)


def _choice(
    data: Mapping[str, Any], key: str, choices: Iterable[str], errors: FieldErrors, prefix: str = ""
) -> str | None:
    value = _string(data, key, errors, prefix)
    options = tuple(choices)
    if value is not None and value not in options:
        errors.add(_path(prefix, key), f"Must be one of: {', '.join(options)}.")
        return None
    return value


def _coordinates(data: Mapping[str, Any], key: str, errors: FieldErrors, prefix: str = "") -> None:
    location = _object(data, key, errors, prefix)
    if location is not None:
        path = _path(prefix, key)
        _unknown(location, ("latitude", "longitude"), errors, path)
        _number(location, "latitude", errors, path, minimum=-90, maximum=90)
        _number(location, "longitude", errors, path, minimum=-180, maximum=180)


def _names(
    data: Mapping[str, Any], key: str, vocabulary: Mapping[str, str], errors: FieldErrors
) -> list[str]:
    """A non-empty list of names from `vocabulary`, in any case, returned in canonical spelling."""
    value = data.get(key)
    if value is None:
        errors.add(key, f"The {key} field is required.")
        return []
    if not isinstance(value, list) or not value:
        errors.add(key, "Must be a non-empty list.")
        return []
    names: list[str] = []
    for index, item in enumerate(value):
        name = vocabulary.get(item.lower()) if isinstance(item, str) else None
        if name is None:
            errors.add(f"{key}[{index}]", f"Must be one of: {', '.join(vocabulary.values())}.")
        elif name not in names:
            names.append(name)
    return names


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # Python accepts NaN/Infinity; Spark does not


def _check_hot_water_tank(metadata: Mapping[str, Any], errors: FieldErrors) -> None:
    """Seed §4: brand, model, capacity (litres) and the heating elements' power in W."""
    prefix = "metadata"
    _unknown(
        metadata, ("resourceType", "brand", "model", "capacity", "heatingElements"), errors, prefix
    )
    _string(metadata, "brand", errors, prefix)
    _string(metadata, "model", errors, prefix)
    _number(metadata, "capacity", errors, prefix, above=0)
    elements = metadata.get("heatingElements")
    if elements is None:
        errors.add("metadata.heatingElements", "The heatingElements field is required.")
    elif not isinstance(elements, list) or not elements:
        errors.add("metadata.heatingElements", "Must be a non-empty list of powers in W.")
    else:
        for index, watts in enumerate(elements):
            if not _is_number(watts) or watts <= 0:
                errors.add(f"metadata.heatingElements[{index}]", "Must be a power in W above 0.")


def _check_charge_action(item: Any, prefix: str, vehicles: set[str], errors: FieldErrors) -> None:
    """Seed §7: one VehicleChargeAction, for a vehicle Spark knows."""
    if not isinstance(item, dict):
        errors.add(prefix, "Must be an object.")
        return
    _unknown(
        item,
        (
            "payloadType",
            "resourceId",
            "location",
            "actionType",
            "power",
            "stateOfCharge",
            "batteryCapacity",
        ),
        errors,
        prefix,
    )
    _choice(item, "payloadType", REPORT_PAYLOAD_TYPES, errors, prefix)
    resource_id = _string(item, "resourceId", errors, prefix)
    if resource_id is not None and resource_id not in vehicles:
        # Catches a report sent before its vehicle reached Spark.
        errors.add(_path(prefix, "resourceId"), "No vehicle with this id is registered.")
    _coordinates(item, "location", errors, prefix)
    _choice(item, "actionType", ACTION_TYPES, errors, prefix)
    _number(item, "power", errors, prefix, minimum=0)  # W
    _number(item, "stateOfCharge", errors, prefix, minimum=0, maximum=1)
    _number(item, "batteryCapacity", errors, prefix, above=0)  # Wh
