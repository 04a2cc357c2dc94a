"""What the current WattCarbon emulator accepts, written down from docs/upstreams/wattcarbon.md
("Current profile"; the developer guide of Dec 2025), not from the client.

Decided here where the guide is silent (so tests can rely on it): meter ids are integers (the
guide's `meterIds: [999]`), asset ids strings; bodies are strict (pydantic `extra="forbid"`); an
intervals file may be daily, hourly or sub-hourly but its rows strictly increase; a duplicate
customId is a 409 with a `detail` string, as the quickstart's devices.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from .data import ENUM_FIELDS, ErrorList
from .validation import (
    DATE_RE,
    MAX_ERRORS_REPORTED,
    _enum_message,
    _error,
    _is_date,
    _number,
    _validate_electrification,
    _validate_solar,
    validate_location,
)

API_PROVIDERS = ("manual",)
METER_TYPES = ("electricity", "gas")
METER_FIELDS = ("apiProvider", "meterType", "location")
ASSET_COMMON_FIELDS = (
    "name",
    "customId",
    "location",
    "utility",
    "meterIds",
    "commencedOperationDate",
    "kind",
)
# The guide's common kinds. Their fields: only solar and electrification have published examples
# (the quickstart's, with `externalRegistryAssetId` for the device id); the others, none known.
ASSET_KIND_SCHEMAS: dict[str, tuple[str, ...]] = {
    "solar_direct": (
        "nameplateCapacityKw",
        "inverterDataId",
        "inverterDataSource",
        "externalRegistryName",
        "externalRegistryAssetId",
        "eiaPlantId",
    ),
    "storage_direct": (),
    "electrification_eemetered": (
        "areaSqft",
        "previousFuel",
        "replacesFurnace",
        "replacesWaterHeater",
        "coldClimate",
        "effectiveUsefulLifeYears",
        "buildingType",
        "heatingBackupSystem",
        "heatPumpHspf",
        "waterHeaterUef",
    ),
    "energy_efficiency_eemetered": (),
    "demand_response_eemetered": (),
    "tracking_building": (),
}
ASSET_STRING_FIELDS = ("customId", "utility", "inverterDataId", "externalRegistryAssetId")
INTERVALS_HEADER = ["start_datetime", "energy_kwh"]
BILLS_HEADER = ["start_date", "end_date", "energy_kwh"]
DOCUMENT_TYPES = ("demand_response_events",)
DR_EVENTS_HEADER = ["Event Start Time", "Event End Time"]


def _extra_fields(body: dict[str, Any], allowed: set[str]) -> ErrorList:
    return [
        _error(["body", field], "Extra inputs are not permitted", "extra_forbidden")
        for field in body
        if field not in allowed
    ]


def validate_meter(body: dict[str, Any]) -> tuple[dict[str, Any], ErrorList]:
    """The meter as stored and the pydantic-style errors of `body`."""
    errors = _extra_fields(body, set(METER_FIELDS))
    meter: dict[str, Any] = {}
    for field, values in (("apiProvider", API_PROVIDERS), ("meterType", METER_TYPES)):
        if field not in body:
            errors.append(_error(["body", field], "Field required", "missing"))
        elif body[field] not in values:
            errors.append(_error(["body", field], _enum_message(values), "enum"))
        else:
            meter[field] = body[field]
    if "location" not in body:
        errors.append(_error(["body", "location"], "Field required", "missing"))
    else:
        location, location_errors = validate_location(body["location"])
        errors.extend(location_errors)
        meter["location"] = location
    return meter, errors


def validate_asset(body: dict[str, Any], meter_exists: Any) -> tuple[dict[str, Any], ErrorList]:
    """The asset as stored and the errors of `body`; `meter_exists(id)` says whether the account
    holds that meter."""
    errors: ErrorList = []
    asset: dict[str, Any] = {}
    kind = body.get("kind")
    if "kind" not in body:
        errors.append(_error(["body", "kind"], "Field required", "missing"))
        kind = None
    elif kind not in ASSET_KIND_SCHEMAS:
        errors.append(_error(["body", "kind"], _enum_message(tuple(ASSET_KIND_SCHEMAS)), "enum"))
        kind = None
    allowed = set(ASSET_COMMON_FIELDS) | set(ASSET_KIND_SCHEMAS.get(kind or "", ()))
    if kind is None:
        allowed |= {field for fields in ASSET_KIND_SCHEMAS.values() for field in fields}
    errors.extend(_extra_fields(body, allowed))

    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(
            _error(["body", "name"], "Field required", "missing")
            if "name" not in body
            else _error(["body", "name"], "Input should be a valid string", "string_type")
        )
    else:
        asset["name"] = name
    for field in ASSET_STRING_FIELDS:
        value = body.get(field)
        if field in allowed and value is not None:
            if isinstance(value, str):
                asset[field] = value
            else:
                errors.append(
                    _error(["body", field], "Input should be a valid string", "string_type")
                )
    if "location" not in body:
        errors.append(_error(["body", "location"], "Field required", "missing"))
    else:
        location, location_errors = validate_location(body["location"])
        errors.extend(location_errors)
        asset["location"] = location
    errors.extend(_validate_meter_ids(body, asset, meter_exists))
    commenced = body.get("commencedOperationDate")
    if commenced is not None:
        if isinstance(commenced, str) and DATE_RE.match(commenced) and _is_date(commenced):
            asset["commencedOperationDate"] = commenced
        else:
            errors.append(
                _error(
                    ["body", "commencedOperationDate"],
                    "Input should be a valid date in the format YYYY-MM-DD",
                    "date_from_datetime_parsing",
                )
            )
    if kind is not None:
        asset["kind"] = kind
    for field, values in ENUM_FIELDS.items():
        value = body.get(field)
        if field in allowed and value is not None:
            if value in values:
                asset[field] = value
            else:
                errors.append(_error(["body", field], _enum_message(values), "enum"))
    if kind == "solar_direct":
        errors.extend(_validate_solar(body, asset))
    elif kind == "electrification_eemetered":
        errors.extend(_validate_electrification(body, asset))
    return asset, errors


def _validate_meter_ids(
    body: dict[str, Any], asset: dict[str, Any], meter_exists: Any
) -> ErrorList:
    loc: list[str | int] = ["body", "meterIds"]
    value = body.get("meterIds")
    if "meterIds" not in body:
        return [_error(loc, "Field required", "missing")]
    if not isinstance(value, list) or not value:
        return [_error(loc, "Input should be a non-empty list of meter ids", "list_type")]
    errors: ErrorList = []
    for index, meter_id in enumerate(value):
        if isinstance(meter_id, bool) or not isinstance(meter_id, int):
            errors.append(_error([*loc, index], "Input should be a valid integer", "int_type"))
        elif not meter_exists(meter_id):
            errors.append(
                _error([*loc, index], f"Meter {meter_id} not found in this account", "value_error")
            )
    if not errors:
        asset["meterIds"] = list(value)
    return errors


def _rows(content: bytes, header: list[str]) -> tuple[list[tuple[int, list[str]]], ErrorList]:
    """(line, cells) of a CSV whose first line must be exactly `header`."""
    loc: list[str | int] = ["body", "file"]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [_error(loc, "file is not UTF-8 text", "value_error")]
    reader = csv.reader(io.StringIO(text, newline=""))
    found = next(reader, None)
    if found != header:
        shown = ",".join(found) if found else "nothing"
        return [], [
            _error(
                loc, f"line 1: header must be '{','.join(header)}', found '{shown}'", "value_error"
            )
        ]
    rows = [(reader.line_num, row) for row in reader if row and any(cell.strip() for cell in row)]
    if not rows:
        return [], [_error(loc, "the file has no data rows", "value_error")]
    return rows, []


def _instant(text: str) -> datetime | None:
    """An ISO 8601 date and time with its UTC offset ("T" or a space between), else None."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return instant if instant.utcoffset() is not None else None


def _problems(problems: list[tuple[int, str]]) -> ErrorList:
    return [
        _error(["body", "file"], f"line {line}: {message}", "value_error")
        for line, message in problems[:MAX_ERRORS_REPORTED]
    ]


def parse_intervals_csv(content: bytes) -> tuple[list[tuple[datetime, float]], ErrorList]:
    """Reads of a `start_datetime,energy_kwh` CSV (each time the start of its read)."""
    rows, errors = _rows(content, INTERVALS_HEADER)
    if errors:
        return [], errors
    points: list[tuple[datetime, float]] = []
    problems: list[tuple[int, str]] = []
    for line, row in rows:
        if len(row) != 2:
            problems.append((line, f"expected 2 columns, found {len(row)}"))
            continue
        instant = _instant(row[0])
        value = _number(row[1])
        if instant is None:
            problems.append((line, f"'{row[0]}' is not a date and time with a UTC offset"))
        elif value is None:
            problems.append((line, f"energy_kwh '{row[1]}' is not a number"))
        elif points and instant.astimezone(UTC) <= points[-1][0]:
            problems.append((line, f"'{row[0]}' does not follow the row before it"))
        else:
            points.append((instant.astimezone(UTC), value))
    return points, _problems(problems)


def parse_bills_csv(content: bytes) -> tuple[list[dict[str, Any]], ErrorList]:
    """Bills of a `start_date,end_date,energy_kwh` CSV."""
    rows, errors = _rows(content, BILLS_HEADER)
    if errors:
        return [], errors
    bills: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for line, row in rows:
        if len(row) != 3:
            problems.append((line, f"expected 3 columns, found {len(row)}"))
            continue
        start, end, value = row[0].strip(), row[1].strip(), _number(row[2])
        if not (DATE_RE.match(start) and _is_date(start) and DATE_RE.match(end) and _is_date(end)):
            problems.append((line, "start_date and end_date are YYYY-MM-DD dates"))
        elif date.fromisoformat(end) < date.fromisoformat(start):
            problems.append((line, "end_date is before start_date"))
        elif value is None:
            problems.append((line, f"energy_kwh '{row[2]}' is not a number"))
        else:
            bills.append({"start_date": start, "end_date": end, "energy_kwh": value})
    return bills, _problems(problems)


def parse_dr_events_csv(content: bytes) -> tuple[list[list[str]], ErrorList]:
    """Events of a `demand_response_events` document (`Event Start Time,Event End Time`)."""
    rows, errors = _rows(content, DR_EVENTS_HEADER)
    if errors:
        return [], errors
    events: list[list[str]] = []
    problems: list[tuple[int, str]] = []
    for line, row in rows:
        if len(row) != 2:
            problems.append((line, f"expected 2 columns, found {len(row)}"))
            continue
        start, end = _instant(row[0]), _instant(row[1])
        if start is None or end is None:
            problems.append((line, "times are like 2021-01-01 17:00:00-05:00 (with the offset)"))
        elif end <= start:
            problems.append((line, "the event ends before it starts"))
        else:
            events.append([start.isoformat(), end.isoformat()])
    return events, _problems(problems)
