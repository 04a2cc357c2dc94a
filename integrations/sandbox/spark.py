"""Volue Spark (Energy Coordination API) emulator: enforces docs/upstreams/spark.md.

What it holds callers to (the quickstart seed, tightened by the published API where the seed is
silent):
- OAuth2 client credentials, form-encoded only, at `POST /oauth2/token` (also `/connect/token`, the
  real token URL's path); bad credentials 401 `{"error": "invalid_client"}`; a missing, unknown or
  expired bearer is a 401 with an empty body on every API route.
- JSON bodies (`Content-Type: application/json`, else 415) with exactly the seed's fields: a
  missing, mistyped, out-of-range or unknown field is a 400 `application/problem+json` naming each
  field by its JSON path (`address.zipCode`, `payloads[0].stateOfCharge`).
- A child of an unknown user is a 404 with an empty body; a duplicate vehicleId, resourceId or
  meterPointId under one user is a 409.
- Webhook deliveries are signed over the exact bytes sent (`Spark-Signature` and
  `X-Payload-Signature`) by the emulator's own signing code, sent from a background thread, and
  retried up to 3 times on a non-2xx answer or a network error; each delivery and its attempts
  are kept in the state. `DELETE /webhooks/{id}` (published API, not in the seed) removes a
  registration: 204, or an empty 404 for an unknown (or another tenant's) webhook.

Sandbox controls besides the base ones: `POST /_sandbox/emit` (a PriceDelta event, JSON
`{"userIds": [...], "meterIds": [...], "resourceIds": [...], "operation": "Create"}`), and in
Python `add_client()`, `expire_tokens()`, `emit_price_delta()`, `wait_for_deliveries()`. A webhook belongs to the tenant
that registered it (base.py, "Tenants"): only that tenant can test it, and an event emitted for a
tenant reaches its webhooks alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from integrations.sandbox.base import REASONS, Emulator, Request, Response

# Delivers one webhook attempt: (url, body, headers) -> HTTP status; raises when it cannot connect.
Deliver = Callable[[str, bytes, dict[str, str]], int]

DEFAULT_CLIENT_ID = "sandbox-spark-client"
DEFAULT_CLIENT_SECRET = "sandbox-spark-secret"
DEFAULT_TOKEN_LIFETIME_S = 1800  # seed: "The token is valid for 30 minutes"
TOKEN_PATHS = ("/oauth2/token", "/connect/token")

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

# The seed lists `create`/`priceDelta` but its example sends `Create`/`PriceDelta`: any case is
# accepted and stored in the example's spelling.
OPERATIONS = {"create": "Create", "update": "Update", "delete": "Delete"}
EVENT_TYPES = {"pricedelta": "PriceDelta"}
# Past participles for `notificationType`, after the published API's `PriceCurveCreated`.
OPERATION_PAST = {"Create": "Created", "Update": "Updated", "Delete": "Deleted"}
LOCATION_TYPES = ("Unknown", "Residential", "Commercial", "Other")  # published LocationType enum
# Published ResourceType enum minus Vehicle (vehicles have their own route). Only HotWaterTank's
# metadata is documented (seed §4); the others' shapes are not public, so their metadata is kept as
# sent once `resourceType` is valid.
RESOURCE_TYPES = ("Generic", "Charger", "HotWaterTank", "HVAC", "SolarInverter")
ACTION_TYPES = ("Start", "Stop")
REPORT_PAYLOAD_TYPES = ("VehicleChargeAction",)

MAX_DELIVERY_RETRIES = 3  # docs/upstreams/spark.md: retried up to 3 times on a non-2xx answer
DELIVERY_TIMEOUT = httpx.Timeout(5.0)
DELIVERY_USER_AGENT = "Spark-Webhooks/1.0 (Gridfolio sandbox)"


# Signing is read from the contract here, not imported from the client (integrations/spark.py): the
# emulator is a second, independent reading, so a mistake in one shows up against the other.
SIGNATURE_HEADER = "Spark-Signature"  # seed §5
PUBLISHED_SIGNATURE_HEADER = "X-Payload-Signature"  # the published API's name for the same value


def signature(body: bytes, secret: str) -> str:
    """Base64 (standard, padded) of HMAC-SHA256 over the exact body bytes, keyed with the UTF-8
    webhook secret (docs/upstreams/spark.md, "Signature"; Volue's vector pins it)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def http_deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The default delivery transport: a real HTTP POST."""
    return httpx.post(url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT).status_code


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


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


class SparkEmulator(Emulator):
    """The Energy Coordination API as the portal uses it: users and children, webhooks, reports."""

    name = "spark"

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S,
        deliver: Deliver | None = None,
        background: bool = True,
        retry_delay_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_lifetime_s = token_lifetime_s
        self.deliver: Deliver = deliver or http_deliver
        # False: deliver inside the call that triggers it (in-process use without threads).
        self.background = background
        self.retry_delay_s = retry_delay_s  # times the attempt number; 0 in tests
        self.clock = clock  # wall clock: token expiry instants are kept in the (persisted) state
        self._threads: list[threading.Thread] = []
        super().__init__(state_path)

    # --- state ------------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {
            "clients": {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
            "tokens": {},  # access token -> {client_id, expires_at (epoch seconds)}
            "users": {},  # userId -> {userId, createdAtUtc, vehicles, meters, resources}
            "webhooks": {},  # webhookId -> the registration, normalised
            "events": [],  # every event emitted (test events included)
            "deliveries": [],  # one per (event, webhook): attempts, last status, outcome, body
            "reports": {},  # report id -> the report as received
        }

    def load(self) -> None:
        super().load()
        # A state file from an older emulator lacks newer keys.
        self.state = {**self.initial_state(), **self.state}

    def add_client(self, client_id: str, client_secret: str) -> None:
        with self.lock:
            self.state["clients"][client_id] = client_secret
            self.save()

    def expire_tokens(self) -> None:
        with self.lock:
            self.state["tokens"] = {}
            self.save()

    # --- routes -----------------------------------------------------------------------------------
    def setup_routes(self) -> None:
        for path in TOKEN_PATHS:
            self.route("POST", path, self.issue_token)
        user = r"/users/(?P<user_id>[^/]+)"
        self.route("POST", "/users", self._authenticated(self.create_user))
        self.route("POST", f"{user}/vehicles", self._authenticated(self.create_vehicle))
        self.route("POST", f"{user}/meters", self._authenticated(self.create_meter))
        self.route("POST", f"{user}/resources", self._authenticated(self.create_resource))
        self.route("POST", "/webhooks", self._authenticated(self.create_webhook))
        self.route(
            "DELETE", r"/webhooks/(?P<webhook_id>[^/]+)", self._authenticated(self.delete_webhook)
        )
        self.route(
            "POST", r"/webhooks/(?P<webhook_id>[^/]+)/test", self._authenticated(self.test_webhook)
        )
        self.route("POST", "/reports", self._authenticated(self.create_report))

    # --- platform-shaped errors -------------------------------------------------------------------
    def error_for_fault(self, status: int) -> Response:
        return problem(status)

    def not_found(self, request: Request) -> Response:
        return empty(404)

    def method_not_allowed(self, request: Request) -> Response:
        return empty(405)

    def malformed(self, request: Request) -> Response:
        errors = FieldErrors()
        errors.add("$", "The request body could not be read.")
        return errors.response()

    # --- auth -------------------------------------------------------------------------------------
    def issue_token(self, request: Request) -> Response:
        """Seed §Authentication: client credentials, form-encoded (RFC 6749 §4.4)."""
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "The token request must be form-encoded.")
        form = request.form()
        grant_type = form.get("grant_type", "")
        if grant_type != "client_credentials":
            error = "unsupported_grant_type" if grant_type else "invalid_request"
            return _oauth_error(400, error, "grant_type must be client_credentials.")
        client_id = form.get("client_id", "")
        known_secret = self.state["clients"].get(client_id)
        given_secret = form.get("client_secret", "")
        if known_secret is None or not hmac.compare_digest(
            known_secret.encode(), given_secret.encode()
        ):
            return _oauth_error(401, "invalid_client")
        now = self.clock()
        # Forget expired tokens so a long-running sandbox state does not grow without bound.
        self.state["tokens"] = {
            token: grant
            for token, grant in self.state["tokens"].items()
            if grant["expires_at"] > now
        }
        token = secrets.token_urlsafe(32)
        self.state["tokens"][token] = {
            "client_id": client_id,
            "expires_at": now + self.token_lifetime_s,
        }
        body = {
            "access_token": token,
            "expires_in": self.token_lifetime_s,
            "token_type": "Bearer",
        }
        response = Response.json(200, body)
        response.headers.append(("Cache-Control", "no-store"))
        return response

    def _authenticated(
        self, handler: Callable[[Request], Response]
    ) -> Callable[[Request], Response]:
        def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            grant = self.state["tokens"].get(token.strip()) if scheme.lower() == "bearer" else None
            if grant is None or grant["expires_at"] <= self.clock():
                error = 'Bearer error="invalid_token"' if token else "Bearer"
                return empty(401, [("WWW-Authenticate", error)])
            return handler(request)

        return guarded

    # --- users and their children (seed §1-§4) ----------------------------------------------------
    def create_user(self, request: Request) -> Response:
        data, refusal = self._body(request, allow_empty=True)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(data, ("userId",), errors)
        # The seed sends no fields; the published API lets the partner choose the id.
        user_id = _string(data, "userId", errors, required=False)
        if errors:
            return errors.response()
        user_id = user_id or str(uuid.uuid4())
        if user_id in self.state["users"]:
            return problem(409, detail=f"A user with userId '{user_id}' already exists.")
        self.state["users"][user_id] = {
            "userId": user_id,
            "createdAtUtc": utc_now(),
            "vehicles": {},
            "meters": {},
            "resources": {},
        }
        return Response.json(201, {"userId": user_id})

    def create_vehicle(self, request: Request) -> Response:
        data, refusal = self._body(request)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(data, ("vehicleId", "metadata"), errors)
        vehicle_id = _string(data, "vehicleId", errors)
        metadata = _object(data, "metadata", errors)
        if metadata is not None:
            _unknown(
                metadata, ("resourceType", "brand", "model", "year", "vin"), errors, "metadata"
            )
            _choice(metadata, "resourceType", ("Vehicle",), errors, "metadata")
            _string(metadata, "brand", errors, "metadata")
            _string(metadata, "model", errors, "metadata")
            latest_model_year = datetime.now(UTC).year + 2
            _number(
                metadata,
                "year",
                errors,
                "metadata",
                integer=True,
                minimum=1900,
                maximum=latest_model_year,
            )
            _string(metadata, "vin", errors, "metadata")
        if errors:
            return errors.response()
        user = self.state["users"].get(request.params["user_id"])
        if user is None:
            return empty(404)
        if vehicle_id in user["vehicles"]:
            detail = f"A vehicle with vehicleId '{vehicle_id}' is already registered for this user."
            return problem(409, detail=detail)
        user["vehicles"][vehicle_id] = data
        return Response.json(201, {"vehicleId": vehicle_id, "userId": user["userId"]})

    def create_meter(self, request: Request) -> Response:
        data, refusal = self._body(request)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(
            data,
            ("address", "location", "meterPointId", "meterNumber", "locationType"),
            errors,
        )
        address = _object(data, "address", errors)
        if address is not None:
            _unknown(address, ("street", "city", "zipCode"), errors, "address")
            for key in ("street", "city", "zipCode"):
                _string(address, key, errors, "address")  # zipCode too: "0150" is not 150
        _coordinates(data, "location", errors)
        meter_point_id = _string(data, "meterPointId", errors)
        _string(data, "meterNumber", errors)
        _choice(data, "locationType", LOCATION_TYPES, errors)
        if errors:
            return errors.response()
        user = self.state["users"].get(request.params["user_id"])
        if user is None:
            return empty(404)
        if any(meter["meterPointId"] == meter_point_id for meter in user["meters"].values()):
            detail = (
                f"A meter with meterPointId '{meter_point_id}' is already registered for this user."
            )
            return problem(409, detail=detail)
        meter_id = str(uuid.uuid4())
        user["meters"][meter_id] = data
        return Response.json(201, {"meterId": meter_id})

    def create_resource(self, request: Request) -> Response:
        data, refusal = self._body(request)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(data, ("resourceId", "metadata"), errors)
        resource_id = _string(data, "resourceId", errors)
        metadata = _object(data, "metadata", errors)
        resource_type: str | None = None
        if metadata is not None:
            resource_type = _string(metadata, "resourceType", errors, "metadata")
            if resource_type == "Vehicle":
                errors.add(
                    "metadata.resourceType",
                    "Vehicles are registered with POST /users/{userId}/vehicles.",
                )
            elif resource_type is not None and resource_type not in RESOURCE_TYPES:
                errors.add("metadata.resourceType", f"Must be one of: {', '.join(RESOURCE_TYPES)}.")
            elif resource_type == "HotWaterTank":
                _check_hot_water_tank(metadata, errors)
        if errors:
            return errors.response()
        user = self.state["users"].get(request.params["user_id"])
        if user is None:
            return empty(404)
        if resource_id in user["resources"]:
            detail = (
                f"A resource with resourceId '{resource_id}' is already registered for this user."
            )
            return problem(409, detail=detail)
        user["resources"][resource_id] = data
        body = {
            "resourceId": resource_id,
            "resourceType": resource_type,
            "userId": user["userId"],
        }
        return Response.json(201, body)

    # --- webhooks (seed §5, §6) -------------------------------------------------------------------
    def create_webhook(self, request: Request) -> Response:
        data, refusal = self._body(request)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(data, ("url", "webhookSecret", "operations", "eventTypes"), errors)
        url = _string(data, "url", errors)
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                errors.add("url", "Must be an absolute http or https URL.")
        secret = _string(data, "webhookSecret", errors)
        operations = _names(data, "operations", OPERATIONS, errors)
        event_types = _names(data, "eventTypes", EVENT_TYPES, errors)
        if errors:
            return errors.response()
        webhook_id = str(uuid.uuid4())
        self.state["webhooks"][webhook_id] = {
            "webhookId": webhook_id,
            "url": url,
            "webhookSecret": secret,
            "operations": operations,
            "eventTypes": event_types,
            "createdAtUtc": utc_now(),
            "tenant": request.tenant,  # whose webhook: sandbox events reach their tenant only
        }
        return Response.json(201, {"webhookId": webhook_id})

    def delete_webhook(self, request: Request) -> Response:
        """Published API only (the seed has no removal): 204, or an empty 404 when unknown."""
        webhook = self.state["webhooks"].get(request.params["webhook_id"])
        if webhook is None or webhook.get("tenant", "") != request.tenant:
            return empty(404)  # another tenant's webhook is as unknown as a missing one
        del self.state["webhooks"][webhook["webhookId"]]
        # Deliveries already started go on (an attempt in flight can still arrive).
        return empty(204)

    def test_webhook(self, request: Request) -> Response:
        webhook = self.state["webhooks"].get(request.params["webhook_id"])
        if webhook is None or webhook.get("tenant", "") != request.tenant:
            return empty(404)  # another tenant's webhook is as unknown as a missing one
        event = self._record_event(
            "Test", "Create", {"payloadType": "Test", "webhookId": webhook["webhookId"]}
        )
        delivery = self._dispatch(webhook, event, notification_type="WebhookTest")
        body = {
            "webhookId": webhook["webhookId"],
            "eventId": event["eventId"],
            "notificationId": delivery["notification_id"],
        }
        return Response.json(202, body)  # accepted: the delivery runs after this answer

    def emit_price_delta(
        self,
        user_ids: Iterable[str] | None = None,
        meter_ids: Iterable[str] | None = None,
        *,
        resource_ids: Iterable[str] | None = None,
        operation: str = "Create",
        price_area: str = "NO1",
        currency: str = "NOK",
        points: list[dict[str, Any]] | None = None,
        start: datetime | None = None,
        hours: int = 24,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Send a PriceDelta event to every webhook subscribed to PriceDelta and `operation`
        (of `tenant` only, when given: in sandbox mode every organization shares the emulator).

        The payload "names the affected users or meters" (UPSTREAMS.md) with the seed's own id
        fields, as lists: `userIds`, `meterIds`; resources go in the published API's
        `targets [{resourceId}]` (always present, empty as in Volue's vector: we have no
        locations, so no `locationId`). With no ids given, every registered user is named.
        Without `points`, `hours` hourly price changes from `start` (default: the next full hour).
        """
        canonical = OPERATIONS.get(operation.lower())
        if canonical is None:
            raise ValueError(f"unknown operation {operation!r}")
        with self.lock:
            self._reload_if_changed()
            if user_ids is None and meter_ids is None and resource_ids is None:
                user_ids = list(self.state["users"])
            payload: dict[str, Any] = {"payloadType": "PriceDelta"}
            if user_ids is not None:
                payload["userIds"] = [str(user_id) for user_id in user_ids]
            if meter_ids is not None:
                payload["meterIds"] = [str(meter_id) for meter_id in meter_ids]
            payload["targets"] = [{"resourceId": str(r)} for r in resource_ids or ()]
            payload["priceCurveDelta"] = {
                "points": points if points is not None else _price_points(start, hours),
                "energyUnit": "kWh",
                "currency": currency,
                "resolution": "01:00:00",
            }
            payload["priceArea"] = price_area
            event = self._record_event("PriceDelta", canonical, payload)
            deliveries = [
                self._dispatch(webhook, event)
                for webhook in self.state["webhooks"].values()
                if "PriceDelta" in webhook["eventTypes"]
                and canonical in webhook["operations"]
                and (tenant is None or webhook.get("tenant", "") == tenant)
            ]
            self.save()
        return {
            "eventId": event["eventId"],
            "notificationIds": [delivery["notification_id"] for delivery in deliveries],
            "deliveryIds": [delivery["id"] for delivery in deliveries],
        }

    def wait_for_deliveries(self, timeout_s: float = 10.0) -> bool:
        """Wait until every delivery started so far has finished; False on timeout."""
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [thread for thread in self._threads if thread.is_alive()]
        return not self._threads

    def _record_event(
        self, event_type: str, operation: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        event = {
            "eventId": str(uuid.uuid4()),
            "eventCreatedAtUtc": utc_now(),
            "eventType": event_type,
            "operation": operation,
            "payload": payload,
        }
        self.state["events"].append(event)
        return event

    def _dispatch(
        self,
        webhook: Mapping[str, Any],
        event: Mapping[str, Any],
        notification_type: str | None = None,
    ) -> dict[str, Any]:
        """Record one delivery of `event` to `webhook` and start it (caller holds the lock)."""
        envelope = {
            "notificationId": str(uuid.uuid4()),
            "eventId": event["eventId"],
            "eventCreatedAtUtc": event["eventCreatedAtUtc"],
            "notificationSentUtc": utc_now(),
            "notificationType": notification_type
            or f"{event['eventType']}{OPERATION_PAST[event['operation']]}",
            "operation": event["operation"],
            "eventType": event["eventType"],
            "payload": event["payload"],
        }
        # Compact JSON plus a trailing newline, as the published vector is sent: receivers must
        # verify the raw bytes, not a re-serialisation.
        body = (json.dumps(envelope, separators=(",", ":")) + "\n").encode("utf-8")
        signed = signature(body, webhook["webhookSecret"])
        headers = {
            "Content-Type": "application/json",
            "User-Agent": DELIVERY_USER_AGENT,
            SIGNATURE_HEADER: signed,
            PUBLISHED_SIGNATURE_HEADER: signed,
        }
        delivery = {
            "id": str(uuid.uuid4()),
            "webhook_id": webhook["webhookId"],
            "url": webhook["url"],
            "notification_id": envelope["notificationId"],
            "event_id": event["eventId"],
            "event_type": event["eventType"],
            "outcome": "pending",  # pending -> delivered | failed
            "attempts": 0,
            "status": None,  # HTTP status of the last attempt (None: no answer)
            "attempt_statuses": [],
            "error": "",
            "body": body.decode("utf-8"),
        }
        self.state["deliveries"].append(delivery)
        if self.background:
            thread = threading.Thread(
                target=self._deliver,
                args=(delivery["id"], webhook["url"], body, headers),
                name=f"spark-delivery-{delivery['id'][:8]}",
                daemon=True,
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        else:
            self._deliver(delivery["id"], webhook["url"], body, headers)
        return delivery

    def _deliver(self, delivery_id: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Send one delivery: the same bytes (same notificationId) on every attempt."""
        for attempt in range(1, MAX_DELIVERY_RETRIES + 2):
            status: int | None = None
            error = ""
            try:
                status = int(self.deliver(url, body, headers))
            except Exception as exc:  # any failure of the receiver is a failed attempt, not a crash
                error = f"{type(exc).__name__}: {exc}"
            succeeded = status is not None and 200 <= status < 300
            last = attempt > MAX_DELIVERY_RETRIES
            with self.lock:
                record = self._delivery(delivery_id)
                if record is None:
                    return  # the sandbox was reset meanwhile
                record["attempts"] = attempt
                record["status"] = status
                record["attempt_statuses"].append(status)
                record["error"] = error or ("" if succeeded else f"HTTP {status}")
                if succeeded:
                    record["outcome"] = "delivered"
                elif last:
                    record["outcome"] = "failed"
                self.save()
            if succeeded or last:
                return
            if self.retry_delay_s:
                time.sleep(self.retry_delay_s * attempt)

    def _delivery(self, delivery_id: str) -> dict[str, Any] | None:
        return next((d for d in self.state["deliveries"] if d["id"] == delivery_id), None)

    # --- reports (seed §7) ------------------------------------------------------------------------
    def create_report(self, request: Request) -> Response:
        data, refusal = self._body(request)
        if refusal is not None:
            return refusal
        errors = FieldErrors()
        _unknown(data, ("eventId", "name", "payloads"), errors)
        event_id = _string(data, "eventId", errors)
        _string(data, "name", errors)
        payloads = data.get("payloads")
        if payloads is None:
            errors.add("payloads", "The payloads field is required.")
        elif not isinstance(payloads, list) or not payloads:
            errors.add("payloads", "Must be a non-empty list.")
        else:
            vehicles = {
                vehicle_id
                for user in self.state["users"].values()
                for vehicle_id in user["vehicles"]
            }
            for index, item in enumerate(payloads):
                _check_charge_action(item, f"payloads[{index}]", vehicles, errors)
        if errors:
            return errors.response()
        report_id = str(uuid.uuid4())
        created_at = utc_now()
        self.state["reports"][report_id] = {**data, "id": report_id, "createdAt": created_at}
        return Response.json(201, {"id": report_id, "eventId": event_id, "createdAt": created_at})

    # --- sandbox controls -------------------------------------------------------------------------
    def control(self, action: str, request: Request) -> Response | None:
        if action == "emit" and request.method == "POST":
            try:
                data = request.json() if request.body.strip() else {}
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                keys = (
                    "userIds",
                    "user_ids",
                    "meterIds",
                    "meter_ids",
                    "resourceIds",
                    "resource_ids",
                )
                for key in keys:
                    if data.get(key) is not None and not isinstance(data[key], list):
                        raise ValueError(f"{key} must be a list of ids")
                result = self.emit_price_delta(
                    data.get("userIds", data.get("user_ids")),
                    data.get("meterIds", data.get("meter_ids")),
                    resource_ids=data.get("resourceIds", data.get("resource_ids")),
                    operation=str(data.get("operation", "Create")),
                    price_area=str(data.get("priceArea", "NO1")),
                    currency=str(data.get("currency", "NOK")),
                    points=data.get("points"),
                    tenant=request.tenant or None,
                )
            except ValueError as exc:
                return problem(400, detail=str(exc))
            return Response.json(200, result)
        return None

    # --- request bodies ---------------------------------------------------------------------------
    def _body(
        self, request: Request, *, allow_empty: bool = False
    ) -> tuple[dict[str, Any], Response | None]:
        """The JSON object in the body, or the refusal to answer with."""
        if not request.body.strip():
            if allow_empty:
                return {}, None
            errors = FieldErrors()
            errors.add("$", "A non-empty request body is required.")
            return {}, errors.response()
        if request.content_type != "application/json":
            return {}, problem(415)
        try:
            data = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError):
            errors = FieldErrors()
            errors.add("$", "The body is not valid JSON.")
            return {}, errors.response()
        if not isinstance(data, dict):
            errors = FieldErrors()
            errors.add("$", "The body must be a JSON object.")
            return {}, errors.response()
        return data, None


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


def _price_points(start: datetime | None, hours: int) -> list[dict[str, Any]]:
    """Hourly price changes, shaped like the published vector's `priceCurveDelta.points`."""
    first = start or (datetime.now(UTC) + timedelta(hours=1)).replace(
        minute=0, second=0, microsecond=0
    )
    rng = random.Random()
    return [
        {
            "price": round(rng.uniform(-0.5, 0.5), 5),
            "timestamp": (first + timedelta(hours=hour)).astimezone(UTC).isoformat(),
        }
        for hour in range(hours)
    ]


def _oauth_error(status: int, error: str, description: str | None = None) -> Response:
    """RFC 6749 §5.2 error answer of the token endpoint."""
    body = {"error": error}
    if description:
        body["error_description"] = description
    response = Response.json(status, body)
    response.headers.append(("Cache-Control", "no-store"))
    return response
