"""The Spark emulator's routes (WSGI): token, users, vehicles, meters, resources, webhooks."""

from __future__ import annotations

import hmac
import json
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from integrations.sandbox.base import Emulator, Request, Response

from .data import (
    DEFAULT_TOKEN_LIFETIME_S,
    EVENT_TYPES,
    LOCATION_TYPES,
    OPERATIONS,
    RESOURCE_TYPES,
    TOKEN_PATHS,
    SparkState,
    utc_now,
)
from .deliveries import Deliver, SparkDeliveries, http_deliver
from .validation import (
    FieldErrors,
    _check_charge_action,
    _check_hot_water_tank,
    _choice,
    _coordinates,
    _names,
    _number,
    _object,
    _reject_constant,
    _string,
    _unknown,
    empty,
    problem,
)


class SparkEmulator(SparkState, SparkDeliveries, Emulator):
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
