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

The package: `data.py` (sandbox clients, vocabulary, state, the bearer check), `validation.py` (the
contract's field checks), `deliveries.py` (signing, webhook deliveries), `app.py` (the routes).
The current profile's emulator (the published v1 API) is `current.py` (`SparkCurrentEmulator`,
built by the registry for connections of that profile) with its schema checks in
`current_validation.py`.
"""

from __future__ import annotations

from .app import SparkEmulator
from .data import (
    ACTION_TYPES,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_LIFETIME_S,
    EVENT_TYPES,
    LOCATION_TYPES,
    OPERATION_PAST,
    OPERATIONS,
    REPORT_PAYLOAD_TYPES,
    RESOURCE_TYPES,
    TOKEN_PATHS,
    SparkState,
    utc_now,
)
from .deliveries import (
    DELIVERY_TIMEOUT,
    DELIVERY_USER_AGENT,
    MAX_DELIVERY_RETRIES,
    PUBLISHED_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    Deliver,
    SparkDeliveries,
    http_deliver,
    signature,
)
from .validation import PROBLEM_JSON, PROBLEM_TYPES, VALIDATION_TITLE, FieldErrors, empty, problem

__all__ = [
    "ACTION_TYPES",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TOKEN_LIFETIME_S",
    "DELIVERY_TIMEOUT",
    "DELIVERY_USER_AGENT",
    "EVENT_TYPES",
    "LOCATION_TYPES",
    "MAX_DELIVERY_RETRIES",
    "OPERATIONS",
    "OPERATION_PAST",
    "PROBLEM_JSON",
    "PROBLEM_TYPES",
    "PUBLISHED_SIGNATURE_HEADER",
    "REPORT_PAYLOAD_TYPES",
    "RESOURCE_TYPES",
    "SIGNATURE_HEADER",
    "TOKEN_PATHS",
    "VALIDATION_TITLE",
    "Deliver",
    "FieldErrors",
    "SparkDeliveries",
    "SparkEmulator",
    "SparkState",
    "empty",
    "http_deliver",
    "problem",
    "signature",
    "utc_now",
]
