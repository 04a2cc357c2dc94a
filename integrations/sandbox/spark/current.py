"""The emulator of Volue Spark's published Energy Coordination API v1 (the `current` profile).

What it holds callers to (docs/upstreams/spark.md, "Current"; the published swagger):
- OAuth2 client credentials at `POST /connect/token`, form-encoded; tokens last 60 minutes and the
  answer says so in `expires_in`; a missing, unknown or expired bearer is an empty 401.
- JSON bodies checked against the published schemas (current_validation.py): every property a
  schema does not define is refused, enums are PascalCase, and each endpoint answers a 400 in its
  published shape (a bare JSON string, or problem+json for vehicles, webhooks and events).
- The client chooses every id: a second create with an id already taken is an empty 409; a child
  of an unknown user or location is a 404 (empty, or a string where the swagger says so). Every
  created record can be read back with a GET of its id.
- No `/webhooks/{id}/test`: the sandbox's simulation calls (`/simulation/events/...`) create an
  event and deliver it to the calling tenant's webhooks subscribed to its notification type,
  signed in `X-Payload-Signature` only (HMAC-SHA256 over the exact bytes, base64), retried as the
  quickstart emulator does (deliveries.py).
- `POST /reports` takes EnergyUsage payloads for known resources; the location and LPC report
  types are invite-only and refused.
A webhook belongs to the tenant that registered it (base.py, "Tenants"). The schema checks are in
current_validation.py; simulations, deliveries, reports and the event list in current_events.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from integrations.sandbox.base import Emulator, Request, Response

from . import current_validation as v
from .app import _oauth_error
from .current_events import SIMULATION_NOTIFICATIONS, SparkCurrentEvents, empty
from .data import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SparkState, utc_now
from .deliveries import Deliver, http_deliver

TOKEN_LIFETIME_S = 3600  # docs.voluespark.com/authentication: 60 minutes
TOKEN_PATH = "/connect/token"


class SparkCurrentEmulator(SparkState, SparkCurrentEvents, Emulator):
    """Users, locations, resources, webhooks, simulated events and reports of the published API."""

    name = "spark-current"

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        token_lifetime_s: int = TOKEN_LIFETIME_S,
        send_expires_in: bool = True,
        deliver: Deliver | None = None,
        background: bool = True,
        retry_delay_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_lifetime_s = token_lifetime_s
        self.send_expires_in = send_expires_in  # False: a token answer without `expires_in`
        self.deliver: Deliver = deliver or http_deliver
        self.background = background
        self.retry_delay_s = retry_delay_s
        self.clock = clock
        self._threads: list[threading.Thread] = []
        super().__init__(state_path)

    def initial_state(self) -> dict[str, Any]:
        return {
            "clients": {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET},
            "tokens": {},
            "users": {},  # userId -> {userId}
            "locations": {},  # locationId -> the location, with its userId
            "resources": {},  # resourceId -> {resourceId, resourceType, userId, locationId, ...}
            "webhooks": {},  # webhookId -> the webhook object, its secret and tenant
            "events": [],  # {id, createdAt, payload, tenant}
            "deliveries": [],
            "reports": {},
        }

    # --- routes -----------------------------------------------------------------------------------
    def setup_routes(self) -> None:
        auth = self._authenticated
        user = r"/users/(?P<user_id>[^/]+)"
        location = rf"{user}/locations/(?P<location_id>[^/]+)"
        webhook = r"/webhooks/(?P<webhook_id>[^/]+)"
        self.route("POST", TOKEN_PATH, self.issue_token)
        self.route("GET", "/users", auth(self.list_users))
        self.route("POST", "/users", auth(self.create_user))
        self.route("GET", user, auth(self.get_user))
        self.route("DELETE", user, auth(self.delete_user))
        self.route("GET", f"{user}/locations", auth(self.list_locations))
        self.route("POST", f"{user}/locations", auth(self.create_location))
        self.route("GET", location, auth(self.get_location))
        self.route("PUT", location, auth(self.put_location))
        self.route("PATCH", location, auth(self.patch_location))
        self.route("DELETE", location, auth(self.delete_location))
        self.route("POST", f"{user}/vehicles", auth(self.create_vehicle))
        self.route("GET", f"{user}/resources", auth(self.list_user_resources))
        self.route("GET", f"{location}/resources", auth(self.list_location_resources))
        self.route("POST", f"{location}/resources", auth(self.create_location_resource))
        self.route("GET", r"/resources/(?P<resource_id>[^/]+)", auth(self.get_resource))
        self.route("DELETE", r"/resources/(?P<resource_id>[^/]+)", auth(self.delete_resource))
        self.route("GET", "/webhooks", auth(self.list_webhooks))
        self.route("POST", "/webhooks", auth(self.create_webhook))
        self.route("GET", webhook, auth(self.get_webhook))
        self.route("PUT", webhook, auth(self.put_webhook))
        self.route("PATCH", webhook, auth(self.patch_webhook))
        self.route("DELETE", webhook, auth(self.delete_webhook))
        for kind in SIMULATION_NOTIFICATIONS:
            self.route("POST", f"/simulation/events/{kind}", auth(self._simulation(kind)))
        self.route("POST", "/reports", auth(self.create_report))
        self.route("GET", "/events", auth(self.list_events))
        self.route("GET", r"/events/(?P<event_id>[^/]+)", auth(self.get_event))

    # --- platform-shaped answers ------------------------------------------------------------------
    def error_for_fault(self, status: int) -> Response:
        return Response.json(status, {"title": f"HTTP {status}", "status": status})

    def not_found(self, request: Request) -> Response:
        return empty(404)

    def method_not_allowed(self, request: Request) -> Response:
        return empty(405)

    def malformed(self, request: Request) -> Response:
        return Response.json(400, "The request body could not be read.")

    # --- auth -------------------------------------------------------------------------------------
    def issue_token(self, request: Request) -> Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "The token request must be form-encoded.")
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type")
        known = self.state["clients"].get(form.get("client_id", ""))
        if known is None or known != form.get("client_secret", ""):
            return _oauth_error(401, "invalid_client")
        now = self.clock()
        tokens = {t: g for t, g in self.state["tokens"].items() if g["expires_at"] > now}
        token = uuid.uuid4().hex + uuid.uuid4().hex
        tokens[token] = {"client_id": form["client_id"], "expires_at": now + self.token_lifetime_s}
        self.state["tokens"] = tokens
        body: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.send_expires_in:
            body["expires_in"] = self.token_lifetime_s
        return Response.json(200, body)

    # --- users ------------------------------------------------------------------------------------
    def create_user(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_USER, v.STRING)
        if refusal is not None:
            return refusal
        user_id = data["userId"]
        if not user_id.strip():
            return v.refuse("userId", "Must not be empty.", v.STRING)
        if user_id in self.state["users"]:
            return empty(409)
        self.state["users"][user_id] = {"userId": user_id}
        return Response.json(201, {"userId": user_id})

    def list_users(self, request: Request) -> Response:
        users = sorted(self.state["users"].values(), key=lambda user: user["userId"])
        return self._page(request, "users", users, v.STRING)

    def get_user(self, request: Request) -> Response:
        user = self.state["users"].get(request.params["user_id"])
        return Response.json(200, user) if user else empty(404)

    def delete_user(self, request: Request) -> Response:
        user_id = request.params["user_id"]
        if self.state["users"].pop(user_id, None) is None:
            return empty(404)
        self.state["locations"] = {
            key: loc for key, loc in self.state["locations"].items() if loc["userId"] != user_id
        }
        self.state["resources"] = {
            key: res for key, res in self.state["resources"].items() if res["userId"] != user_id
        }
        return empty(204)

    # --- locations --------------------------------------------------------------------------------
    def create_location(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_LOCATION, v.STRING)
        if refusal is not None:
            return refusal
        if not data["locationId"].strip():
            return v.refuse("locationId", "Must not be empty.", v.STRING)
        user_id = request.params["user_id"]
        if user_id not in self.state["users"]:
            return empty(404)
        if data["locationId"] in self.state["locations"]:
            return empty(409)
        location = _location(data, user_id)
        self.state["locations"][location["locationId"]] = location
        return Response.json(201, location)

    def _own_location(self, request: Request) -> dict[str, Any] | None:
        location = self.state["locations"].get(request.params["location_id"])
        if location is None or location["userId"] != request.params["user_id"]:
            return None
        return location

    def list_locations(self, request: Request) -> Response:
        user_id = request.params["user_id"]
        if user_id not in self.state["users"]:
            return empty(404)
        found = [loc for loc in self.state["locations"].values() if loc["userId"] == user_id]
        return Response.json(200, found)

    def get_location(self, request: Request) -> Response:
        location = self._own_location(request)
        return Response.json(200, location) if location else empty(404)

    def put_location(self, request: Request) -> Response:
        data, refusal = self._read(request, v.PUT_LOCATION, v.STRING)
        if refusal is not None:
            return refusal
        location = self._own_location(request)
        if location is None:
            return empty(404)
        if data["locationId"] != location["locationId"]:
            return v.refuse("locationId", "Must be the location's id in the path.", v.STRING)
        updated = _location(data, location["userId"])
        self.state["locations"][updated["locationId"]] = updated
        return Response.json(200, updated)

    def patch_location(self, request: Request) -> Response:
        data, refusal = self._read(request, v.PATCH_LOCATION, v.STRING)
        if refusal is not None:
            return refusal
        location = self._own_location(request)
        if location is None:
            return empty(404)
        merged = {**location, **{key: value for key, value in data.items() if value is not None}}
        taken = {
            point
            for other in self.state["locations"].values()
            if other["locationId"] != location["locationId"]
            for point in other["meterPointIds"]
        }
        if taken & set(merged.get("meterPointIds") or []):
            return empty(409)  # a meter point belongs to one location
        updated = _location(merged, location["userId"])
        self.state["locations"][updated["locationId"]] = updated
        return Response.json(200, updated)

    def delete_location(self, request: Request) -> Response:
        location = self._own_location(request)
        if location is None:
            return empty(404)
        del self.state["locations"][location["locationId"]]
        return empty(204)

    # --- resources --------------------------------------------------------------------------------
    def create_vehicle(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_VEHICLE, v.PROBLEM)
        if refusal is not None:
            return refusal
        if data["resourceType"] != "Vehicle":
            return v.refuse("resourceType", "Must be Vehicle on this route.", v.PROBLEM)
        if not data["resourceId"].strip():
            return v.refuse("resourceId", "Must not be empty.", v.PROBLEM)
        user_id = request.params["user_id"]
        if user_id not in self.state["users"]:
            return empty(404)
        if data["resourceId"] in self.state["resources"]:
            return empty(409)
        resource = {**data, "userId": user_id, "locationId": None, "meterPointId": None}
        self.state["resources"][data["resourceId"]] = resource
        return Response.json(201, resource)

    def create_location_resource(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_LOCATION_RESOURCE, v.STRING)
        if refusal is not None:
            return refusal
        if not data["resourceId"].strip():
            return v.refuse("resourceId", "Must not be empty.", v.STRING)
        location = self._own_location(request)
        if location is None:
            return Response.json(404, "The user or the location was not found.")
        point = data.get("meterPointId")
        if point and point not in location["meterPointIds"]:
            return v.refuse("meterPointId", "Not one of the location's meterPointIds.", v.STRING)
        if data["resourceId"] in self.state["resources"]:
            return empty(409)
        resource = {
            "resourceId": data["resourceId"],
            "resourceType": data["resourceType"],
            "locationId": location["locationId"],
            "userId": location["userId"],
            "meterPointId": point,
        }
        self.state["resources"][data["resourceId"]] = resource
        return Response.json(201, resource)

    def list_user_resources(self, request: Request) -> Response:
        user_id = request.params["user_id"]
        if user_id not in self.state["users"]:
            return empty(404)
        found = [r for r in self.state["resources"].values() if r["userId"] == user_id]
        return Response.json(200, {"resources": found})

    def list_location_resources(self, request: Request) -> Response:
        location = self._own_location(request)
        if location is None:
            return empty(404)
        found = [
            r for r in self.state["resources"].values() if r["locationId"] == location["locationId"]
        ]
        return Response.json(200, found)

    def get_resource(self, request: Request) -> Response:
        resource = self.state["resources"].get(request.params["resource_id"])
        if resource is None:
            return Response.json(404, "The resource was not found.")
        return Response.json(200, resource)

    def delete_resource(self, request: Request) -> Response:
        if self.state["resources"].pop(request.params["resource_id"], None) is None:
            return empty(404)
        return empty(204)

    # --- webhooks ---------------------------------------------------------------------------------
    def _own_webhook(self, request: Request) -> dict[str, Any] | None:
        webhook = self.state["webhooks"].get(request.params["webhook_id"])
        if webhook is None or webhook["tenant"] != request.tenant:
            return None  # another tenant's webhook is as unknown as a missing one
        return webhook

    def create_webhook(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_WEBHOOK, v.PROBLEM)
        if refusal is not None:
            return refusal
        url_error = _url_error(data["webhookUrl"])
        if url_error:
            return v.refuse("webhookUrl", url_error, v.PROBLEM)
        now = utc_now()
        webhook = {
            "webhookId": str(uuid.uuid4()),
            "webhookUrl": data["webhookUrl"],
            "name": data.get("name"),
            "notificationTypes": list(data.get("notificationTypes") or []),
            "enabled": True,
            "status": "New",
            "modifiedDate": now,
            "createdDate": now,
            "lastAnalyzedTimestamp": now,
        }
        self.state["webhooks"][webhook["webhookId"]] = {
            **webhook,
            "webhookSecret": data.get("webhookSecret") or "",
            "tenant": request.tenant,
        }
        return Response.json(201, webhook)

    def list_webhooks(self, request: Request) -> Response:
        own = [
            _public_webhook(w)
            for w in self.state["webhooks"].values()
            if w["tenant"] == request.tenant
        ]
        return Response.json(200, {"webhooks": own})

    def get_webhook(self, request: Request) -> Response:
        webhook = self._own_webhook(request)
        return Response.json(200, _public_webhook(webhook)) if webhook else empty(404)

    def put_webhook(self, request: Request) -> Response:
        return self._change_webhook(request, v.PUT_WEBHOOK)

    def patch_webhook(self, request: Request) -> Response:
        return self._change_webhook(request, v.PATCH_WEBHOOK)

    def _change_webhook(self, request: Request, schema: v.Schema) -> Response:
        data, refusal = self._read(request, schema, v.PROBLEM)
        if refusal is not None:
            return refusal
        webhook = self._own_webhook(request)
        if webhook is None:
            return empty(404)
        url_error = _url_error(data["webhookUrl"]) if data.get("webhookUrl") else ""
        if url_error:
            return v.refuse("webhookUrl", url_error, v.PROBLEM)
        for key, value in data.items():
            if value is not None:
                webhook[key] = value
        webhook["modifiedDate"] = utc_now()
        return Response.json(200, _public_webhook(webhook))

    def delete_webhook(self, request: Request) -> Response:
        webhook = self._own_webhook(request)
        if webhook is None:
            return Response.json(404, "The webhook was not found.")
        del self.state["webhooks"][webhook["webhookId"]]
        return empty(204)


def _location(data: dict[str, Any], user_id: str) -> dict[str, Any]:
    """GetLocationResponse of a location as sent (the deprecated single id folded in)."""
    points = list(data.get("meterPointIds") or [])
    if data.get("meterPointId") and data["meterPointId"] not in points:
        points.insert(0, data["meterPointId"])
    return {
        "locationId": data["locationId"],
        "locationType": data.get("locationType") or "Unknown",
        "coordinates": data.get("coordinates"),
        "meterPointId": points[0] if points else None,
        "meterPointIds": points,
        "userId": user_id,
    }


def _public_webhook(webhook: dict[str, Any]) -> dict[str, Any]:
    """GetWebhookResponse: never the secret, never the tenant."""
    return {k: val for k, val in webhook.items() if k not in ("webhookSecret", "tenant")}


def _url_error(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Must be an absolute http or https URL."
    return ""
