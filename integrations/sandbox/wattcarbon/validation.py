"""The WattCarbon emulator's contract checks: devices, locations, timeseries CSVs, solar at night."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from integrations.sandbox.base import Response

from .data import (
    ADDRESS_FIELDS,
    COMMON_FIELDS,
    DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS,
    ENUM_FIELDS,
    KIND_SCHEMAS,
    STRING_FIELDS,
    ErrorList,
)
from .vocabulary import (
    DEVICE_KINDS,
    EIA_PLANT_ID_REQUIRED_ABOVE_KW,
)

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# ISO 8601 date-time; the offset group is optional here so that its absence gets its own message.
TIMESTAMP_RE = re.compile(
    r"^(?P<local>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<offset>Z|[+-]\d{2}:\d{2})?$"
)
MAX_ERRORS_REPORTED = 20
# The sun is below the horizon (refraction and the disc's radius included) under this elevation.
SUNSET_ELEVATION_DEG = -0.833


def _error(loc: list[str | int], msg: str, type_: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": type_}


def validation_error(errors: ErrorList) -> Response:
    return Response.json(422, {"detail": errors})


def _enum_message(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    if len(quoted) == 1:
        return f"Input should be {quoted[0]}"
    return "Input should be " + ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def _number(value: Any) -> float | None:
    """A finite number, from a JSON number or a numeric string (pydantic's lax float); else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def solar_elevation_deg(instant: datetime, latitude: float, longitude: float) -> float:
    """The sun's elevation in degrees (NOAA's general solar position approximation)."""
    utc = instant.astimezone(UTC)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (utc.timetuple().tm_yday - 1 + (hours - 12) / 24)
    equation_of_time_min = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_time_min = hours * 60 + equation_of_time_min + 4 * longitude
    hour_angle = math.radians(true_solar_time_min / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = math.sin(lat) * math.sin(declination) + math.cos(lat) * math.cos(
        declination
    ) * math.cos(hour_angle)
    return 90 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_night_hour(start: datetime, latitude: float, longitude: float) -> bool:
    """True when the sun stays down for the whole hour that starts at `start`."""
    probes = (start, start + timedelta(minutes=30), start + timedelta(hours=1))
    return all(
        solar_elevation_deg(probe, latitude, longitude) < SUNSET_ELEVATION_DEG for probe in probes
    )


# --- validation (module level: pure functions of the body) --------------------------------------
def validate_device(body: dict[str, Any]) -> tuple[dict[str, Any], ErrorList]:
    """The device as stored (numbers normalised) and the pydantic-style errors of `body`."""
    errors: ErrorList = []
    device: dict[str, Any] = {}

    kind = body.get("kind")
    if "kind" not in body:
        errors.append(_error(["body", "kind"], "Field required", "missing"))
    elif kind not in DEVICE_KINDS:
        errors.append(_error(["body", "kind"], _enum_message(DEVICE_KINDS), "enum"))
        kind = None
    allowed = set(COMMON_FIELDS) | set(KIND_SCHEMAS.get(kind or "", ()))
    if kind is None:
        # Without a valid kind we cannot tell which kind fields belong: judge none of them.
        allowed |= {field for fields in KIND_SCHEMAS.values() for field in fields}
    for field in body:
        if field not in allowed:
            errors.append(
                _error(["body", field], "Extra inputs are not permitted", "extra_forbidden")
            )

    name = body.get("name")
    if "name" not in body:
        errors.append(_error(["body", "name"], "Field required", "missing"))
    elif not isinstance(name, str):
        errors.append(_error(["body", "name"], "Input should be a valid string", "string_type"))
    elif not name.strip():
        errors.append(
            _error(["body", "name"], "String should have at least 1 character", "string_too_short")
        )
    else:
        device["name"] = name

    for field in STRING_FIELDS:
        if field in body and field in allowed and body[field] is not None:
            if isinstance(body[field], str):
                device[field] = body[field]
            else:
                errors.append(
                    _error(["body", field], "Input should be a valid string", "string_type")
                )

    if "location" not in body:
        # The platform maps a device to weather data by its location, so it insists on one.
        errors.append(_error(["body", "location"], "Field required", "missing"))
    else:
        location, location_errors = validate_location(body["location"])
        errors.extend(location_errors)
        if not location_errors:
            device["location"] = location

    owner = body.get("deviceOwner")
    if owner is not None:
        if not isinstance(owner, dict):
            errors.append(
                _error(
                    ["body", "deviceOwner"],
                    "Input should be a valid dictionary or object to extract fields from",
                    "model_attributes_type",
                )
            )
        else:
            errors.extend(
                _error(
                    ["body", "deviceOwner", key],
                    "Extra inputs are not permitted",
                    "extra_forbidden",
                )
                for key in owner
                if key != "name"
            )
            if not isinstance(owner.get("name"), str) or not owner["name"].strip():
                errors.append(
                    _error(["body", "deviceOwner", "name"], "Field required", "missing")
                    if "name" not in owner
                    else _error(
                        ["body", "deviceOwner", "name"],
                        "Input should be a valid string",
                        "string_type",
                    )
                )
            else:
                device["deviceOwner"] = {"name": owner["name"]}

    commenced = body.get("commencedOperationDate")
    if commenced is not None:
        if isinstance(commenced, str) and DATE_RE.match(commenced) and _is_date(commenced):
            device["commencedOperationDate"] = commenced
        else:
            errors.append(
                _error(
                    ["body", "commencedOperationDate"],
                    "Input should be a valid date in the format YYYY-MM-DD",
                    "date_from_datetime_parsing",
                )
            )

    if kind is not None:
        device["kind"] = kind
    for field, values in ENUM_FIELDS.items():
        value = body.get(field)
        if field in allowed and value is not None:
            if value in values:
                device[field] = value
            else:
                errors.append(_error(["body", field], _enum_message(values), "enum"))

    if kind == "solar":
        errors.extend(_validate_solar(body, device))
    elif kind == "electrification":
        errors.extend(_validate_electrification(body, device))
    return device, errors


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _positive_number(body: dict[str, Any], field: str, device: dict[str, Any]) -> ErrorList:
    """Numbers may arrive as numeric strings (the seed sends "123"); stored as numbers."""
    value = body.get(field)
    if value is None:
        return []
    number = _number(value)
    if number is None:
        return [
            _error(
                ["body", field],
                "Input should be a valid number, unable to parse string as a number",
                "float_parsing",
            )
        ]
    if number <= 0:
        return [_error(["body", field], "Input should be greater than 0", "greater_than")]
    device[field] = number
    return []


def _validate_solar(body: dict[str, Any], device: dict[str, Any]) -> ErrorList:
    errors: ErrorList = []
    if body.get("nameplateCapacityKw") is None:
        errors.append(_error(["body", "nameplateCapacityKw"], "Field required", "missing"))
    else:
        errors.extend(_positive_number(body, "nameplateCapacityKw", device))
    eia_plant_id = body.get("eiaPlantId")
    if eia_plant_id is not None:
        if (isinstance(eia_plant_id, int) and not isinstance(eia_plant_id, bool)) or (
            isinstance(eia_plant_id, str) and eia_plant_id.strip().isdigit()
        ):
            device["eiaPlantId"] = str(eia_plant_id).strip()
        else:
            errors.append(
                _error(
                    ["body", "eiaPlantId"],
                    "Input should be a valid integer, unable to parse string as an integer",
                    "int_parsing",
                )
            )
    capacity_kw = device.get("nameplateCapacityKw")
    if (
        capacity_kw is not None
        and capacity_kw > EIA_PLANT_ID_REQUIRED_ABOVE_KW
        and eia_plant_id is None
    ):
        errors.append(
            _error(
                ["body", "eiaPlantId"],
                f"Value error, eiaPlantId is required when nameplateCapacityKw is above "
                f"{EIA_PLANT_ID_REQUIRED_ABOVE_KW}",
                "value_error",
            )
        )
    return errors


def _validate_electrification(body: dict[str, Any], device: dict[str, Any]) -> ErrorList:
    errors: ErrorList = []
    for field in ("areaSqft", "heatPumpHspf", "waterHeaterUef"):
        errors.extend(_positive_number(body, field, device))
    for field in ("replacesFurnace", "replacesWaterHeater", "coldClimate"):
        value = body.get(field)
        if value is None:
            continue
        # Strictly JSON booleans: a "true" string is a sign of a serialisation bug upstream of us.
        if isinstance(value, bool):
            device[field] = value
        else:
            errors.append(_error(["body", field], "Input should be a valid boolean", "bool_type"))
    years = body.get("effectiveUsefulLifeYears")
    if years is None:
        device["effectiveUsefulLifeYears"] = DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS
    else:
        number = _number(years)
        if number is None or not number.is_integer():
            errors.append(
                _error(
                    ["body", "effectiveUsefulLifeYears"],
                    "Input should be a valid integer",
                    "int_parsing",
                )
            )
        elif number <= 0:
            errors.append(
                _error(
                    ["body", "effectiveUsefulLifeYears"],
                    "Input should be greater than 0",
                    "greater_than",
                )
            )
        else:
            device["effectiveUsefulLifeYears"] = int(number)
    return errors


def validate_location(value: Any) -> tuple[Any, ErrorList]:
    """A non-empty string, an address object, or coordinates (never a mix of the two objects)."""
    loc: list[str | int] = ["body", "location"]
    if isinstance(value, str):
        if value.strip():
            return value, []
        return None, [_error(loc, "String should have at least 1 character", "string_too_short")]
    if not isinstance(value, dict):
        return None, [
            _error(loc, "Input should be a valid string or a location object", "union_tag_invalid")
        ]
    if "latitude" in value or "longitude" in value:
        errors: ErrorList = [
            _error([*loc, key], "Extra inputs are not permitted", "extra_forbidden")
            for key in value
            if key not in ("latitude", "longitude")
        ]
        coordinates: dict[str, float] = {}
        for key, limit in (("latitude", 90), ("longitude", 180)):
            if key not in value:
                errors.append(_error([*loc, key], "Field required", "missing"))
                continue
            number = _number(value[key])
            if number is None:
                errors.append(
                    _error([*loc, key], "Input should be a valid number", "float_parsing")
                )
            elif number < -limit:
                errors.append(
                    _error(
                        [*loc, key],
                        f"Input should be greater than or equal to {-limit}",
                        "greater_than_equal",
                    )
                )
            elif number > limit:
                errors.append(
                    _error(
                        [*loc, key],
                        f"Input should be less than or equal to {limit}",
                        "less_than_equal",
                    )
                )
            else:
                coordinates[key] = number
        return coordinates, errors
    errors = [
        _error([*loc, key], "Extra inputs are not permitted", "extra_forbidden")
        for key in value
        if key not in ADDRESS_FIELDS
    ]
    address: dict[str, str] = {}
    for key in ADDRESS_FIELDS:
        if value.get(key) is None:
            continue
        if isinstance(value[key], str):
            address[key] = value[key]
        else:
            errors.append(_error([*loc, key], "Input should be a valid string", "string_type"))
    if not errors and not any(text.strip() for text in address.values()):
        errors.append(
            _error(
                loc, "An address needs at least one of " + ", ".join(ADDRESS_FIELDS), "value_error"
            )
        )
    return address, errors


def parse_timeseries_csv(content: bytes) -> tuple[list[tuple[datetime, float]], ErrorList]:
    """Rows of an hourly `datetime,value_kwh` CSV, or an error per bad line (line 1 = header)."""
    loc: list[str | int] = ["body", "file"]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_error(loc, "file is not UTF-8 text", "value_error")]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or [column.strip() for column in header] != ["datetime", "value_kwh"]:
        found = ",".join(header) if header else "nothing"
        return [], [
            _error(
                loc, f"line 1: header must be 'datetime,value_kwh', found '{found}'", "value_error"
            )
        ]
    points: list[tuple[datetime, float]] = []
    errors: ErrorList = []
    seen: set[datetime] = set()
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a trailing blank line is not a row
        problem, point = _parse_row(row, seen, points[-1][0] if points else None)
        if problem:
            errors.append(_error(loc, f"line {line}: {problem}", "value_error"))
            if len(errors) >= MAX_ERRORS_REPORTED:
                break
            continue
        assert point is not None
        seen.add(point[0])
        points.append(point)
    if not errors and not points:
        errors.append(_error(loc, "the file has no data rows", "value_error"))
    return points, errors


def _parse_row(
    row: list[str], seen: set[datetime], previous: datetime | None
) -> tuple[str, tuple[datetime, float] | None]:
    if len(row) != 2:
        return f"expected 2 columns, found {len(row)}", None
    raw_time, raw_value = (cell.strip() for cell in row)
    match = TIMESTAMP_RE.match(raw_time)
    if not match:
        return f"'{raw_time}' is not an ISO 8601 timestamp", None
    if not match.group("offset"):
        return f"timestamp '{raw_time}' has no UTC offset", None
    try:
        instant = datetime.fromisoformat(raw_time).astimezone(UTC)
    except ValueError:
        return f"'{raw_time}' is not a valid timestamp", None
    if (instant.minute, instant.second, instant.microsecond) != (0, 0, 0):
        return f"timestamp '{raw_time}' is not on the hour", None
    if instant in seen:
        return f"duplicate hour {instant.isoformat()}", None
    if previous is not None and instant < previous:
        return f"timestamp '{raw_time}' is earlier than the row before it", None
    value = _number(raw_value) if raw_value else None
    if value is None:
        return f"value_kwh '{raw_value}' is not a number", None
    return "", (instant, value)


def solar_flags(device: dict[str, Any], instant: datetime, value_kwh: float) -> list[str]:
    """Why a solar reading looks wrong: more than the nameplate makes in an hour, or at night."""
    if device.get("kind") != "solar":
        return []
    reasons: list[str] = []
    capacity_kw = device.get("nameplateCapacityKw")
    if capacity_kw is not None and value_kwh > capacity_kw:  # kW for one hour = kWh
        reasons.append("above_nameplate")
    location = device.get("location")
    if (
        value_kwh > 0
        and isinstance(location, dict)
        and "latitude" in location
        and is_night_hour(instant, location["latitude"], location["longitude"])
    ):
        reasons.append("night")
    return reasons
