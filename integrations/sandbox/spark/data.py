"""The Spark emulator's data: sandbox clients, the contract's vocabulary, the state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from integrations.sandbox.base import Emulator, Request, Response

DEFAULT_CLIENT_ID = "sandbox-spark-client"
DEFAULT_CLIENT_SECRET = "sandbox-spark-secret"
DEFAULT_TOKEN_LIFETIME_S = 1800  # seed: "The token is valid for 30 minutes"
TOKEN_PATHS = ("/oauth2/token", "/connect/token")

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


def utc_now() -> str:
    return datetime.now(UTC).isoformat()


class SparkState(Emulator):
    """The emulator's state and clients (mixed into SparkEmulator and SparkCurrentEmulator)."""

    clock: Callable[[], float]  # wall clock: token expiry instants are kept in the state

    def _authenticated(
        self, handler: Callable[[Request], Response]
    ) -> Callable[[Request], Response]:
        """`handler` behind the bearer check: a missing, unknown or expired token is an empty
        401 (both profiles)."""

        def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            grant = self.state["tokens"].get(token.strip()) if scheme.lower() == "bearer" else None
            if grant is None or grant["expires_at"] <= self.clock():
                error = 'Bearer error="invalid_token"' if token else "Bearer"
                return Response(401, b"", [("WWW-Authenticate", error)])
            return handler(request)

        return guarded

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
