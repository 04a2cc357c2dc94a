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
A webhook belongs to the tenant that registered it (base.py, "Tenants").
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from integrations.sandbox.base import Emulator, Request, Response

from . import current_validation as v
from .app import _oauth_error
from .data import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SparkState, utc_now
from .deliveries import (
    DELIVERY_USER_AGENT,
    PUBLISHED_SIGNATURE_HEADER,
    Deliver,
    SparkDeliveries,
    http_deliver,
    signature,
)

TOKEN_LIFETIME_S = 3600  # docs.voluespark.com/authentication: 60 minutes
TOKEN_PATH = "/connect/token"
SIMULATION_NOTIFICATIONS = {
    "pricecurve": ("PriceCurve", "PriceCurveCreated"),
    "usereligibility": ("UserEligibility", "UserEligibilityUpdated"),
    "lpc/locations": ("LocationLPC", "LocationLPCRequested"),
    "lpc/resources": ("ResourceLPC", "ResourceLPCRequested"),
}
MAX_PAGE_SIZE = 1000


def _empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", headers or [])


class SparkCurrentEmulator(SparkState, SparkDeliveries, Emulator):
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
        return _empty(404)

    def method_not_allowed(self, request: Request) -> Response:
        return _empty(405)

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

    # --- bodies -----------------------------------------------------------------------------------
    def _read(
        self, request: Request, schema: v.Schema, style: str
    ) -> tuple[dict[str, Any], Response | None]:
        """The body checked against `schema`, or the refusal in the endpoint's shape."""
        if request.content_type != "application/json":
            return {}, _empty(415)
        try:
            data = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError):
            return {}, v.refuse("$", "The body is not valid JSON.", style)
        errors = v.Errors()
        v.check(data, schema, errors)
        if errors:
            return {}, v.refusal(errors, style)
        return data, None

    # --- users ------------------------------------------------------------------------------------
    def create_user(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_USER, v.STRING)
        if refusal is not None:
            return refusal
        user_id = data["userId"]
        if not user_id.strip():
            return v.refuse("userId", "Must not be empty.", v.STRING)
        if user_id in self.state["users"]:
            return _empty(409)
        self.state["users"][user_id] = {"userId": user_id}
        return Response.json(201, {"userId": user_id})

    def list_users(self, request: Request) -> Response:
        users = sorted(self.state["users"].values(), key=lambda user: user["userId"])
        return self._page(request, "users", users, v.STRING)

    def get_user(self, request: Request) -> Response:
        user = self.state["users"].get(request.params["user_id"])
        return Response.json(200, user) if user else _empty(404)

    def delete_user(self, request: Request) -> Response:
        user_id = request.params["user_id"]
        if self.state["users"].pop(user_id, None) is None:
            return _empty(404)
        self.state["locations"] = {
            key: loc for key, loc in self.state["locations"].items() if loc["userId"] != user_id
        }
        self.state["resources"] = {
            key: res for key, res in self.state["resources"].items() if res["userId"] != user_id
        }
        return _empty(204)

    # --- locations --------------------------------------------------------------------------------
    def create_location(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_LOCATION, v.STRING)
        if refusal is not None:
            return refusal
        if not data["locationId"].strip():
            return v.refuse("locationId", "Must not be empty.", v.STRING)
        user_id = request.params["user_id"]
        if user_id not in self.state["users"]:
            return _empty(404)
        if data["locationId"] in self.state["locations"]:
            return _empty(409)
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
            return _empty(404)
        found = [loc for loc in self.state["locations"].values() if loc["userId"] == user_id]
        return Response.json(200, found)

    def get_location(self, request: Request) -> Response:
        location = self._own_location(request)
        return Response.json(200, location) if location else _empty(404)

    def put_location(self, request: Request) -> Response:
        data, refusal = self._read(request, v.PUT_LOCATION, v.STRING)
        if refusal is not None:
            return refusal
        location = self._own_location(request)
        if location is None:
            return _empty(404)
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
            return _empty(404)
        merged = {**location, **{key: value for key, value in data.items() if value is not None}}
        taken = {
            point
            for other in self.state["locations"].values()
            if other["locationId"] != location["locationId"]
            for point in other["meterPointIds"]
        }
        if taken & set(merged.get("meterPointIds") or []):
            return _empty(409)  # a meter point belongs to one location
        updated = _location(merged, location["userId"])
        self.state["locations"][updated["locationId"]] = updated
        return Response.json(200, updated)

    def delete_location(self, request: Request) -> Response:
        location = self._own_location(request)
        if location is None:
            return _empty(404)
        del self.state["locations"][location["locationId"]]
        return _empty(204)

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
            return _empty(404)
        if data["resourceId"] in self.state["resources"]:
            return _empty(409)
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
            return _empty(409)
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
            return _empty(404)
        found = [r for r in self.state["resources"].values() if r["userId"] == user_id]
        return Response.json(200, {"resources": found})

    def list_location_resources(self, request: Request) -> Response:
        location = self._own_location(request)
        if location is None:
            return _empty(404)
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
            return _empty(404)
        return _empty(204)

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
        return Response.json(200, _public_webhook(webhook)) if webhook else _empty(404)

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
            return _empty(404)
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
        return _empty(204)

    # --- simulated events and their deliveries ----------------------------------------------------
    def _simulation(self, kind: str) -> Callable[[Request], Response]:
        def simulate(request: Request) -> Response:
            return self.simulate(kind, request)

        return simulate

    def simulate(self, kind: str, request: Request) -> Response:
        payload_type, notification_type = SIMULATION_NOTIFICATIONS[kind]
        data: dict[str, Any] = {}
        if kind == "usereligibility":
            if request.body.strip():
                return v.refuse("$", "This call takes no body.", v.STRING)
        else:
            schema = {
                "pricecurve": v.SIMULATE_PRICE_CURVE,
                "lpc/locations": v.SIMULATE_LOCATION_LPC,
                "lpc/resources": v.SIMULATE_RESOURCE_LPC,
            }[kind]
            data, refusal = self._read(request, schema, v.STRING)
            if refusal is not None:
                return refusal
        payload = self._simulated_payload(kind, payload_type, data)
        event = self.emit(payload, notification_type, tenant=request.tenant)
        return Response.json(200, {"simulatedEvent": _public_event(event)})

    def _simulated_payload(
        self, kind: str, payload_type: str, data: dict[str, Any]
    ) -> dict[str, Any]:
        hour = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        if kind == "pricecurve":
            rng = random.Random()
            curve = data.get("priceCurveDelta") or {
                "points": [
                    {
                        "price": round(rng.uniform(-0.5, 0.5), 4),  # a change, in NOK/kWh
                        "timestamp": (hour + timedelta(hours=n)).isoformat(),
                    }
                    for n in range(24)
                ],
                "energyUnit": "kWh",
                "currency": "NOK",
                "resolution": "01:00:00",
            }
            return {
                "payloadType": payload_type,
                "priceArea": data.get("priceArea") or rng.choice(v.PRICE_AREAS[1:]),
                "priceCurveDelta": curve,
                "targets": list(data.get("targets") or []),
            }
        if kind == "usereligibility":
            return {
                "payloadType": payload_type,
                "lastUpdated": utc_now(),
                "addedUsers": sorted(self.state["users"])[:5],
                "removedUsers": [],
            }
        targets = []
        for item in data.get("locations" if kind == "lpc/locations" else "resources") or []:
            target = dict(item.get("location") or item.get("resource") or {})
            target["resolution"] = "01:00:00"
            target["points"] = item.get("points") or [
                {"maxPowerInKiloWatts": 5.0, "timestamp": hour.isoformat()}
            ]
            targets.append(target)
        return {"payloadType": payload_type, "targets": targets}

    def emit(
        self, payload: dict[str, Any], notification_type: str, *, tenant: str | None = None
    ) -> dict[str, Any]:
        """Record an event and deliver it to the webhooks subscribed to `notification_type` (of
        `tenant` only, when given): also the Python entry of the sandbox and the tests."""
        with self.lock:
            event = {
                "id": str(uuid.uuid4()),
                "createdAt": utc_now(),
                "payload": payload,
                "tenant": tenant or "",
            }
            self.state["events"].append(event)
            for webhook in list(self.state["webhooks"].values()):
                if (
                    webhook["enabled"]
                    and notification_type in webhook["notificationTypes"]
                    and (tenant is None or webhook["tenant"] == tenant)
                ):
                    self._notify(webhook, event, notification_type)
            self.save()
        return event

    def _notify(
        self, webhook: dict[str, Any], event: dict[str, Any], notification_type: str
    ) -> None:
        """One signed EventNotification to one webhook (caller holds the lock)."""
        envelope = {
            "notificationId": str(uuid.uuid4()),
            "eventId": event["id"],
            "eventCreatedAtUtc": event["createdAt"],
            "notificationSentUtc": utc_now(),
            "notificationType": notification_type,
            "payload": event["payload"],
        }
        body = (json.dumps(envelope, separators=(",", ":")) + "\n").encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": DELIVERY_USER_AGENT,
            PUBLISHED_SIGNATURE_HEADER: signature(body, webhook["webhookSecret"]),
        }
        delivery = {
            "id": str(uuid.uuid4()),
            "webhook_id": webhook["webhookId"],
            "url": webhook["webhookUrl"],
            "notification_id": envelope["notificationId"],
            "event_id": event["id"],
            "notification_type": notification_type,
            "outcome": "pending",
            "attempts": 0,
            "status": None,
            "attempt_statuses": [],
            "error": "",
            "body": body.decode("utf-8"),
        }
        self.state["deliveries"].append(delivery)
        args = (delivery["id"], webhook["webhookUrl"], body, headers)
        if self.background:
            thread = threading.Thread(target=self._deliver, args=args, daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        else:
            self._deliver(*args)

    def list_events(self, request: Request) -> Response:
        events = [_public_event(e) for e in reversed(self.state["events"])]
        return self._page(request, "events", events, v.PROBLEM)

    def get_event(self, request: Request) -> Response:
        event = next(
            (e for e in self.state["events"] if e["id"] == request.params["event_id"]), None
        )
        return Response.json(200, _public_event(event)) if event else _empty(404)

    # --- reports ----------------------------------------------------------------------------------
    def create_report(self, request: Request) -> Response:
        data, refusal = self._read(request, v.POST_REPORT, v.STRING)
        if refusal is not None:
            return refusal
        errors = v.Errors()
        event_id = data.get("eventId")
        if event_id is not None and not any(e["id"] == event_id for e in self.state["events"]):
            errors.add("eventId", "No event with this id.")
        payloads = data.get("payloads") or []
        if not payloads:
            errors.add("payloads", "At least one payload is required.")
        for index, item in enumerate(payloads):
            self._check_usage(item, f"payloads[{index}]", errors)
        if errors:
            return v.refusal(errors, v.STRING)
        report = {"id": str(uuid.uuid4()), "eventId": event_id, "createdAt": utc_now()}
        self.state["reports"][report["id"]] = {**report, "payloads": payloads}
        return Response.json(200, report)

    def _check_usage(self, item: dict[str, Any], path: str, errors: v.Errors) -> None:
        kind = item.get("payloadType")
        if kind not in v.REPORT_PAYLOAD_TYPES:
            errors.add(
                f"{path}.payloadType", f"Must be one of: {', '.join(v.REPORT_PAYLOAD_TYPES)}."
            )
            return
        if kind not in v.OPEN_REPORT_PAYLOAD_TYPES:
            errors.add(f"{path}.payloadType", f"{kind} reports are open to invited partners only.")
            return
        before = len(errors.fields)
        v.check(item, v.ENERGY_USAGE, errors, path)
        if len(errors.fields) > before:
            return
        resource = self.state["resources"].get(item["resourceId"])
        if resource is None:
            errors.add(f"{path}.resourceId", "No resource with this id.")
        elif item.get("locationId") and item["locationId"] != resource["locationId"]:
            errors.add(f"{path}.locationId", "Not the resource's location.")
        step_s = v.time_span_s(item["resolution"]) or 0
        if step_s <= 0:
            errors.add(f"{path}.resolution", "Must be longer than zero.")
            return
        previous: datetime | None = None
        for index, point in enumerate(item.get("points") or []):
            instant = v.parse_instant(point["timestamp"])
            assert instant is not None  # checked by the schema
            where = f"{path}.points[{index}].timestamp"
            if instant.timestamp() % step_s:
                errors.add(where, f"Must start a period of {item['resolution']} (UTC).")
            if previous is not None and instant <= previous:
                errors.add(where, "Points must be in time order, one per period.")
            previous = instant

    # --- pages ------------------------------------------------------------------------------------
    def _page(self, request: Request, key: str, items: list[Any], style: str) -> Response:
        try:
            page = int(request.query.get("page", ["1"])[-1])
            size = int(request.query.get("pageSize", ["100"])[-1])
        except ValueError:
            return v.refuse("page", "page and pageSize must be integers.", style)
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return v.refuse("pageSize", f"page >= 1, 1 <= pageSize <= {MAX_PAGE_SIZE}.", style)
        total_pages = max(1, -(-len(items) // size))
        pagination = {
            "totalRecords": len(items),
            "pageSize": size,
            "currentPage": page,
            "totalPages": total_pages,
            "nextPage": page + 1 if page < total_pages else None,
            "previousPage": page - 1 if page > 1 else None,
        }
        return Response.json(
            200, {"pagination": pagination, key: items[(page - 1) * size : page * size]}
        )


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


def _public_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"id": event["id"], "createdAt": event["createdAt"], "payload": event["payload"]}


def _url_error(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "Must be an absolute http or https URL."
    return ""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
