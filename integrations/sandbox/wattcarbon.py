"""The WattCarbon emulator: token grant, account-scoped devices, hourly timeseries uploads.

Enforces docs/upstreams/wattcarbon.md (the quickstart profile, seed 000). The real platform
is a FastAPI app, so errors have FastAPI's shapes: `{"detail": "..."}` for 401/404/409 and
`{"detail": [{"loc", "msg", "type"}]}` for 422, with pydantic's wording, and device bodies are
strict (unknown fields are rejected, as with pydantic `extra="forbid"`).

What only the emulator decides (the platform does not say), written down so tests can rely on it:
- `PUT /devices/{id}` replaces the whole device: it takes the same body as `POST /devices`.
- Timeseries rows must be on the hour in UTC and strictly increasing; gaps are allowed.
- "Before commencedOperationDate" means before midnight UTC of that date.
- Night is told from the sun's elevation only for devices located by coordinates.
"""

from __future__ import annotations

import csv
import hmac
import io
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any

from integrations.sandbox.base import REASONS, Emulator, Request, Response
from integrations.sandbox.wattcarbon_vocabulary import (
    BUILDING_TYPES,
    DEVICE_KINDS,
    EIA_PLANT_ID_REQUIRED_ABOVE_KW,
    EXTERNAL_REGISTRIES,
    HEATING_BACKUP_SYSTEMS,
    INVERTER_DATA_SOURCES,
    PREVIOUS_FUELS,
    TOKEN_LIFETIME_S,
)

SANDBOX_EMAIL = "sandbox@gridfolio.test"
SANDBOX_API_KEY = "sandbox-wattcarbon-key"

ErrorList = list[dict[str, Any]]

COMMON_FIELDS = (
    "name",
    "customId",
    "location",
    "utility",
    "deviceOwner",
    "meterId",
    "commencedOperationDate",
    "kind",
)
# Kind-specific fields, camelCase as on the wire. A kind not listed has none documented yet.
# Written out from the seed rather than taken from the client's KIND_FIELDS, so that a typo in
# the client's mapping meets a 422 here. The kinds and enum values are in wattcarbon_vocabulary.py,
# written down from docs/upstreams/wattcarbon.md, not imported from the client either.
KIND_SCHEMAS: dict[str, tuple[str, ...]] = {
    "solar": (
        "nameplateCapacityKw",
        "inverterDataId",
        "inverterDataSource",
        "externalRegistryName",
        "externalRegistryDeviceId",
        "eiaPlantId",
    ),
    "electrification": (
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
}
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "inverterDataSource": INVERTER_DATA_SOURCES,
    "externalRegistryName": EXTERNAL_REGISTRIES,
    "previousFuel": PREVIOUS_FUELS,
    "buildingType": BUILDING_TYPES,
    "heatingBackupSystem": HEATING_BACKUP_SYSTEMS,
}
STRING_FIELDS = (
    "customId",
    "utility",
    "meterId",
    "inverterDataId",
    "externalRegistryDeviceId",
)
ADDRESS_FIELDS = ("street", "city", "state", "country", "postalCode")
DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS = 15  # docs/upstreams/wattcarbon.md

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


class WattCarbonEmulator(Emulator):
    """WSGI emulator of api.wattcarbon.com (see the module docstring for what it enforces)."""

    name = "wattcarbon"

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        accounts: dict[str, str] | None = None,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
        send_expires_in: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Accounts are configuration, not data: they survive /_sandbox/reset.
        self.accounts = {SANDBOX_EMAIL: SANDBOX_API_KEY} if accounts is None else dict(accounts)
        self.token_lifetime_s = token_lifetime_s
        self.send_expires_in = send_expires_in  # docs/upstreams: the platform may leave it out
        self.clock = clock
        self.user_agents: list[str] = []  # of every API call, so tests can check ours is sent
        super().__init__(state_path)

    # --- Emulator hooks ---------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {
            "accounts": dict(self.accounts),
            "tokens": {},  # access token -> {"email", "expires_at" (epoch s)}
            "devices": {},  # device id -> {"account", "device" (the body as stored)}
            "timeseries": {},  # device id -> {UTC ISO instant: kWh}
            "flags": {},  # device id -> {UTC ISO instant: ["above_nameplate" | "night", ...]}
            "uploads": {},  # device id -> [summary of each accepted upload]
        }

    def setup_routes(self) -> None:
        self.route("POST", r"/auth/token", self.create_token)
        self.route("POST", r"/devices", self.create_device)
        self.route("PUT", r"/devices/(?P<device_id>[^/]+)", self.update_device)
        self.route("GET", r"/devices/(?P<device_id>[^/]+)", self.get_device)
        self.route("POST", r"/devices/(?P<device_id>[^/]+)/timeseries", self.upload_timeseries)

    def add_account(self, email: str, api_key: str) -> None:
        with self.lock:
            self.accounts[email] = api_key
            self.state["accounts"][email] = api_key
            self.save()

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.state["tokens"].values():
                token["expires_at"] = 0
            self.save()

    def dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/_sandbox/"):
            with self.lock:
                self.user_agents.append(request.headers.get("user-agent", ""))
        return super().dispatch(request)

    def error_for_fault(self, status: int) -> Response:
        """Injected failures look like what sits in front of the platform would send."""
        if status == 500:
            # Starlette's own answer to an unhandled exception is plain text.
            return Response.text(500, "Internal Server Error")
        if status in (502, 503, 504):
            # The load balancer answers these, in HTML, before FastAPI sees the call.
            reason = REASONS.get(status, "Error")
            html = (
                f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n"
                f"<body>\r\n<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
            )
            return Response(status, html.encode(), [("Content-Type", "text/html")])
        if status == 401:
            return self.unauthorized("Could not validate credentials")
        if status == 422:
            return validation_error([_error(["body"], "Field required", "missing")])
        return Response.json(status, {"detail": REASONS.get(status, "Error")})

    def malformed(self, request: Request) -> Response:
        """FastAPI's answer to a body that is not JSON (or not UTF-8)."""
        return validation_error([_error(["body", 0], "JSON decode error", "json_invalid")])

    # --- auth -------------------------------------------------------------------------------
    @staticmethod
    def unauthorized(detail: str) -> Response:
        return Response(
            401,
            Response.json(401, {"detail": detail}).body,
            [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
        )

    def create_token(self, request: Request) -> Response:
        # OAuth2PasswordRequestForm: only a urlencoded form is read; anything else (JSON) leaves
        # every form field missing.
        form = request.form() if request.content_type == "application/x-www-form-urlencoded" else {}
        errors: ErrorList = [
            _error(["body", field], "Field required", "missing")
            for field in ("grant_type", "username", "password")
            if field not in form
        ]
        if "grant_type" in form and form["grant_type"] != "password":
            errors.insert(
                0,
                _error(
                    ["body", "grant_type"],
                    "String should match pattern '^password$'",
                    "string_pattern_mismatch",
                ),
            )
        if errors:
            return validation_error(errors)
        api_key = self.state["accounts"].get(form["username"])
        if api_key is None or not hmac.compare_digest(api_key, form["password"]):
            return self.unauthorized("Incorrect username or password")
        now = self.clock()
        # Forget long-dead tokens so the persisted state does not grow without bound.
        self.state["tokens"] = {
            key: value
            for key, value in self.state["tokens"].items()
            if value["expires_at"] > now - 24 * 3600
        }
        token = self.new_id("wct_") + self.new_id()
        self.state["tokens"][token] = {
            "email": form["username"],
            "expires_at": now + self.token_lifetime_s,
        }
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer"}
        if self.send_expires_in:
            body["expires_in"] = self.token_lifetime_s
        return Response.json(200, body)

    def account_for(self, request: Request) -> str | Response:
        """The account email of the bearer token, or the 401 to answer."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self.unauthorized("Not authenticated")
        issued = self.state["tokens"].get(token.strip())
        if issued is None:
            return self.unauthorized("Could not validate credentials")
        if issued["expires_at"] <= self.clock():
            return self.unauthorized("Token has expired")
        return issued["email"]

    # --- devices ----------------------------------------------------------------------------
    def create_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        body = self.json_body(request)
        if isinstance(body, Response):
            return body
        device, errors = validate_device(body)
        if errors:
            return validation_error(errors)
        clash = self.custom_id_clash(account, device.get("customId"), exclude=None)
        if clash:
            return Response.json(409, {"detail": clash})
        device_id = self.new_id("dev_")
        self.state["devices"][device_id] = {"account": account, "device": device}
        return Response.json(201, {"id": device_id, **device})

    def update_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        if self.owned_device(account, device_id) is None:
            return Response.json(404, {"detail": "Device not found"})
        body = self.json_body(request)
        if isinstance(body, Response):
            return body
        device, errors = validate_device(body)
        if errors:
            return validation_error(errors)
        clash = self.custom_id_clash(account, device.get("customId"), exclude=device_id)
        if clash:
            return Response.json(409, {"detail": clash})
        self.state["devices"][device_id] = {"account": account, "device": device}
        return Response.json(200, {"id": device_id, **device})

    def get_device(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        device = self.owned_device(account, device_id)
        if device is None:
            return Response.json(404, {"detail": "Device not found"})
        return Response.json(200, {"id": device_id, **device})

    def owned_device(self, account: str, device_id: str) -> dict[str, Any] | None:
        """The device, if it exists and belongs to `account` (another account's is just unknown)."""
        record = self.state["devices"].get(device_id)
        if record is None or record["account"] != account:
            return None
        return record["device"]

    def custom_id_clash(self, account: str, custom_id: str | None, exclude: str | None) -> str:
        if custom_id is None:
            return ""
        for device_id, record in self.state["devices"].items():
            if device_id == exclude or record["account"] != account:
                continue
            if record["device"].get("customId") == custom_id:
                return f"A device with customId '{custom_id}' already exists in this account"
        return ""

    @staticmethod
    def json_body(request: Request) -> dict[str, Any] | Response:
        """The JSON object body, or FastAPI's 422 (a malformed body raises into `malformed`)."""
        if not request.body:
            return validation_error([_error(["body"], "Field required", "missing")])
        body = request.json() if request.content_type.endswith("json") else None
        if not isinstance(body, dict):
            return validation_error(
                [
                    _error(
                        ["body"],
                        "Input should be a valid dictionary or object to extract fields from",
                        "model_attributes_type",
                    )
                ]
            )
        return body

    # --- timeseries -------------------------------------------------------------------------
    def upload_timeseries(self, request: Request) -> Response:
        account = self.account_for(request)
        if isinstance(account, Response):
            return account
        device_id = request.params["device_id"]
        device = self.owned_device(account, device_id)
        if device is None:
            return Response.json(404, {"detail": "Device not found"})
        upload = multipart_file(request)
        if upload is None:
            return validation_error([_error(["body", "file"], "Field required", "missing")])
        filename, content = upload
        points, errors = parse_timeseries_csv(content)
        if errors:
            return validation_error(errors)

        commenced = device.get("commencedOperationDate")
        start = datetime.fromisoformat(commenced).replace(tzinfo=UTC) if commenced else None
        stored = self.state["timeseries"].setdefault(device_id, {})
        flags = self.state["flags"].setdefault(device_id, {})
        accepted = ignored = flagged = 0
        for instant, value_kwh in points:
            if start is not None and instant < start:
                ignored += 1
                continue
            key = instant.isoformat()
            stored[key] = value_kwh
            reasons = solar_flags(device, instant, value_kwh)
            if reasons:
                flags[key] = reasons
                flagged += 1
            else:
                flags.pop(key, None)  # a re-upload can clear what an earlier one flagged
            accepted += 1
        summary = {
            "deviceId": device_id,
            "filename": filename,
            "rows": len(points),
            "accepted": accepted,
            "ignored": ignored,
            "flagged": flagged,
            "start": points[0][0].isoformat(),
            "end": points[-1][0].isoformat(),
            "uploadedAt": datetime.fromtimestamp(self.clock(), UTC).isoformat(),
        }
        self.state["uploads"].setdefault(device_id, []).append(summary)
        return Response.json(201, summary)


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


def multipart_file(request: Request) -> tuple[str, bytes] | None:
    """(filename, content) of the multipart part named `file`, or None when there is none."""
    if request.content_type != "multipart/form-data":
        return None
    header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(header + request.body)
    if not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return part.get_filename() or "", payload if isinstance(payload, bytes) else b""
    return None


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
