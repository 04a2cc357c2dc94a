"""The WattShift emulator of the current published API (the `current` profile).

Contract: docs/upstreams/wattshift.md, "Calls (current)", from WattShift's API reference (list
utilities, create home, update home, get price signal), its API-based onboarding guide and its
rate-plan id page. What differs from the quickstart emulator (which this one extends):

- `POST /v1/utility/get` takes `zipcode` and the optional filters (`lat`, `long`, `radius`,
  `utilityId`, `effectiveOnDate`, `isSolarPrioritizedOrder`, `detailLevel`, `pageSize`,
  `pageNumber`) and answers `ratePlans [{id, rateID, ratePlanName, supportedType}]`.
- `POST /v1/homes/create` takes `name`, `utilityId`, `ratePlanId` (string or null), `zipcode`,
  `solarSystemSizeKw` and `isNonNetMetered` (together), and the optional `userId`, `clientId`,
  address fields, `carbonSignalIntensity`, `meterId`, `enabled`. Anything else is refused: the
  quickstart's `has*` flags and `acType` are not in the reference. It answers the whole Home (the
  reference); `create_answer = "id"` answers `{id}` as the guide shows.
- `POST /v1/homes/{homeId}/update`: a partial body of the same fields -> the Home.
- The price signal adds `data [{startTime, endTime, price, import, export, confidence}]`,
  `imports` and `exports` (`price_array_names` switches to the reference's `import`/`export`).
- Errors add `AUTH_EXPIRED_CREDENTIAL`, `AUTH_REVOKED_CREDENTIAL`, `AUTH_INSUFFICIENT_SCOPE`,
  `PRODUCTION_ACCESS_DENIED` (an API key's status, set with `set_key_status` or
  `POST /_sandbox/keys {"key", "status"}`), `FORBIDDEN` (a home another key created) and a
  `recovery_action` beside the quickstart envelope's fields.

One WattShift behind two versions of its API: homes are the same records whichever version
created them, so in sandbox mode this emulator keeps its state in the quickstart emulator's file
(`registry`), and a home created through one is updated and priced through the other. Each
emulator reloads the file when the other saved it (`Emulator._reload_if_changed`); two calls
handled at the same instant by both could lose one's write, which the sandbox accepts (one
organization's connection speaks one profile at a time).
`rateID`, `supportedType` and `confidence` values are sandbox data (their vocabularies are not
published).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import datetime
from typing import Any

from integrations.sandbox.base import Request, Response
from integrations.sandbox.wattshift_utilities import (
    RATE_PLANS_BY_ID,
    UTILITIES_BY_ID,
    SandboxRatePlan,
    SandboxUtility,
    normalize_zip,
    timezone_for_zip,
    utilities_for_zip,
    zip_info,
)

from .app import WattShiftEmulator
from .data import iso_z
from .validation import ApiError, validation_failed

# The reference's optional home fields beyond the solar pair. The address fields' names are not
# spelled out in the reference we cite: these are our reading (docs/upstreams/wattshift.md).
ADDRESS_FIELDS = ("address", "city", "state", "country")
HOME_FIELDS = (
    "name",
    "utilityId",
    "ratePlanId",
    "zipcode",
    "solarSystemSizeKw",
    "isNonNetMetered",
    "userId",
    "clientId",
    *ADDRESS_FIELDS,
    "carbonSignalIntensity",
    "meterId",
    "enabled",
)
SOLAR_FIELDS = ("solarSystemSizeKw", "isNonNetMetered")
CARBON_INTENSITIES = ("LOW", "MEDIUM", "HIGH")
UTILITY_FILTERS = (
    "zipcode",
    "lat",
    "long",
    "radius",
    "utilityId",
    "effectiveOnDate",
    "isSolarPrioritizedOrder",
    "detailLevel",
    "pageSize",
    "pageNumber",
)
SUPPORTED_TYPE = "RESIDENTIAL"  # sandbox data: the vocabulary is not published

# An API key's status -> (HTTP status, error_code, message, recovery_action).
KEY_REFUSALS: dict[str, tuple[int, str, str, str]] = {
    "expired": (
        401,
        "AUTH_EXPIRED_CREDENTIAL",
        "The API key has expired.",
        "Generate a new API key in the WattShift dashboard.",
    ),
    "revoked": (
        401,
        "AUTH_REVOKED_CREDENTIAL",
        "The API key was revoked.",
        "Generate a new API key in the WattShift dashboard.",
    ),
    "insufficient_scope": (
        403,
        "AUTH_INSUFFICIENT_SCOPE",
        "The API key lacks the scope this call needs.",
        "Ask WattShift to add the scope to the key.",
    ),
    "production_denied": (
        403,
        "PRODUCTION_ACCESS_DENIED",
        "This account has no production access.",
        "Request production access from WattShift.",
    ),
}


class CurrentApiError(ApiError):
    """An error answer of the current API: the envelope with a `recovery_action`."""

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        recovery_action: str = "",
        field_errors: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(status, error_code, message, field_errors)
        self.recovery_action = recovery_action


def rate_reference(utility: SandboxUtility, plan: SandboxRatePlan) -> str:
    """A plan's `rateID`: its code within the utility, as a bill prints it (sandbox data)."""
    prefix = utility.id.replace("ws_util_", "ws_rp_", 1) + "_"
    return plan.id.removeprefix(prefix).replace("_", "-").upper()


def _owner(credential: str) -> str:
    """Which credential created a home (a digest: the state file keeps no key)."""
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


class WattShiftCurrentEmulator(WattShiftEmulator):
    """WSGI emulator of WattShift's current published API."""

    name = "wattshift-current"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Configuration, not data (like the API keys): survives `/_sandbox/reset`.
        self.key_status: dict[str, str] = {}
        self.create_answer = "home"  # "home": the reference's Home; "id": the guide's {id}
        self.price_array_names = ("imports", "exports")  # the reference: ("import", "export")
        super().__init__(*args, **kwargs)

    def setup_routes(self) -> None:
        # The quickstart's routes (the old solar call is still listed in the reference), with
        # this API's handlers, and the update call.
        super().setup_routes()
        self.route("POST", "/v1/homes/(?P<home_id>[^/]+)/update", self._api(self.update_home))

    # --- configuration ----------------------------------------------------------------------------
    def set_key_status(self, key: str, status: str) -> None:
        """Make `key` refused as `status` (a KEY_REFUSALS name), or valid again with ""."""
        if status and status not in KEY_REFUSALS:
            raise ValueError(f"status is one of {', '.join(KEY_REFUSALS)}")
        with self.lock:
            if status:
                self.key_status[key] = status
            else:
                self.key_status.pop(key, None)

    def control(self, action: str, request: Request) -> Response | None:
        if action == "keys" and request.method == "POST":
            data = request.json() if request.body else {}
            try:
                self.set_key_status(str(data.get("key", "")), str(data.get("status") or ""))
            except ValueError as exc:
                return Response.json(400, {"detail": str(exc)})
            return Response.json(200, {"key_status": dict(self.key_status)})
        return super().control(action, request)

    # --- the envelope, with recovery_action ---------------------------------------------------------
    def _api(self, handler: Any, *, api_key_only: bool = False) -> Any:
        def run(request: Request) -> Response:
            try:
                self.authenticate(request, api_key_only=api_key_only)
                return handler(request, self.json_body(request))
            except ApiError as exc:
                response = self.error(exc.status, exc.error_code, exc.message, exc.field_errors)
                if isinstance(exc, CurrentApiError) and exc.recovery_action:
                    return self._with_recovery(response, exc.recovery_action)
                return response

        return run

    @staticmethod
    def _with_recovery(response: Response, recovery_action: str) -> Response:
        body = json.loads(response.body)
        body["recovery_action"] = recovery_action
        response.body = json.dumps(body).encode()
        return response

    def error_for_fault(self, status: int) -> Response:
        if status == 403:
            return self.error(403, "FORBIDDEN", "Injected failure (403).")
        return super().error_for_fault(status)

    def authenticate(self, request: Request, *, api_key_only: bool = False) -> None:
        api_key = request.headers.get("x-ws-api-key")
        refusal = KEY_REFUSALS.get(self.key_status.get(api_key or "", ""))
        if refusal is not None:
            raise CurrentApiError(*refusal)
        super().authenticate(request, api_key_only=api_key_only)

    @staticmethod
    def _caller(request: Request) -> str:
        return request.headers.get("x-ws-api-key") or request.headers.get("authorization", "")

    # --- utilities ----------------------------------------------------------------------------------
    def get_utilities(self, request: Request, body: dict[str, Any]) -> Response:
        """List utilities: `ratePlans [{id, rateID, ratePlanName, supportedType}]`."""
        errors = self.unknown_fields(body, UTILITY_FILTERS)
        zipcode = body.get("zipcode")
        if zipcode is None:
            errors.append({"field": "zipcode", "message": "is required"})
        elif not isinstance(zipcode, str) or normalize_zip(zipcode) is None:
            errors.append({"field": "zipcode", "message": "must be 5 digits, optionally -NNNN"})
        for name in ("lat", "long", "radius", "effectiveOnDate"):
            value = body.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                errors.append({"field": name, "message": "must be a number"})
        for name in ("pageSize", "pageNumber"):
            value = body.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                errors.append({"field": name, "message": "must be a whole number from 1"})
        if body.get("detailLevel") not in (None, "full", "minimal"):
            errors.append({"field": "detailLevel", "message": "must be full or minimal"})
        solar_first = body.get("isSolarPrioritizedOrder")
        if solar_first is not None and not isinstance(solar_first, bool):
            errors.append({"field": "isSolarPrioritizedOrder", "message": "must be true or false"})
        utility_id = body.get("utilityId")
        if utility_id is not None and not isinstance(utility_id, str):
            errors.append({"field": "utilityId", "message": "must be a string"})
        if errors:
            raise validation_failed(errors)
        assert isinstance(zipcode, str)  # no errors: a valid zip code
        utilities = [
            u for u in utilities_for_zip(zipcode) if utility_id is None or u.id == utility_id
        ]
        size = body.get("pageSize") or len(utilities) or 1
        first = ((body.get("pageNumber") or 1) - 1) * size
        minimal = body.get("detailLevel") == "minimal"
        return Response.json(
            200, [self._utility(u, minimal) for u in utilities[first : first + size]]
        )

    @staticmethod
    def _utility(utility: SandboxUtility, minimal: bool) -> dict[str, Any]:
        answer: dict[str, Any] = {"utilityId": utility.id, "utilityName": utility.name}
        if not minimal:  # our reading of "minimal": the utility without its plans
            answer["ratePlans"] = [
                {
                    "id": plan.id,
                    "rateID": rate_reference(utility, plan),
                    "ratePlanName": plan.name,
                    "supportedType": SUPPORTED_TYPE,
                }
                for plan in utility.rate_plans
            ]
        return answer

    # --- homes --------------------------------------------------------------------------------------
    def create_home(self, request: Request, body: dict[str, Any]) -> Response:
        """Create home: the reference's fields, solar included; answers the Home (or `{id}`)."""
        errors = self._check_home(body, current=None)
        if errors:
            raise validation_failed(errors)
        home_id = f"ws_home_{uuid.uuid4().hex}"
        zip5 = normalize_zip(body["zipcode"]) or ""
        home = {
            "id": home_id,
            **{
                name: body[name]
                for name in HOME_FIELDS
                if name in body and name not in SOLAR_FIELDS
            },
            "ratePlanId": body.get("ratePlanId"),
            "timezone": str(timezone_for_zip(zip5)),
            "createdAt": iso_z(self.now()),
            "owner": _owner(self._caller(request)),
        }
        self.state["homes"][home_id] = home
        self._keep_solar(home_id, body)
        if self.create_answer == "id":
            return Response.json(200, {"id": home_id})
        return Response.json(200, self._home(home_id))

    def update_home(self, request: Request, body: dict[str, Any]) -> Response:
        """Update home: a partial body of create's fields -> the Home."""
        home_id = request.params["home_id"]
        home = self.state["homes"].get(home_id)
        if home is None:
            raise CurrentApiError(404, "NOT_FOUND", f"Home {home_id} not found.")
        if home.get("owner") not in (None, _owner(self._caller(request))):
            raise CurrentApiError(
                403,
                "FORBIDDEN",
                f"Home {home_id} belongs to another client.",
                "Use the API key of the client that created the home.",
            )
        errors = self._check_home(body, current=home)
        if errors:
            raise validation_failed(errors)
        for name in HOME_FIELDS:
            if name in body and name not in SOLAR_FIELDS:
                home[name] = body[name]
        if "zipcode" in body:
            home["timezone"] = str(timezone_for_zip(normalize_zip(body["zipcode"]) or ""))
        home["updatedAt"] = iso_z(self.now())
        self._keep_solar(home_id, body)
        return Response.json(200, self._home(home_id))

    def _keep_solar(self, home_id: str, body: dict[str, Any]) -> None:
        """The solar fields of a create or update, kept where the quickstart's solar call puts
        them (one WattShift: its price signal reads them whichever API wrote them)."""
        if not any(name in body for name in SOLAR_FIELDS):
            return
        solar = self.state["solar"].get(home_id) or {"homeId": home_id}
        solar.update({name: body[name] for name in SOLAR_FIELDS if name in body})
        solar["updatedAt"] = iso_z(self.now())
        self.state["solar"][home_id] = solar

    def _home(self, home_id: str) -> dict[str, Any]:
        """The Home of the reference: the current fields only (a home the quickstart API made
        keeps its `has*` flags here, but this API does not show them)."""
        home = self.state["homes"][home_id]
        solar = self.state["solar"].get(home_id) or {}
        return {
            "id": home_id,
            "createdAt": home.get("createdAt"),
            "UtilityId": home.get("utilityId"),  # sic: the reference's capital U
            "ratePlanId": home.get("ratePlanId"),
            "timezone": home.get("timezone"),
            **{
                name: home[name]
                for name in HOME_FIELDS
                if name in home and name not in ("utilityId", "ratePlanId", *SOLAR_FIELDS)
            },
            **{name: solar[name] for name in SOLAR_FIELDS if name in solar},
        }

    def _check_home(
        self, body: dict[str, Any], current: dict[str, Any] | None
    ) -> list[dict[str, str]]:
        """Field errors of a create (`current` None: the required fields are required) or of an
        update of `current` (every field optional, checked against the home's others)."""
        errors = self.unknown_fields(body, HOME_FIELDS)
        creating = current is None

        def given(name: str) -> bool:
            if name not in body:
                if creating and name in ("name", "utilityId", "zipcode"):
                    errors.append({"field": name, "message": "is required"})
                return False
            return True

        if given("name"):
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > 255:
                errors.append({"field": "name", "message": "must be a string of 1-255 characters"})
        zip5 = normalize_zip(current["zipcode"]) if current else None
        if given("zipcode"):
            zipcode = body["zipcode"]
            zip5 = None
            if not isinstance(zipcode, str) or normalize_zip(zipcode) is None:
                errors.append({"field": "zipcode", "message": "must be 5 digits, optionally -NNNN"})
            elif zip_info(normalize_zip(zipcode) or "") is None:
                errors.append({"field": "zipcode", "message": f"{zipcode} is not a known zip code"})
            else:
                zip5 = normalize_zip(zipcode)
        utility = UTILITIES_BY_ID.get(current["utilityId"]) if current else None
        if given("utilityId"):
            utility_id = body["utilityId"]
            utility = None
            if not isinstance(utility_id, str) or utility_id not in UTILITIES_BY_ID:
                errors.append({"field": "utilityId", "message": f"unknown utility {utility_id!r}"})
            else:
                utility = UTILITIES_BY_ID[utility_id]
        if utility is not None and zip5 and utility not in utilities_for_zip(zip5):
            errors.append({"field": "utilityId", "message": f"does not serve zip code {zip5}"})
        plan_id = body.get("ratePlanId", current.get("ratePlanId") if current else None)
        if "ratePlanId" in body or (utility is not None and "utilityId" in body):
            if plan_id is not None and (
                not isinstance(plan_id, str) or plan_id not in RATE_PLANS_BY_ID
            ):
                errors.append({"field": "ratePlanId", "message": f"unknown rate plan {plan_id!r}"})
            elif (
                plan_id is not None
                and utility is not None
                and RATE_PLANS_BY_ID[plan_id][0] is not utility
            ):
                errors.append(
                    {"field": "ratePlanId", "message": f"does not belong to utility {utility.id}"}
                )
        errors.extend(
            self._check_solar(
                body, has_solar=bool(current and current.get("id") in self.state["solar"])
            )
        )
        if body.get("carbonSignalIntensity") not in (None, *CARBON_INTENSITIES):
            errors.append(
                {"field": "carbonSignalIntensity", "message": "must be LOW, MEDIUM or HIGH"}
            )
        if "enabled" in body and not isinstance(body["enabled"], bool):
            errors.append({"field": "enabled", "message": "must be true or false"})
        for name in ("userId", "clientId", "meterId", *ADDRESS_FIELDS):
            if body.get(name) is not None and not isinstance(body[name], str):
                errors.append({"field": name, "message": "must be a string"})
        return errors

    @staticmethod
    def _check_solar(body: dict[str, Any], *, has_solar: bool) -> list[dict[str, str]]:
        errors = []
        size_kw = body.get("solarSystemSizeKw")
        if "solarSystemSizeKw" in body and (
            isinstance(size_kw, bool)
            or not isinstance(size_kw, int | float)
            or not math.isfinite(size_kw)
            or size_kw <= 0
        ):
            errors.append({"field": "solarSystemSizeKw", "message": "must be a number above 0"})
        if "isNonNetMetered" in body and not isinstance(body["isNonNetMetered"], bool):
            errors.append({"field": "isNonNetMetered", "message": "must be true or false"})
        given = [name for name in SOLAR_FIELDS if name in body]
        if len(given) == 1 and not has_solar:
            # "Both solar fields together create solar info": one alone has nothing to change.
            missing = SOLAR_FIELDS[1] if given == [SOLAR_FIELDS[0]] else SOLAR_FIELDS[0]
            errors.append(
                {"field": missing, "message": "solar fields go together: both or neither"}
            )
        return errors

    # --- price signal ---------------------------------------------------------------------------------
    def price_signal(self, request: Request, body: dict[str, Any]) -> Response:
        """The price signal with `data []` (import, export, confidence), `prices`, imports, exports."""
        home_id, home, start, end = self.priced_window(request, body)
        intervals = self.intervals(home_id, self._priced(home), start, end)
        imports_name, exports_name = self.price_array_names
        segments = self._segments(start, end, intervals)
        for segment in segments:
            segment["confidence"] = self._confidence(
                start, datetime.fromisoformat(segment["startTime"])
            )
        return Response.json(
            200,
            {
                "homeId": home_id,
                "startTime": iso_z(start),
                "endTime": iso_z(end),
                "data": segments,
                "prices": [price for price, _ in intervals],
                imports_name: [price for price, _ in intervals],
                exports_name: [export for _, export in intervals],
            },
        )

    @staticmethod
    def _priced(home: dict[str, Any]) -> dict[str, Any]:
        """The home as the price model reads it: a home with no rate plan (null is allowed) is
        priced on its utility's first plan."""
        if home.get("ratePlanId") in RATE_PLANS_BY_ID:
            return home
        utility = UTILITIES_BY_ID[home["utilityId"]]
        return {**home, "ratePlanId": utility.rate_plans[0].id}

    @staticmethod
    def _confidence(start: datetime, moment: datetime) -> float:
        """Sandbox data: certain for the first hours, less so further out (0.5 after a day)."""
        hours = (moment - start).total_seconds() / 3600
        return round(max(0.5, 1.0 - hours / 48), 2)
