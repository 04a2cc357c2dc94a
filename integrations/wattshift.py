"""WattShift (`ws` home onboarding): the client, pure payload builders and price-signal helpers.

Contract: docs/upstreams/wattshift.md, the quickstart profile (seed 003, "Steps to Onboard a
Home"); the price-signal answer is on WattShift's page
https://docs.wattshift.com/docs/optimize_shifts_calculate_impacts/price_signal.

Nothing here touches the ORM: the builders take plain keyword data, and the glue that reads a
`Home` and calls them lives with the homes app.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from integrations.http import CallRecord, UpstreamClient, UpstreamError

PRICE_INTERVAL = timedelta(minutes=15)  # one price per 15 minutes (price-signal page)
AC_TYPES = ("central", "window", "split", "other")  # seed step 2, `acType`

# Error codes whose cure is on the account, not in the request: a person must act on WattShift's
# side (a new or re-issued key, more scope, production access), then save the connection again.
# The first two are the quickstart's; the rest come with the current API reference.
CREDENTIAL_CODES = frozenset(
    {
        "AUTH_MISSING_API_KEY",
        "AUTH_INVALID_API_KEY",
        "AUTH_EXPIRED_CREDENTIAL",
        "AUTH_REVOKED_CREDENTIAL",
        "AUTH_INSUFFICIENT_SCOPE",
        "PRODUCTION_ACCESS_DENIED",
    }
)


class WattShiftError(UpstreamError):
    """An error answer in WattShift's envelope, with its code and per-field messages kept."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        error_code: str = "",
        field_errors: Sequence[tuple[str, str]] = (),
        request_id: str = "",
        recovery_action: str = "",
    ) -> None:
        super().__init__(
            message, permanent=permanent, status_code=status_code, retry_after_s=retry_after_s
        )
        self.error_code = error_code
        # (field, message) pairs, so a form can put each message on its own field.
        self.field_errors = list(field_errors)
        self.request_id = request_id
        self.recovery_action = recovery_action  # the current API's advice, as it words it

    @property
    def refuses_credentials(self) -> bool:
        """The account's key was refused (missing, invalid, expired, revoked, short of scope or
        of production access): no retry helps until a person acts and saves the connection."""
        if self.error_code:
            return self.error_code in CREDENTIAL_CODES
        return self.status_code == 401


def _envelope(response: httpx.Response) -> dict[str, Any] | None:
    """The error envelope of an answer, None when the body is not one (e.g. a proxy's page)."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict) and "error_code" in data:
        return data
    return None


def _field_errors(envelope: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for item in envelope.get("field_errors") or []:
        if isinstance(item, dict):
            pairs.append((str(item.get("field", "")), str(item.get("message", ""))))
    return pairs


def _recovery_action(envelope: dict[str, Any]) -> str:
    """The current API's `recovery_action` as text. Its shape is not published: a string, or an
    object whose first text field we can find; anything else is left out."""
    value = envelope.get("recovery_action")
    if isinstance(value, dict):
        value = next(
            (value[key] for key in ("message", "description", "action", "type") if key in value),
            None,
        )
    return value.strip()[:300] if isinstance(value, str) else ""


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return max(0.0, float(value))


def iso_utc(moment: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with `Z`, as WattShift writes instants."""
    if moment.tzinfo is None:
        raise ValueError("WattShift needs timezone-aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class WattShiftClient(UpstreamClient):
    """WattShift's home-onboarding API, authenticated with the organization's API key."""

    platform = "wattshift"

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str,
        transport: httpx.BaseTransport | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        super().__init__(base_url, transport=transport, on_call=on_call)
        self.api_key = api_key

    # --- hooks ----------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        # Seed, "Authentication" 1: backend calls carry the API key (no token to refresh).
        return {"x-ws-api-key": self.api_key}

    def error_message(self, response: httpx.Response) -> str:
        envelope = _envelope(response)
        if envelope is None:
            return super().error_message(response)
        parts = [str(envelope.get("message") or envelope.get("error_code") or "error")]
        fields = "; ".join(f"{field}: {message}" for field, message in _field_errors(envelope))
        if fields:
            parts.append(fields)
        recovery = _recovery_action(envelope)
        if recovery:
            parts.append(f"(WattShift suggests: {recovery})")
        if envelope.get("request_id"):
            # WattShift support asks for the request id.
            parts.append(f"(request_id {envelope['request_id']})")
        return " ".join(parts)

    def raise_for_status(self, response: httpx.Response) -> None:
        try:
            super().raise_for_status(response)
        except UpstreamError as exc:
            envelope = _envelope(response) or {}
            retry_after = exc.retry_after_s
            if retry_after is None:
                retry_after = _seconds(envelope.get("retry_after_seconds"))
            # RATE_LIMITED is transient whatever status carries it.
            permanent = exc.permanent and envelope.get("error_code") != "RATE_LIMITED"
            raise WattShiftError(
                exc.message,
                permanent=permanent,
                status_code=exc.status_code,
                retry_after_s=retry_after,
                error_code=str(envelope.get("error_code") or ""),
                field_errors=_field_errors(envelope),
                request_id=str(envelope.get("request_id") or ""),
                recovery_action=_recovery_action(envelope),
            ) from None

    def _post(self, path: str, payload: dict[str, Any], expect: type) -> Any:
        response = self.request("POST", path, json=payload)
        try:
            data = response.json()
        except ValueError as exc:
            raise UpstreamError(
                f"{self.platform} answered {path} with a body that is not JSON",
                permanent=True,
                status_code=response.status_code,
                answer_lost=True,  # a success: it acted, and we cannot read what it did
            ) from exc
        if not isinstance(data, expect):
            raise UpstreamError(
                f"{self.platform} answered {path} with {type(data).__name__}, "
                f"expected {expect.__name__}",
                permanent=True,
                status_code=response.status_code,
                answer_lost=True,
            )
        return data

    def _required(self, data: dict[str, Any], key: str, path: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise UpstreamError(
                f"{self.platform} answered {path} without {key!r}", permanent=True, answer_lost=True
            )
        return value

    # --- operations -----------------------------------------------------------------------------
    def generate_session_token(self) -> str:
        # Seed, "How to Get a Session Token": for a browser that calls WattShift directly.
        path = "/v1/onboarding/session-token/generate"
        return self._required(self._post(path, {}, dict), "sessionToken", path)

    def get_utilities(self, zipcode: str) -> list[dict[str, Any]]:
        # Seed, step 1 "Fetch Utilities and Rate Plans": [{utilityId, utilityName, wsRatePlans}];
        # today's API names the plans `ratePlans` (docs/upstreams/wattshift.md): read either.
        return utilities_answer(self._post("/v1/utility/get", {"zipcode": zipcode}, list))

    def create_home(self, payload: dict[str, Any]) -> str:
        # Seed, step 2 "Create a Home": payload from `home_payload`; answers {id}.
        path = "/v1/homes/create"
        return self._required(self._post(path, payload, dict), "id", path)

    def create_home_current(self, payload: dict[str, Any]) -> str:
        # Current API reference, "Create home": the guide answers {id: "ws_home_..."}, the
        # reference a whole Home; `home_id_of` reads either.
        path = "/v1/homes/create"
        return home_id_of(self._post(path, payload, dict), path)

    def update_home(self, home_id: str, changes: dict[str, Any]) -> None:
        # Current API reference, "Update home": a partial body of create's fields -> the Home.
        # An update sent twice changes nothing, so an answer we cannot read is no error.
        self.request("POST", f"/v1/homes/{quote(home_id, safe='')}/update", json=changes)

    def create_solar(self, payload: dict[str, Any]) -> str:
        # Seed, step 3 "Create Solar (if needed)": payload from `solar_payload`; answers {homeId}.
        path = "/v1/homes/solar/create"
        return self._required(self._post(path, payload, dict), "homeId", path)

    def get_price_signal(
        self, home_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> dict[str, Any]:
        # Seed, step 4 "Get Price Signal Data" -> WattShift's price-signal page:
        # {homeId, startTime, endTime, prices [...]}, read it with `parse_price_signal`.
        if (start is None) != (end is None):
            raise ValueError("give both start and end, or neither (the next 24 hours)")
        body: dict[str, str] = {}
        if start is not None and end is not None:
            body = {"startTime": iso_utc(start), "endTime": iso_utc(end)}
        path = f"/v1/homes/{quote(home_id, safe='')}/price_signal"
        return self._post(path, body, dict)


# --- pure payload builders ------------------------------------------------------------------------
def utilities_answer(answer: list[Any]) -> list[dict[str, Any]]:
    """WattShift's utilities in the seed's shape, whichever shape it answered: the quickstart's
    `wsRatePlans [{id, ratePlanName}]` or today's `ratePlans [{id, rateID, ratePlanName,
    supportedType}]` (`id` is what a home sends as `ratePlanId`; the other fields are kept). An
    older cache or server never silently stores a utility without its plans."""
    utilities = []
    for item in answer:
        if not isinstance(item, dict):
            continue
        plans = item.get("wsRatePlans")
        if not plans:
            plans = item.get("ratePlans") or []
        utilities.append(
            {
                **{k: v for k, v in item.items() if k != "ratePlans"},
                "wsRatePlans": [
                    plan for plan in plans if isinstance(plan, dict) and plan.get("id")
                ],
            }
        )
    return utilities


def home_id_of(answer: dict[str, Any], path: str = "/v1/homes/create") -> str:
    """The home id in a create's answer: `{id}` (guide), a whole Home (reference) or, read
    tolerantly, a Home wrapped in `home` or `data`. No id: we cannot tell what was created, so
    the answer counts as lost (the engine then asks a person instead of creating it again)."""
    for candidate in (answer, answer.get("home"), answer.get("data")):
        if isinstance(candidate, dict):
            value = candidate.get("id", candidate.get("homeId"))
            if isinstance(value, str) and value:
                return value
    raise UpstreamError(
        f"wattshift answered {path} without a home id", permanent=True, answer_lost=True
    )


def current_home_payload(
    *,
    name: str,
    zipcode: str,
    utility_id: str,
    rate_plan_id: str,
    solar_system_size_kw: int | float | Decimal | None = None,
    net_metered: bool | None = None,
) -> dict[str, Any]:
    """The body of the current API's `POST /v1/homes/create` (and a full `.../update`): no `has*`
    flags and no `acType` (gone from the reference); solar as two fields of the home, sent
    together ("both solar fields together create solar info")."""
    payload: dict[str, Any] = {
        "name": name.strip(),
        "zipcode": zipcode.strip(),
        "utilityId": utility_id,
        "ratePlanId": rate_plan_id,
    }
    if solar_system_size_kw is not None:
        payload["solarSystemSizeKw"] = _json_number(solar_system_size_kw)
        # WattShift asks the negative question; net metering is the usual case.
        payload["isNonNetMetered"] = net_metered is False
    return payload


def home_payload(
    *,
    name: str,
    zipcode: str,
    utility_id: str,
    rate_plan_id: str,
    has_ev_charger: bool | None = None,
    has_electric_heater: bool | None = None,
    has_smart_water_heater: bool | None = None,
    has_electric_water_heater: bool | None = None,
    has_ac: bool | None = None,
    ac_type: str | None = None,
) -> dict[str, Any]:
    """The body of `POST /v1/homes/create` (seed step 2)."""
    if ac_type is not None and ac_type not in AC_TYPES:
        raise ValueError(f"acType must be one of {', '.join(AC_TYPES)}, not {ac_type!r}")
    payload: dict[str, Any] = {
        "name": name.strip(),
        "zipcode": zipcode.strip(),
        "utilityId": utility_id,
        "ratePlanId": rate_plan_id,
        # The seed allows null for "don't know": send it rather than guess False.
        "hasEvCharger": has_ev_charger,
        "hasElectricHeater": has_electric_heater,
        "hasSmartWaterHeater": has_smart_water_heater,
        "hasElectricWaterHeater": has_electric_water_heater,
        "hasAC": has_ac,
    }
    # Null is documented for the booleans only, so an unknown AC type is left out.
    if ac_type is not None:
        payload["acType"] = ac_type
    return payload


def _json_number(value: int | float | Decimal) -> int | float:
    """A JSON-safe number: httpx cannot encode Decimal, and 5 should stay 5 as in the seed."""
    if isinstance(value, bool):
        raise TypeError("a size in kW is a number, not a bool")
    # NaN and infinity are not JSON (and int() of an infinite Decimal raises OverflowError).
    finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
    if not finite:
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def solar_payload(
    *, home_id: str, system_size_kw: int | float | Decimal, net_metered: bool
) -> dict[str, Any]:
    """The body of `POST /v1/homes/solar/create` (seed step 3)."""
    return {
        "homeId": home_id,
        "solarSystemSizeKw": _json_number(system_size_kw),
        # WattShift asks the negative question.
        "isNonNetMetered": not net_metered,
    }


# --- price-signal helpers -------------------------------------------------------------------------
def parse_instant(value: Any) -> datetime:
    """An ISO 8601 instant with an offset (`Z` included) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"date-time without a UTC offset: {value!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class PriceSignal:
    """A price signal as 15-minute series of $/kWh: `prices` (always), and what importing from and
    exporting to the grid cost or earn, when WattShift says (the current API)."""

    prices: list[tuple[datetime, float]]
    imports: list[tuple[datetime, float]] = field(default_factory=list)
    exports: list[tuple[datetime, float]] = field(default_factory=list)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _series(start: datetime, values: list[Any], name: str) -> list[tuple[datetime, float]]:
    """One value per 15 minutes from `start`; a null is an interval WattShift left open (no
    point), anything else that is not a number makes the answer unreadable."""
    series = []
    for index, value in enumerate(values):
        if value is None:
            continue
        number = _number(value)
        if number is None:
            raise ValueError(f"{name} {index} is not a number: {value!r}")
        series.append((start + index * PRICE_INTERVAL, number))
    return series


def _from_segments(
    segments: list[Any], key: str, fallback: str = ""
) -> list[tuple[datetime, float]]:
    """The 15-minute series of one field of `data [{startTime, endTime, price, import, export,
    confidence}]` (or of `fallback` where a segment lacks it), each segment spread over the
    intervals it covers."""
    series = []
    for index, segment in enumerate(segments):
        if not isinstance(segment, dict):
            raise ValueError(f"data {index} is not an object")
        name = key if segment.get(key) is not None or not fallback else fallback
        value = segment.get(name)
        if value is None:
            continue
        number = _number(value)
        if number is None:
            raise ValueError(f"data {index} {name} is not a number: {value!r}")
        begins = parse_instant(segment.get("startTime"))
        ends = parse_instant(segment.get("endTime", segment.get("startTime")))
        moment = begins
        while True:
            series.append((moment, number))
            moment += PRICE_INTERVAL
            if moment >= ends:
                break
    return series


def _array(data: dict[str, Any], *names: str) -> list[Any] | None:
    for name in names:
        if isinstance(data.get(name), list):
            return data[name]
    return None


def read_price_signal(data: dict[str, Any]) -> PriceSignal:
    """The price-signal answer in any of its published shapes: the quickstart's `prices []` from
    `startTime`, the current reference's `data []` segments, and `imports`/`exports` (the guide)
    or `import`/`export` (the reference) arrays. The arrays win over `data`, which fills in
    what they lack; a series WattShift does not give is empty."""
    segments = data.get("data") if isinstance(data.get("data"), list) else None
    start_text = data.get("startTime")
    if start_text is None and segments and isinstance(segments[0], dict):
        start_text = segments[0].get("startTime")
    start = parse_instant(start_text)

    def series(
        arrays: tuple[str, ...], key: str, fallback: str = ""
    ) -> list[tuple[datetime, float]]:
        values = _array(data, *arrays)
        if values is not None:
            return _series(start, values, arrays[0].removesuffix("s"))
        return _from_segments(segments, key, fallback) if segments is not None else []

    if _array(data, "prices") is None and segments is None:
        raise ValueError("price signal without a `prices` list or `data` segments")
    return PriceSignal(
        # A segment may give only what importing costs: that is its price.
        prices=series(("prices",), "price", fallback="import"),
        imports=series(("imports", "import"), "import"),
        exports=series(("exports", "export"), "export"),
    )


def parse_price_signal(data: dict[str, Any]) -> list[tuple[datetime, float]]:
    """(interval start, $/kWh) for each 15-minute price, from `startTime` on (price-signal page)."""
    return read_price_signal(data).prices


def cheapest_window(
    prices: Sequence[tuple[datetime, float]], hours: float = 2
) -> tuple[datetime, datetime, float]:
    """(start, end, average $/kWh) of the cheapest run of `hours` of consecutive intervals.

    Intervals are the signal's 15 minutes; a window never spans a gap in the data. On a tie the
    earliest window wins, so the answer is stable.
    """
    slots = hours * 60 / 15
    if slots <= 0 or slots != int(slots):
        raise ValueError("hours must be a positive multiple of 15 minutes")
    size = int(slots)
    best: tuple[datetime, datetime, float] | None = None
    for first in range(len(prices) - size + 1):
        window = prices[first : first + size]
        contiguous = all(
            later[0] - earlier[0] == PRICE_INTERVAL for earlier, later in itertools.pairwise(window)
        )
        if not contiguous:
            continue
        # fsum: equal windows give equal sums, so the tie-break to the earliest is exact.
        average = math.fsum(price for _, price in window) / size
        if best is None or average < best[2]:
            best = (window[0][0], window[0][0] + size * PRICE_INTERVAL, average)
    if best is None:
        raise ValueError(f"no {hours} h run of consecutive 15-minute prices")
    return best
