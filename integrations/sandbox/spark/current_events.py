"""The current Spark emulator's bodies, pages, simulated events with their signed deliveries, and
reports (mixed into SparkCurrentEmulator, current.py)."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.sandbox.base import Request, Response

from . import current_validation as v
from .data import utc_now
from .deliveries import DELIVERY_USER_AGENT, PUBLISHED_SIGNATURE_HEADER, SparkDeliveries, signature

SIMULATION_NOTIFICATIONS = {
    "pricecurve": ("PriceCurve", "PriceCurveCreated"),
    "usereligibility": ("UserEligibility", "UserEligibilityUpdated"),
    "lpc/locations": ("LocationLPC", "LocationLPCRequested"),
    "lpc/resources": ("ResourceLPC", "ResourceLPCRequested"),
}
MAX_PAGE_SIZE = 1000


def empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", headers or [])


class SparkCurrentEvents(SparkDeliveries):
    """What SparkCurrentEmulator does besides keeping records."""

    # --- bodies -----------------------------------------------------------------------------------
    def _read(
        self, request: Request, schema: v.Schema, style: str
    ) -> tuple[dict[str, Any], Response | None]:
        """The body checked against `schema`, or the refusal in the endpoint's shape."""
        if request.content_type != "application/json":
            return {}, empty(415)
        try:
            data = json.loads(request.body.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError):
            return {}, v.refuse("$", "The body is not valid JSON.", style)
        errors = v.Errors()
        v.check(data, schema, errors)
        if errors:
            return {}, v.refusal(errors, style)
        return data, None

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
        return Response.json(200, _public_event(event)) if event else empty(404)

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


def _public_event(event: dict[str, Any]) -> dict[str, Any]:
    return {"id": event["id"], "createdAt": event["createdAt"], "payload": event["payload"]}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
