"""Volue Spark (Energy Coordination API): webhook signatures, payload builders and the client.

The contract is docs/upstreams/spark.md, in two profiles: quickstart (seed 002, Volue's
quickstart; "seed §N" below names its numbered sections) and current, the published v1 API
(https://api.sandbox.voluespark.com/energy-coordination/v1/swagger/Partner/swagger.json, "swagger"
below: operation ids in the comments), which also settles what the seed leaves open: the signature
scheme, problem+json errors, the event envelope. Nothing here touches the ORM: callers hand plain
values to the builders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from integrations.http import CallRecord, UpstreamClient, UpstreamError

# The seed names `Spark-Signature`; the published API sends the same value as `X-Payload-Signature`.
SIGNATURE_HEADER = "Spark-Signature"
PUBLISHED_SIGNATURE_HEADER = "X-Payload-Signature"
SIGNATURE_HEADER_NAMES = frozenset({SIGNATURE_HEADER.lower(), PUBLISHED_SIGNATURE_HEADER.lower()})
CURRENT_SIGNATURE_HEADERS = frozenset({PUBLISHED_SIGNATURE_HEADER.lower()})

# Used only when the token answer has no usable `expires_in`: seed §Authentication says "The token is
# valid for 30 minutes"; the published docs (docs.voluespark.com/authentication) say 60 minutes.
DEFAULT_TOKEN_LIFETIME_S = 1800.0
CURRENT_TOKEN_LIFETIME_S = 3600.0
CHARGE_ACTIONS = {"start": "Start", "stop": "Stop"}

Number = int | float | Decimal | str


# --- webhook signatures ---------------------------------------------------------------------------
def sign(body: bytes, secret: str) -> str:
    """Base64 (standard, padded) HMAC-SHA256 of the raw body, keyed with the UTF-8 secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    body: bytes,
    secret: str,
    headers: Mapping[str, str],
    header_names: frozenset[str] = SIGNATURE_HEADER_NAMES,
) -> bool:
    """True when the delivery carries a signature header and every one given matches `body`.
    `header_names` (lower case): the headers that carry it; both by default (quickstart), only
    `X-Payload-Signature` for the current profile (`CURRENT_SIGNATURE_HEADERS`).

    `body` must be the raw request bytes: re-serialised JSON (or a stripped trailing newline) no
    longer matches. `headers` is any mapping with header names as keys, in any case (Django's
    `request.headers`, a dict, `httpx.Headers`).
    """
    if not secret:
        return False  # an unset secret must never verify anything
    given = [value for name, value in headers.items() if name.lower() in header_names]
    if not given:
        return False
    expected = sign(body, secret).encode("ascii")
    # Both headers carry the same value when Spark sends both: a mismatch in either is a refusal.
    return all(hmac.compare_digest(expected, value.strip().encode("utf-8")) for value in given)


# --- payload builders -----------------------------------------------------------------------------
def _finite(value: Number) -> float:
    number = float(value)  # Decimal from a DecimalField, str from a form: JSON needs a plain number
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {value!r}")
    return number


def _number(value: Number) -> int | float:
    """A JSON number, written as an integer when it is one (the seed writes `500`, not `500.0`)."""
    number = _finite(value)
    return int(number) if number.is_integer() else number


def user_payload(*, user_id: str | None = None) -> dict[str, Any]:
    """Seed §1: the seed sends no fields; the published API lets the partner choose the `userId`."""
    return {} if user_id is None else {"userId": user_id}


def vehicle_payload(
    *, vehicle_id: str, brand: str, model: str, year: int, vin: str
) -> dict[str, Any]:
    """Seed §2 "Registering a Vehicle"."""
    return {
        "vehicleId": vehicle_id,
        "metadata": {
            "resourceType": "Vehicle",
            "brand": brand,
            "model": model,
            "year": int(year),
            "vin": vin,
        },
    }


def meter_payload(
    *,
    street: str,
    city: str,
    zip_code: str,
    latitude: Number,
    longitude: Number,
    meter_point_id: str,
    meter_number: str,
    location_type: str,
) -> dict[str, Any]:
    """Seed §3 "Registering a Meter" (`zipCode` is a string: leading zeros matter)."""
    return {
        "address": {"street": street, "city": city, "zipCode": str(zip_code)},
        "location": {"latitude": _finite(latitude), "longitude": _finite(longitude)},
        "meterPointId": meter_point_id,
        "meterNumber": meter_number,
        "locationType": location_type,
    }


def hot_water_tank_payload(
    *,
    resource_id: str,
    brand: str,
    model: str,
    capacity_l: Number,
    heating_elements_w: Iterable[Number],
) -> dict[str, Any]:
    """Seed §4 "Registering a Resource": a HotWaterTank, capacity in litres, elements in W."""
    return {
        "resourceId": resource_id,
        "metadata": {
            "resourceType": "HotWaterTank",
            "brand": brand,
            "model": model,
            "capacity": _number(capacity_l),
            "heatingElements": [_number(watts) for watts in heating_elements_w],
        },
    }


def charge_report_payload(
    *,
    event_id: str,
    name: str,
    resource_id: str,
    latitude: Number,
    longitude: Number,
    action: str,
    power_w: Number,
    state_of_charge: Number,
    battery_capacity_wh: Number,
) -> dict[str, Any]:
    """Seed §7 "Sending a Report": one VehicleChargeAction (power W, state of charge 0..1, Wh)."""
    action_type = CHARGE_ACTIONS.get(action.strip().lower())
    if action_type is None:
        raise ValueError(f"unknown charge action {action!r}: expected Start or Stop")
    return {
        "eventId": event_id,
        "name": name,
        "payloads": [
            {
                "payloadType": "VehicleChargeAction",
                "resourceId": resource_id,
                "location": {"latitude": _finite(latitude), "longitude": _finite(longitude)},
                "actionType": action_type,
                "power": _number(power_w),
                "stateOfCharge": _finite(state_of_charge),
                "batteryCapacity": _number(battery_capacity_wh),
            }
        ],
    }


# --- payload builders of the current profile (swagger `components.schemas`) ----------------------
# Every schema sets `additionalProperties: false`: the builders send the published fields only.
LOCATION_TYPES = ("Unknown", "Residential", "Commercial", "Other")  # LocationType
RESOURCE_TYPES = ("Generic", "Vehicle", "Charger", "HotWaterTank", "HVAC", "SolarInverter")
NOTIFICATION_TYPES = (  # NotificationType (without "Unknown", which nobody subscribes to)
    "PriceCurveCreated",
    "UserEligibilityUpdated",
    "LocationLPCRequested",
    "ResourceLPCRequested",
    "LPCReservationCreated",
)
# The sandbox's simulation calls (tag "Simulation | Events"), by the notification each one causes.
SIMULATIONS = {
    "pricecurve": "PriceCurveCreated",
    "usereligibility": "UserEligibilityUpdated",
    "lpc/locations": "LocationLPCRequested",
    "lpc/resources": "ResourceLPCRequested",
}
HOURLY = "01:00:00"  # a .NET time-span: the resolution of our hourly readings


def location_payload(
    *,
    location_id: str,
    location_type: str,
    meter_point_ids: Iterable[str],
    latitude: Number | None = None,
    longitude: Number | None = None,
) -> dict[str, Any]:
    """PostLocationRequest / PutLocationRequest: our `locationId`, its type, its meter points
    (`meterPointIds`; the single `meterPointId` is deprecated) and, when known, `coordinates`."""
    if location_type not in LOCATION_TYPES:
        raise ValueError(f"unknown Spark location type {location_type!r}")
    payload: dict[str, Any] = {
        "locationId": location_id,
        "locationType": location_type,
        "meterPointIds": [str(point) for point in meter_point_ids],
    }
    if latitude is not None and longitude is not None:
        payload["coordinates"] = {"latitude": _finite(latitude), "longitude": _finite(longitude)}
    return payload


def resource_payload(
    *, resource_id: str, resource_type: str, meter_point_id: str = ""
) -> dict[str, Any]:
    """PostVehicleResourceRequest (`resourceType: "Vehicle"`) or PostLocationBoundResourceRequest
    (any other type, with the meter point it is behind when there is one)."""
    if resource_type not in RESOURCE_TYPES:
        raise ValueError(f"unknown Spark resource type {resource_type!r}")
    payload: dict[str, Any] = {"resourceId": resource_id, "resourceType": resource_type}
    if meter_point_id and resource_type != "Vehicle":  # the vehicle schema has no meterPointId
        payload["meterPointId"] = meter_point_id
    return payload


def webhook_payload(
    *, url: str, secret: str, name: str, notification_types: Iterable[str]
) -> dict[str, Any]:
    """PostWebhookRequest."""
    types = list(notification_types)
    unknown = [kind for kind in types if kind not in NOTIFICATION_TYPES]
    if unknown:
        raise ValueError(f"unknown Spark notification types: {', '.join(unknown)}")
    return {"webhookUrl": url, "webhookSecret": secret, "name": name, "notificationTypes": types}


def energy_usage_report_payload(
    *,
    event_id: str | None,
    resource_id: str,
    points: Iterable[tuple[datetime, Number]],
    location_id: str = "",
    meter_point_id: str = "",
    resolution: str = HOURLY,
) -> dict[str, Any]:
    """PostReportRequest with one EnergyUsage payload: each point is the start of its hour (UTC)
    and the kWh used in it (`points`; the docs' `curvePoints` is deprecated)."""
    curve = []
    for instant, kwh in points:
        if instant.tzinfo is None:
            raise ValueError("report points need timezone-aware instants")
        stamp = instant.astimezone(UTC).isoformat()
        curve.append({"timestamp": stamp, "kiloWattHours": _finite(kwh)})
    if not curve:
        raise ValueError("an energy usage report needs at least one reading")
    usage: dict[str, Any] = {
        "payloadType": "EnergyUsage",
        "resourceId": resource_id,
        "resolution": resolution,
        "points": curve,
    }
    if location_id:
        usage["locationId"] = location_id
    if meter_point_id:
        usage["meterPointId"] = meter_point_id
    return {"eventId": event_id, "payloads": [usage]}


# --- client ---------------------------------------------------------------------------------------
# What an error answer without a body means (Spark answers 401/404 with nothing in them).
_EMPTY_BODY_MESSAGES = {401: "unauthorized", 403: "forbidden", 404: "not found", 409: "conflict"}


class SparkClient(UpstreamClient):
    """Energy Coordination API client: OAuth2 client credentials, one method per operation."""

    platform = "spark"
    # Renew this long before `expires_in` runs out, so a token never expires in flight.
    token_margin_s = 60.0

    def __init__(
        self,
        base_url: str,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        transport: httpx.BaseTransport | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        default_token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
    ) -> None:
        super().__init__(base_url, transport=transport, on_call=on_call, http=http)
        self.default_token_lifetime_s = default_token_lifetime_s  # the profile's, see above
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.clock = clock
        self._token: str | None = None
        self._token_renew_at = 0.0
        self._token_lock = threading.Lock()  # one fetch when threads share a client

    # --- auth (seed §Authentication) --------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}

    def reauthenticate(self) -> bool:
        with self._token_lock:
            had_token = self._token is not None
            self._token = None
        return had_token

    def access_token(self) -> str:
        """The cached token, fetched again once it is within `token_margin_s` of its expiry."""
        with self._token_lock:
            if self._token is None or self.clock() >= self._token_renew_at:
                self._token, lifetime_s = self._fetch_token()
                # A token shorter-lived than twice the margin is used for half its life instead.
                margin_s = min(self.token_margin_s, lifetime_s / 2)
                self._token_renew_at = self.clock() + lifetime_s - margin_s
            return self._token

    def _fetch_token(self) -> tuple[str, float]:
        # Form-encoded at its own URL (an absolute URL bypasses the client's base URL).
        response = self.send(
            "POST",
            self.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            headers={"Accept": "application/json"},
        )
        self.raise_for_status(response)
        data = self._json(response)
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamError(
                "spark token answer has no access_token",
                permanent=False,
                status_code=response.status_code,
            )
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise UpstreamError(
                f"spark issued a {token_type!r} token, not a Bearer token",
                permanent=True,
                status_code=response.status_code,
            )
        return token, token_lifetime_s(data.get("expires_in"), self.default_token_lifetime_s)

    # --- operations -------------------------------------------------------------------------------
    def create_user(self, payload: Mapping[str, Any] | None = None) -> str:
        """Seed §1 "Registering a User": POST /users -> userId."""
        data = self._post("/users", dict(payload or {}))
        return self._id(data, "userId")

    def create_vehicle(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """Seed §2 "Registering a Vehicle": the vehicleId is ours, so it is what we return."""
        self._post(f"/users/{_segment(user_id)}/vehicles", dict(payload))
        return str(payload["vehicleId"])

    def create_meter(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """Seed §3 "Registering a Meter": Spark assigns the meterId."""
        data = self._post(f"/users/{_segment(user_id)}/meters", dict(payload))
        return self._id(data, "meterId")

    def create_resource(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """Seed §4 "Registering a Resource": the resourceId is ours."""
        self._post(f"/users/{_segment(user_id)}/resources", dict(payload))
        return str(payload["resourceId"])

    def register_webhook(
        self, url: str, secret: str, operations: Iterable[str], event_types: Iterable[str]
    ) -> str:
        """Seed §5 "Creating a webhook": POST /webhooks -> webhookId."""
        data = self._post(
            "/webhooks",
            {
                "url": url,
                "webhookSecret": secret,
                "operations": list(operations),
                "eventTypes": list(event_types),
            },
        )
        return self._id(data, "webhookId")

    def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        """Seed §6 "Testing the Webhook": Spark sends a signed test event to the webhook's URL."""
        return self._post(f"/webhooks/{_segment(webhook_id)}/test", None)

    def delete_webhook(self, webhook_id: str) -> bool:
        """DELETE /webhooks/{webhookId}: not in the seed, but in the published API (the
        "Webhooks" calls of docs/upstreams/spark.md). True when Spark removed it; False when it had
        nothing to remove (404) or offers no removal (405); any other failure raises."""
        try:
            self.request("DELETE", f"/webhooks/{_segment(webhook_id)}")
        except UpstreamError as exc:
            if exc.status_code in (404, 405):
                return False
            raise
        return True

    def send_report(self, payload: Mapping[str, Any]) -> str:
        """Seed §7 "Sending a Report": POST /reports -> the report's id."""
        data = self._post("/reports", dict(payload))
        return self._id(data, "id")

    # --- operations of the current profile (swagger operation ids) -------------------------------
    # Every id is ours, so each create can be recognised after a lost answer by a GET of that id.
    def post_user(self, user_id: str) -> str:
        """PostUser: POST /users {userId} -> 201 {userId}."""
        data = self._post("/users", user_payload(user_id=user_id))
        return str(data.get("userId") or user_id)

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        """GetUserById: the user, or None when Spark has none with this id (404)."""
        return self._get_or_none(f"/users/{_segment(user_id)}")

    def post_location(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """PostLocation: POST /users/{userId}/locations -> 201 the location (409: already there)."""
        data = self._post(f"/users/{_segment(user_id)}/locations", dict(payload))
        return str(data.get("locationId") or payload["locationId"])

    def get_location(self, user_id: str, location_id: str) -> dict[str, Any] | None:
        """GetLocationByLocationId, or None (404)."""
        return self._get_or_none(f"/users/{_segment(user_id)}/locations/{_segment(location_id)}")

    def put_location(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """UpdateLocation: PUT /users/{userId}/locations/{locationId} with the whole location."""
        location_id = str(payload["locationId"])
        self.request(
            "PUT",
            f"/users/{_segment(user_id)}/locations/{_segment(location_id)}",
            json=dict(payload),
        )
        return location_id

    def post_vehicle(self, user_id: str, payload: Mapping[str, Any]) -> str:
        """PostVehicle: POST /users/{userId}/vehicles {resourceId, resourceType: "Vehicle"}."""
        data = self._post(f"/users/{_segment(user_id)}/vehicles", dict(payload))
        return str(data.get("resourceId") or payload["resourceId"])

    def post_location_resource(
        self, user_id: str, location_id: str, payload: Mapping[str, Any]
    ) -> str:
        """PostLocationBoundResource: POST /users/{userId}/locations/{locationId}/resources."""
        path = f"/users/{_segment(user_id)}/locations/{_segment(location_id)}/resources"
        data = self._post(path, dict(payload))
        return str(data.get("resourceId") or payload["resourceId"])

    def get_resource(self, resource_id: str) -> dict[str, Any] | None:
        """GetResourceById: a vehicle or a location-bound resource, or None (404)."""
        return self._get_or_none(f"/resources/{_segment(resource_id)}")

    def post_webhook(self, payload: Mapping[str, Any]) -> str:
        """PostWebhook: POST /webhooks -> 201 the webhook object, whose `webhookId` we keep."""
        data = self._post("/webhooks", dict(payload))
        return self._id(data, "webhookId")

    def simulate_event(self, kind: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Simulation | Events (sandbox only): POST /simulation/events/{kind}; Spark sends the
        event to every webhook subscribed to its notification type (the published API has no
        `/webhooks/{id}/test`). Answers `{simulatedEvent {id, createdAt, payload}}`."""
        if kind not in SIMULATIONS:
            raise ValueError(f"unknown Spark simulation {kind!r}")
        body = None if kind == "usereligibility" else dict(payload or {})  # it takes no body
        return self._post(f"/simulation/events/{kind}", body)

    # --- errors -----------------------------------------------------------------------------------
    def error_message(self, response: httpx.Response) -> str:
        if not response.content.strip():
            status = response.status_code
            return _EMPTY_BODY_MESSAGES.get(status) or response.reason_phrase.lower() or str(status)
        try:
            data = response.json()
        except ValueError:
            return super().error_message(response)
        if isinstance(data, str) and data.strip():
            # The published API answers many 400s (and some 404s) with a bare JSON string.
            return _short_text(data.strip())
        if isinstance(data, dict):
            if isinstance(data.get("error"), str):
                # OAuth2 token errors (RFC 6749 §5.2): {"error": "invalid_client", ...}
                description = data.get("error_description")
                return f"{data['error']}: {description}" if description else data["error"]
            if any(key in data for key in ("title", "detail", "errors")):
                return problem_message(data)
        return super().error_message(response)

    # --- plumbing ---------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any] | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {} if payload is None else {"json": payload}
        response = self.request("POST", path, **kwargs)
        return self._json(response) if response.content.strip() else {}

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        """A GET of a record by our id: its body, or None when Spark answers 404."""
        try:
            response = self.request("GET", path)
        except UpstreamError as exc:
            if exc.status_code == 404:
                return None
            raise
        return self._json(response)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamError(
                "spark answered with a body that is not JSON",
                permanent=False,
                status_code=response.status_code,
                answer_lost=response.is_success,  # it acted; we cannot read what it did
            ) from exc
        if not isinstance(data, dict):
            raise UpstreamError(
                "spark answered with JSON that is not an object",
                permanent=False,
                status_code=response.status_code,
                answer_lost=response.is_success,
            )
        return data

    def _id(self, data: Mapping[str, Any], key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            # A success without the id: the record is there, and we cannot tell which it is.
            raise UpstreamError(f"spark answered without {key}", permanent=False, answer_lost=True)
        return value


def problem_message(problem: Mapping[str, Any]) -> str:
    """One line from an RFC 9457 problem: its title, then each invalid field with its messages."""
    title = str(problem.get("title") or "").strip()
    detail = str(problem.get("detail") or "").strip()
    errors = problem.get("errors")
    fields: list[str] = []
    if isinstance(errors, Mapping):
        for field, messages in errors.items():
            texts = messages if isinstance(messages, list) else [messages]
            joined = " ".join(str(text).strip().rstrip(".") for text in texts)
            fields.append(f"{field}: {joined}")
    if fields:
        return f"{title} {'; '.join(fields)}".strip()
    if title and detail:
        return f"{title}: {detail}"
    return title or detail or "error"


def token_lifetime_s(expires_in: Any, default_s: float) -> float:
    """A token's lifetime from the answer's `expires_in` (seconds, a number or a numeric string);
    `default_s` when it is absent, unreadable, negative or not finite."""
    try:
        lifetime_s = float(expires_in)
    except (TypeError, ValueError):
        return default_s
    return lifetime_s if math.isfinite(lifetime_s) and lifetime_s >= 0 else default_s


def _short_text(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _segment(value: str) -> str:
    """An id as one URL path segment (ids are opaque: a `/` in one must not change the route)."""
    return quote(str(value), safe="")
