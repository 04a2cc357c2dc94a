"""The WattShift emulator: home onboarding (`ws` API) as docs/upstreams/wattshift.md describes it.

Contract: the quickstart profile of docs/upstreams/wattshift.md (seed 003, steps 1-4); the
price-signal answer follows WattShift's public price-signal page
(https://docs.wattshift.com/docs/optimize_shifts_calculate_impacts/price_signal), which the seed
only links to.

- Every endpoint is POST with a JSON body; any other method is 405 in the error envelope.
- Auth: `x-ws-api-key` (sandbox key `sandbox-wattshift-key`, more through `add_api_key`) or
  `Authorization: Bearer <sessionToken>` from `POST /v1/onboarding/session-token/generate`.
- Every error is the envelope
  `{request_id, error_code, message, field_errors, retry_after_seconds}`.
- `POST /v1/utility/get`: a malformed zip is 400 VALIDATION_FAILED; a well-formed zip nobody serves
  is `200 []`. The seed calls the answer "all utilities and rate plans for a given zip code", a
  list, and WattShift documents a 400 for an invalid zip but no 404, so "none" is an empty list.
- Utilities and rate plans come from `wattshift_utilities` (SANDBOX DATA, not real tariffs).
- Price signal: one $/kWh per 15-minute interval from `startTime` (not rounded: WattShift echoes
  the instant it was given) to `endTime`, default the next 24 h (96 values). The shape is the home's
  rate plan in the home's local time (zip -> IANA zone): cheap nights, a midday solar dip, an
  evening peak 16:00-21:00, plus a small hourly "wholesale" term hashed from the home id and the
  hour, so it is deterministic per home and instant.

The package: `data.py` (API key, vocabulary, state), `validation.py` (the contract checks),
`app.py` (the routes), `current.py` (`WattShiftCurrentEmulator`, the current published API, which
the sandbox registry builds for connections of the `current` profile).
"""

from __future__ import annotations

from .app import WattShiftEmulator
from .data import (
    AC_TYPES,
    DEFAULT_API_KEY,
    DEFAULT_RETRY_AFTER_S,
    DEFAULT_WINDOW,
    HOME_FLAGS,
    INTERVAL,
    MAX_WINDOW,
    WattShiftState,
    iso_z,
)
from .validation import FAULT_CODES, ApiError, WattShiftChecks, validation_failed

__all__ = [
    "AC_TYPES",
    "DEFAULT_API_KEY",
    "DEFAULT_RETRY_AFTER_S",
    "DEFAULT_WINDOW",
    "FAULT_CODES",
    "HOME_FLAGS",
    "INTERVAL",
    "MAX_WINDOW",
    "ApiError",
    "WattShiftChecks",
    "WattShiftEmulator",
    "WattShiftState",
    "iso_z",
    "validation_failed",
]
