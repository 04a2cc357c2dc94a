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

The package: `data.py` (the sandbox account, device schemas, state), `vocabulary.py` (the
contract's lists), `validation.py` (the contract checks), `app.py` (the routes).
"""

from __future__ import annotations

from .app import WattCarbonEmulator, multipart_file
from .data import (
    ADDRESS_FIELDS,
    COMMON_FIELDS,
    DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS,
    ENUM_FIELDS,
    KIND_SCHEMAS,
    SANDBOX_API_KEY,
    SANDBOX_EMAIL,
    STRING_FIELDS,
    ErrorList,
    WattCarbonState,
)
from .validation import (
    DATE_RE,
    MAX_ERRORS_REPORTED,
    SUNSET_ELEVATION_DEG,
    TIMESTAMP_RE,
    is_night_hour,
    parse_timeseries_csv,
    solar_elevation_deg,
    solar_flags,
    validate_device,
    validate_location,
    validation_error,
)

__all__ = [
    "ADDRESS_FIELDS",
    "COMMON_FIELDS",
    "DATE_RE",
    "DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS",
    "ENUM_FIELDS",
    "KIND_SCHEMAS",
    "MAX_ERRORS_REPORTED",
    "SANDBOX_API_KEY",
    "SANDBOX_EMAIL",
    "STRING_FIELDS",
    "SUNSET_ELEVATION_DEG",
    "TIMESTAMP_RE",
    "ErrorList",
    "WattCarbonEmulator",
    "WattCarbonState",
    "is_night_hour",
    "multipart_file",
    "parse_timeseries_csv",
    "solar_elevation_deg",
    "solar_flags",
    "validate_device",
    "validate_location",
    "validation_error",
]
