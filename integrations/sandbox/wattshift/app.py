"""The WattShift emulator's routes (WSGI): session token, utilities, homes, solar, prices."""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.sandbox.base import Emulator, Request, Response
from integrations.sandbox.wattshift_utilities import (
    EV,
    FLAT,
    RATE_PLANS_BY_ID,
    UTILITIES_BY_ID,
    normalize_zip,
    stable_hash,
    timezone_for_zip,
    utilities_for_zip,
    zip_info,
)

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


class WattShiftEmulator(WattShiftState, WattShiftChecks, Emulator):
    """WSGI emulator of WattShift's home-onboarding API."""

    name = "wattshift"

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        now: Callable[[], datetime] | None = None,
    ) -> None:
        # Keys are configuration, not data: they survive `/_sandbox/reset`.
        self.api_keys = set(api_keys)
        self.now = now or (lambda: datetime.now(UTC))
        super().__init__(state_path)

    def setup_routes(self) -> None:
        # Minting a session token is a backend call: it takes the API key, not another token.
        self.route(
            "POST",
            "/v1/onboarding/session-token/generate",
            self._api(self.session_token, api_key_only=True),
        )
        self.route("POST", "/v1/utility/get", self._api(self.get_utilities))
        self.route("POST", "/v1/homes/create", self._api(self.create_home))
        self.route("POST", "/v1/homes/solar/create", self._api(self.create_solar))
        self.route(
            "POST", "/v1/homes/(?P<home_id>[^/]+)/price_signal", self._api(self.price_signal)
        )

    # --- the error envelope -------------------------------------------------------------------
    def error(
        self,
        status: int,
        error_code: str,
        message: str,
        field_errors: list[dict[str, str]] | None = None,
        retry_after_seconds: float | None = None,
    ) -> Response:
        request_id = self.new_id("req_")
        response = Response.json(
            status,
            {
                "request_id": request_id,
                "error_code": error_code,
                "message": message,
                "field_errors": field_errors or [],
                "retry_after_seconds": retry_after_seconds,
            },
        )
        response.headers.append(("X-Request-Id", request_id))
        return response

    def error_for_fault(self, status: int) -> Response:
        code = FAULT_CODES.get(status, "INTERNAL_ERROR")
        retry_after = self.faults.retry_after
        if status == 429 and retry_after is None:
            # A rate limit always says when to come back: in the body and in the header
            # (the base adds the header itself only when the fault names a value).
            response = self.error(
                429, code, "Too many requests.", retry_after_seconds=DEFAULT_RETRY_AFTER_S
            )
            response.headers.append(("Retry-After", str(DEFAULT_RETRY_AFTER_S)))
            return response
        message = "Too many requests." if status == 429 else f"Injected failure ({status})."
        return self.error(status, code, message, retry_after_seconds=retry_after)

    def not_found(self, request: Request) -> Response:
        return self.error(404, "NOT_FOUND", f"No such endpoint: {request.path}")

    def method_not_allowed(self, request: Request) -> Response:
        response = self.error(
            405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed: every endpoint is POST."
        )
        response.headers.append(("Allow", "POST"))
        return response

    def malformed(self, request: Request) -> Response:
        return self.error(400, "VALIDATION_FAILED", "Request body is not valid JSON.")

    # --- auth and body ------------------------------------------------------------------------
    def _api(
        self,
        handler: Callable[[Request, dict[str, Any]], Response],
        *,
        api_key_only: bool = False,
    ) -> Callable[[Request], Response]:
        """Authenticate, parse the JSON body, run the handler; any ApiError becomes the envelope."""

        def run(request: Request) -> Response:
            try:
                self.authenticate(request, api_key_only=api_key_only)
                return handler(request, self.json_body(request))
            except ApiError as exc:
                return self.error(exc.status, exc.error_code, exc.message, exc.field_errors)

        return run

    def authenticate(self, request: Request, *, api_key_only: bool = False) -> None:
        api_key = request.headers.get("x-ws-api-key")
        if api_key is not None:
            if api_key not in self.api_keys:
                raise ApiError(401, "AUTH_INVALID_API_KEY", "Invalid x-ws-api-key.")
            return
        authorization = request.headers.get("authorization", "")
        if authorization and not api_key_only:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or token.strip() not in self.state["session_tokens"]:
                raise ApiError(401, "AUTH_INVALID_API_KEY", "Invalid or expired session token.")
            return
        raise ApiError(401, "AUTH_MISSING_API_KEY", "Missing x-ws-api-key header.")

    # --- endpoints ----------------------------------------------------------------------------
    def session_token(self, request: Request, body: dict[str, Any]) -> Response:
        """Seed 003, "How to Get a Session Token"."""
        token = f"ws_st_{secrets.token_urlsafe(24)}"
        self.state["session_tokens"].append(token)
        return Response.json(200, {"sessionToken": token})

    def get_utilities(self, request: Request, body: dict[str, Any]) -> Response:
        """Seed 003, step 1: `{zipcode}` -> `[{utilityId, utilityName, wsRatePlans}]`."""
        errors = self.unknown_fields(body, ["zipcode"])
        zipcode = body.get("zipcode")
        if zipcode is None:
            errors.append({"field": "zipcode", "message": "is required"})
        elif not isinstance(zipcode, str) or normalize_zip(zipcode) is None:
            errors.append({"field": "zipcode", "message": "must be 5 digits, optionally -NNNN"})
        if errors:
            raise validation_failed(errors)
        assert isinstance(zipcode, str)  # no errors: a valid zip code
        return Response.json(200, [utility.as_api() for utility in utilities_for_zip(zipcode)])

    def create_home(self, request: Request, body: dict[str, Any]) -> Response:
        """Seed 003, step 2: `{name, zipcode, utilityId, ratePlanId, has*, acType}` -> `{id}`."""
        allowed = ["name", "zipcode", "utilityId", "ratePlanId", *HOME_FLAGS, "acType"]
        errors = self.unknown_fields(body, allowed)

        name = body.get("name")
        if name is None:
            errors.append({"field": "name", "message": "is required"})
        elif not isinstance(name, str) or not name.strip() or len(name) > 255:
            errors.append({"field": "name", "message": "must be a string of 1-255 characters"})

        zip5 = None
        zipcode = body.get("zipcode")
        if zipcode is None:
            errors.append({"field": "zipcode", "message": "is required"})
        elif not isinstance(zipcode, str) or normalize_zip(zipcode) is None:
            errors.append({"field": "zipcode", "message": "must be 5 digits, optionally -NNNN"})
        elif zip_info(normalize_zip(zipcode) or "") is None:
            errors.append({"field": "zipcode", "message": f"{zipcode} is not a known zip code"})
        else:
            zip5 = normalize_zip(zipcode)

        utility = None
        utility_id = body.get("utilityId")
        if utility_id is None:
            errors.append({"field": "utilityId", "message": "is required"})
        elif not isinstance(utility_id, str) or utility_id not in UTILITIES_BY_ID:
            errors.append({"field": "utilityId", "message": f"unknown utility {utility_id!r}"})
        else:
            utility = UTILITIES_BY_ID[utility_id]
            # Stricter than the docs say: catches a wizard that kept a utility after the
            # user changed the zip code.
            if zip5 and utility not in utilities_for_zip(zip5):
                errors.append({"field": "utilityId", "message": f"does not serve zip code {zip5}"})

        rate_plan_id = body.get("ratePlanId")
        if rate_plan_id is None:
            errors.append({"field": "ratePlanId", "message": "is required"})
        elif not isinstance(rate_plan_id, str) or rate_plan_id not in RATE_PLANS_BY_ID:
            errors.append({"field": "ratePlanId", "message": f"unknown rate plan {rate_plan_id!r}"})
        elif utility is not None and RATE_PLANS_BY_ID[rate_plan_id][0] is not utility:
            errors.append(
                {
                    "field": "ratePlanId",
                    "message": f"does not belong to utility {utility.id}",
                }
            )

        for flag in HOME_FLAGS:
            if flag in body and body[flag] is not None and not isinstance(body[flag], bool):
                errors.append({"field": flag, "message": "must be true, false or null"})
        ac_type = body.get("acType")
        if ac_type is not None and ac_type not in AC_TYPES:
            errors.append({"field": "acType", "message": f"must be one of {', '.join(AC_TYPES)}"})

        if errors:
            raise validation_failed(errors)

        home_id = f"ws_home_{uuid.uuid4().hex}"
        self.state["homes"][home_id] = {
            "id": home_id,
            "name": name,
            "zipcode": zipcode,
            "utilityId": utility_id,
            "ratePlanId": rate_plan_id,
            **{flag: body.get(flag) for flag in HOME_FLAGS},
            "acType": ac_type,
            "timezone": str(timezone_for_zip(zip5 or "")),
            "createdAt": iso_z(self.now()),
        }
        return Response.json(200, {"id": home_id})

    def create_solar(self, request: Request, body: dict[str, Any]) -> Response:
        """Seed 003, step 3: `{homeId, solarSystemSizeKw, isNonNetMetered}` -> `{homeId}`."""
        errors = self.unknown_fields(body, ["homeId", "solarSystemSizeKw", "isNonNetMetered"])
        home_id = body.get("homeId")
        if home_id is None:
            errors.append({"field": "homeId", "message": "is required"})
        elif not isinstance(home_id, str) or not home_id:
            errors.append({"field": "homeId", "message": "must be a home id"})
        size_kw = body.get("solarSystemSizeKw")
        if size_kw is None:
            errors.append({"field": "solarSystemSizeKw", "message": "is required"})
        elif (
            isinstance(size_kw, bool)
            or not isinstance(size_kw, int | float)
            or not math.isfinite(size_kw)
            or size_kw <= 0
        ):
            errors.append({"field": "solarSystemSizeKw", "message": "must be a number above 0"})
        non_net = body.get("isNonNetMetered")
        if non_net is None:
            errors.append({"field": "isNonNetMetered", "message": "is required"})
        elif not isinstance(non_net, bool):
            errors.append({"field": "isNonNetMetered", "message": "must be true or false"})
        if errors:
            raise validation_failed(errors)
        if home_id not in self.state["homes"]:
            raise ApiError(404, "NOT_FOUND", f"Home {home_id} not found.")
        # One solar system per home: a second call replaces the first, as an update would.
        self.state["solar"][home_id] = {
            "homeId": home_id,
            "solarSystemSizeKw": size_kw,
            "isNonNetMetered": non_net,
            "updatedAt": iso_z(self.now()),
        }
        return Response.json(200, {"homeId": home_id})

    def price_signal(self, request: Request, body: dict[str, Any]) -> Response:
        """Seed 003, step 4 (WattShift's price-signal page): 15-minute $/kWh for a window."""
        home_id, home, start, end = self.priced_window(request, body)
        intervals = self.intervals(home_id, home, start, end)
        return Response.json(
            200,
            {
                "homeId": home_id,
                "startTime": iso_z(start),
                "endTime": iso_z(end),
                "data": self._segments(start, end, intervals),
                "prices": [price for price, _ in intervals],
            },
        )

    def priced_window(
        self, request: Request, body: dict[str, Any]
    ) -> tuple[str, dict[str, Any], datetime, datetime]:
        """(home id, home, start, end) of a price-signal call: `{startTime, endTime}`, both or
        neither (the next 24 hours), at most 7 days."""
        home_id = request.params["home_id"]
        home = self.state["homes"].get(home_id)
        if home is None:
            raise ApiError(404, "NOT_FOUND", f"Home {home_id} not found.")
        errors = self.unknown_fields(body, ["startTime", "endTime"])
        given = [key for key in ("startTime", "endTime") if body.get(key) is not None]
        if len(given) == 1:
            missing = "endTime" if given == ["startTime"] else "startTime"
            errors.append(
                {"field": missing, "message": "startTime and endTime go together: both or neither"}
            )
        if errors:
            raise validation_failed(errors)
        if not given:
            now = self.now().astimezone(UTC)
            # Milliseconds, like the instants WattShift writes, so the echo round-trips exactly.
            start = now.replace(microsecond=now.microsecond // 1000 * 1000)
            return home_id, home, start, start + DEFAULT_WINDOW
        first = self._parse_instant(body["startTime"], "startTime", errors)
        last = self._parse_instant(body["endTime"], "endTime", errors)
        if first and last and last <= first:
            errors.append({"field": "endTime", "message": "must be after startTime"})
        elif first and last and last - first > MAX_WINDOW:
            errors.append({"field": "endTime", "message": "the window is at most 7 days"})
        if errors or first is None or last is None:
            raise validation_failed(errors)
        return home_id, home, first, last

    def intervals(
        self, home_id: str, home: dict[str, Any], start: datetime, end: datetime
    ) -> list[tuple[float, float]]:
        """($/kWh import, $/kWh export) of each 15 minutes from `start` to `end` for one home."""
        count = math.ceil((end - start) / INTERVAL)
        solar = self.state["solar"].get(home_id)
        return [self.interval_price(home, solar, start + i * INTERVAL) for i in range(count)]

    # --- price model (sandbox, deterministic) --------------------------------------------------
    @staticmethod
    def interval_price(
        home: dict[str, Any], solar: dict[str, Any] | None, start: datetime
    ) -> tuple[float, float]:
        """($/kWh import, $/kWh export) of the 15 minutes from `start` for one home."""
        utility, plan = RATE_PLANS_BY_ID[home["ratePlanId"]]
        local = start.astimezone(timezone_for_zip(home["zipcode"]))
        hour = local.hour
        weekend = local.weekday() >= 5
        peak = 16 <= hour < 21
        # Tariff multiplier on the utility's base rate, by plan kind and local hour band.
        if plan.kind == FLAT:
            tariff = 1.0
        elif plan.kind == EV:
            tariff = 0.55 if hour < 6 else (1.5 if peak else 0.95)
        else:
            tariff = 0.85 if hour < 6 or hour >= 22 else (1.45 if peak else 1.0)
        if peak and weekend and plan.kind != FLAT:
            tariff -= 0.25
        # Grid term, the same for every plan: morning ramp, midday solar dip, evening peak.
        if hour < 6:
            grid = 0.0
        elif hour < 10:
            grid = 0.01
        elif hour < 16:
            grid = -0.005
        elif hour < 21:
            grid = 0.03 if 17 <= hour < 20 else 0.015
        else:
            grid = 0.005
        hour_key = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC).isoformat()
        wholesale = (stable_hash("wholesale", home["id"], hour_key) % 400) / 100_000
        price = round(utility.base_rate_usd_per_kwh * tariff + grid + wholesale, 5)
        if solar is None:
            export = 0.0
        elif solar["isNonNetMetered"]:
            # Non-net-metered solar earns an avoided-cost rate, not the retail price.
            export = round(max(0.01, 0.04 + 2 * grid + wholesale), 5)
        else:
            export = price
        return price, export

    @staticmethod
    def _segments(
        start: datetime, end: datetime, intervals: list[tuple[float, float]]
    ) -> list[dict[str, Any]]:
        """Runs of equal prices, as WattShift's `data` array groups them."""
        segments: list[dict[str, Any]] = []
        for index, (price, export) in enumerate(intervals):
            begins = start + index * INTERVAL
            ends = min(begins + INTERVAL, end)
            last = segments[-1] if segments else None
            if last and last["price"] == price and last["export"] == export:
                last["endTime"] = iso_z(ends)
                continue
            segments.append(
                {
                    "startTime": iso_z(begins),
                    "endTime": iso_z(ends),
                    "price": price,
                    "import": price,
                    "export": export,
                }
            )
        return segments
