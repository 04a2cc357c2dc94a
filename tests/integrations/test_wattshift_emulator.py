"""The WattShift emulator enforces docs/upstreams/wattshift.md, over real HTTP, through our client."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import zipcodes

from integrations.http import UpstreamError
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattshift import DEFAULT_API_KEY, WattShiftEmulator
from integrations.sandbox.wattshift_utilities import (
    RATE_PLANS_BY_ID,
    UTILITIES_BY_ID,
    UTILITIES_BY_STATE,
    utilities_for_info,
    utilities_for_zip,
)
from integrations.wattshift import (
    WattShiftClient,
    WattShiftError,
    cheapest_window,
    home_payload,
    parse_price_signal,
    solar_payload,
)

SEED_ZIP = "95313"  # Crows Landing, CA: the seed's example
TWO_UTILITY_ZIP = "94010"  # Burlingame, CA: PG&E and SCE in the sandbox table
PGE = "ws_util_ca_pge"
PGE_TOU_C = "ws_rp_ca_pge_tou_c"
SCE_FLAT = "ws_rp_ca_sce_d"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    # One server per module: stopping a waitress server costs seconds, resetting it nothing.
    with RunningEmulator(WattShiftEmulator()) as running:
        yield running


@pytest.fixture
def emulator(server: RunningEmulator) -> WattShiftEmulator:
    app = server.app
    assert isinstance(app, WattShiftEmulator)
    app.api_keys = {DEFAULT_API_KEY}
    app.reset()
    return app


@pytest.fixture
def client(server: RunningEmulator, emulator: WattShiftEmulator) -> Iterator[WattShiftClient]:
    wattshift = WattShiftClient(server.base_url, api_key=DEFAULT_API_KEY)
    yield wattshift
    wattshift.close()


@pytest.fixture
def make_client(server: RunningEmulator) -> Iterator[Callable[[str], WattShiftClient]]:
    """Clients with other API keys, closed at teardown."""
    made: list[WattShiftClient] = []

    def make(api_key: str) -> WattShiftClient:
        made.append(WattShiftClient(server.base_url, api_key=api_key))
        return made[-1]

    yield make
    for wattshift in made:
        wattshift.close()


@pytest.fixture
def raw(server: RunningEmulator, emulator: WattShiftEmulator) -> Iterator[httpx.Client]:
    """Plain httpx, for what our client would never send."""
    with httpx.Client(base_url=server.base_url) as http:
        yield http


def seed_home(**changes: Any) -> dict[str, Any]:
    """The seed's step-2 example, with the sandbox's ids for PG&E."""
    fields: dict[str, Any] = {
        "name": "Your Home Name",
        "zipcode": SEED_ZIP,
        "utility_id": PGE,
        "rate_plan_id": PGE_TOU_C,
        "has_ev_charger": True,
        "has_electric_heater": False,
        "has_smart_water_heater": None,
        "has_electric_water_heater": True,
        "has_ac": True,
        "ac_type": "central",
    }
    fields.update(changes)
    return home_payload(**fields)


def fields_of(exc: pytest.ExceptionInfo[UpstreamError]) -> dict[str, str]:
    assert isinstance(exc.value, WattShiftError)
    return dict(exc.value.field_errors)


def code_of(exc: pytest.ExceptionInfo[UpstreamError]) -> str:
    assert isinstance(exc.value, WattShiftError)
    return exc.value.error_code


# --- the sandbox utility table --------------------------------------------------------------------
def test_it_lists_pge_and_its_rate_plans_for_the_seed_zip(client: WattShiftClient) -> None:
    utilities = client.get_utilities(SEED_ZIP)

    assert [u["utilityName"] for u in utilities] == ["Pacific Gas & Electric"]
    (pge,) = utilities
    assert set(pge) == {"utilityId", "utilityName", "wsRatePlans"}
    assert pge["utilityId"] == PGE
    names = [plan["ratePlanName"] for plan in pge["wsRatePlans"]]
    assert names[:3] == ["TOU-D", "TOU-C", "E-6"]
    assert all(set(plan) == {"id", "ratePlanName"} for plan in pge["wsRatePlans"])
    assert all(plan["id"].startswith("ws_rp_ca_pge_") for plan in pge["wsRatePlans"])


def test_it_answers_the_same_for_zip_plus_four(client: WattShiftClient) -> None:
    assert client.get_utilities(f"{SEED_ZIP}-1234") == client.get_utilities(SEED_ZIP)


def test_it_lists_two_utilities_for_a_zip_both_serve(client: WattShiftClient) -> None:
    utilities = client.get_utilities(TWO_UTILITY_ZIP)

    assert len(utilities) == 2
    assert utilities[0]["utilityId"] != utilities[1]["utilityId"]
    plan_ids = [plan["id"] for u in utilities for plan in u["wsRatePlans"]]
    assert len(plan_ids) == len(set(plan_ids))


def test_it_answers_an_empty_list_for_a_zip_nobody_serves(client: WattShiftClient) -> None:
    assert client.get_utilities("00000") == []


@pytest.mark.parametrize("zipcode", ["9531", "953130", "95313-12", "abcde", "95313 1234"])
def test_it_refuses_a_malformed_zip_with_a_field_error(
    client: WattShiftClient, zipcode: str
) -> None:
    with pytest.raises(UpstreamError) as exc:
        client.get_utilities(zipcode)

    assert exc.value.status_code == 400
    assert exc.value.permanent
    assert code_of(exc) == "VALIDATION_FAILED"
    assert "zipcode" in fields_of(exc)
    assert "zipcode: must be 5 digits" in str(exc.value)


def test_it_refuses_a_zip_that_is_a_number(raw: httpx.Client) -> None:
    response = raw.post(
        "/v1/utility/get", json={"zipcode": 95313}, headers={"x-ws-api-key": DEFAULT_API_KEY}
    )

    assert response.status_code == 400
    assert response.json()["field_errors"][0]["field"] == "zipcode"


def test_it_serves_every_zip_the_zipcodes_package_knows() -> None:
    unserved = [z["zip_code"] for z in zipcodes.list_all() if not utilities_for_info(z)]

    assert unserved == []


def test_it_gives_each_state_dc_and_pr_one_to_three_utilities_of_two_to_four_plans() -> None:
    states = {z["state"] for z in zipcodes.list_all() if z["country"] == "US"} - {"AA", "AE", "AP"}
    for state in states | {"DC", "PR"}:
        assert 1 <= len(UTILITIES_BY_STATE[state]) <= 3, state
    for utility in UTILITIES_BY_ID.values():
        assert 2 <= len(utility.rate_plans) <= 4, utility.id
        assert utility.sandbox and all(plan.sandbox for plan in utility.rate_plans)
        assert re.fullmatch(r"ws_util_[a-z]{2}_[a-z0-9_]+", utility.id)
        assert all(plan.id.startswith(f"ws_rp_{utility.id[8:]}_") for plan in utility.rate_plans)
    assert len(RATE_PLANS_BY_ID) == sum(len(u.rate_plans) for u in UTILITIES_BY_ID.values())


def test_it_serves_some_but_not_most_zips_with_two_utilities() -> None:
    counts = [len(utilities_for_info(z)) for z in zipcodes.list_all()]

    share = counts.count(2) / len(counts)
    assert 0.03 < share < 0.25
    assert max(counts) == 2


def test_it_assigns_the_same_utilities_to_a_zip_on_every_call() -> None:
    # The assignment hashes with sha256: a salted hash() would change between processes, which
    # this in-process check cannot see, so the ids are pinned too.
    assert [u.id for u in utilities_for_zip(SEED_ZIP)] == [PGE]
    assert [u.id for u in utilities_for_zip(TWO_UTILITY_ZIP)] == [PGE, "ws_util_ca_sce"]
    assert [u.id for u in utilities_for_zip("10001")] == ["ws_util_ny_coned"]


# --- homes and solar ------------------------------------------------------------------------------
def test_it_creates_a_home_from_the_seed_example(
    client: WattShiftClient, emulator: WattShiftEmulator
) -> None:
    home_id = client.create_home(seed_home())

    assert re.fullmatch(r"ws_home_[0-9a-f]{32}", home_id)
    stored = emulator.state["homes"][home_id]
    assert stored["name"] == "Your Home Name"
    assert stored["ratePlanId"] == PGE_TOU_C
    assert stored["hasSmartWaterHeater"] is None
    assert stored["acType"] == "central"
    assert stored["timezone"] == "America/Los_Angeles"


def test_it_refuses_a_rate_plan_of_another_utility(
    client: WattShiftClient, emulator: WattShiftEmulator
) -> None:
    with pytest.raises(UpstreamError) as exc:
        client.create_home(seed_home(rate_plan_id=SCE_FLAT))

    assert exc.value.status_code == 400
    assert fields_of(exc) == {"ratePlanId": f"does not belong to utility {PGE}"}
    assert emulator.state["homes"] == {}


def test_it_refuses_a_utility_that_does_not_serve_the_zip(client: WattShiftClient) -> None:
    payload = seed_home(utility_id="ws_util_ca_sce", rate_plan_id=SCE_FLAT)

    with pytest.raises(UpstreamError) as exc:
        client.create_home(payload)

    assert fields_of(exc) == {"utilityId": f"does not serve zip code {SEED_ZIP}"}


def test_it_refuses_unknown_fields_and_wrong_types_all_at_once(raw: httpx.Client) -> None:
    body = {**seed_home(), "hasAC": "yes", "acType": "heat-pump", "color": "blue"}

    response = raw.post("/v1/homes/create", json=body, headers={"x-ws-api-key": DEFAULT_API_KEY})

    assert response.status_code == 400
    envelope = response.json()
    assert set(envelope) == {
        "request_id",
        "error_code",
        "message",
        "field_errors",
        "retry_after_seconds",
    }
    assert envelope["error_code"] == "VALIDATION_FAILED"
    assert {error["field"] for error in envelope["field_errors"]} == {"hasAC", "acType", "color"}


@pytest.mark.parametrize(("name", "accepted"), [("", False), ("x" * 256, False), ("x" * 255, True)])
def test_it_requires_a_name_of_1_to_255_characters(
    client: WattShiftClient, name: str, accepted: bool
) -> None:
    payload = {**seed_home(), "name": name}

    if accepted:
        assert client.create_home(payload).startswith("ws_home_")
    else:
        with pytest.raises(UpstreamError) as exc:
            client.create_home(payload)
        assert "name" in fields_of(exc)


def test_it_requires_zip_utility_and_rate_plan(raw: httpx.Client) -> None:
    response = raw.post(
        "/v1/homes/create", json={"name": "Home"}, headers={"x-ws-api-key": DEFAULT_API_KEY}
    )

    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["field_errors"]}
    assert fields == {"zipcode", "utilityId", "ratePlanId"}


def test_it_adds_solar_to_a_home(client: WattShiftClient, emulator: WattShiftEmulator) -> None:
    home_id = client.create_home(seed_home())

    answer = client.create_solar(
        solar_payload(home_id=home_id, system_size_kw=5, net_metered=False)
    )

    assert answer == home_id
    solar = emulator.state["solar"][home_id]
    assert solar["solarSystemSizeKw"] == 5
    assert solar["isNonNetMetered"] is True


def test_it_answers_404_for_solar_on_an_unknown_home(client: WattShiftClient) -> None:
    payload = solar_payload(home_id="ws_home_missing", system_size_kw=5, net_metered=True)

    with pytest.raises(UpstreamError) as exc:
        client.create_solar(payload)

    assert exc.value.status_code == 404
    assert exc.value.permanent
    assert code_of(exc) == "NOT_FOUND"


@pytest.mark.parametrize("size_kw", [0, -1.5])
def test_it_refuses_a_solar_size_that_is_not_above_zero(
    client: WattShiftClient, size_kw: float
) -> None:
    home_id = client.create_home(seed_home())

    with pytest.raises(UpstreamError) as exc:
        client.create_solar(
            solar_payload(home_id=home_id, system_size_kw=size_kw, net_metered=True)
        )

    assert fields_of(exc) == {"solarSystemSizeKw": "must be a number above 0"}


# --- auth -----------------------------------------------------------------------------------------
def test_it_refuses_a_call_without_an_api_key(raw: httpx.Client) -> None:
    response = raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP})

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTH_MISSING_API_KEY"


def test_it_refuses_a_wrong_api_key_permanently(
    make_client: Callable[[str], WattShiftClient], emulator: WattShiftEmulator
) -> None:
    with pytest.raises(UpstreamError) as exc:
        make_client("not-the-key").get_utilities(SEED_ZIP)

    assert exc.value.status_code == 401
    assert exc.value.permanent
    assert code_of(exc) == "AUTH_INVALID_API_KEY"


def test_it_accepts_an_api_key_added_for_an_organization(
    make_client: Callable[[str], WattShiftClient], emulator: WattShiftEmulator
) -> None:
    acme = make_client("acme-wattshift-key")
    with pytest.raises(UpstreamError):
        acme.get_utilities(SEED_ZIP)

    emulator.add_api_key("acme-wattshift-key")

    assert acme.get_utilities(SEED_ZIP)


def test_it_issues_session_tokens_usable_as_bearer_until_expired(
    client: WattShiftClient, raw: httpx.Client
) -> None:
    token = client.generate_session_token()
    bearer = {"Authorization": f"Bearer {token}"}

    assert (
        raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP}, headers=bearer).status_code == 200
    )
    raw.post("/_sandbox/faults", json={"expire_tokens": True})
    expired = raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP}, headers=bearer)
    assert expired.status_code == 401
    assert expired.json()["error_code"] == "AUTH_INVALID_API_KEY"


def test_it_mints_session_tokens_only_for_an_api_key(
    client: WattShiftClient, raw: httpx.Client
) -> None:
    token = client.generate_session_token()

    response = raw.post(
        "/v1/onboarding/session-token/generate", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTH_MISSING_API_KEY"


# --- protocol -------------------------------------------------------------------------------------
def test_it_answers_405_in_the_envelope_to_a_get(raw: httpx.Client) -> None:
    response = raw.get("/v1/utility/get", headers={"x-ws-api-key": DEFAULT_API_KEY})

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert response.json()["request_id"].startswith("req_")


def test_it_answers_404_in_the_envelope_to_an_unknown_path(raw: httpx.Client) -> None:
    response = raw.post("/v1/nowhere", json={}, headers={"x-ws-api-key": DEFAULT_API_KEY})

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"zipcode": ', "application/json"),
        (b"zipcode=95313", "application/x-www-form-urlencoded"),
    ],
)
def test_it_refuses_a_body_that_is_not_json(
    raw: httpx.Client, body: bytes, content_type: str
) -> None:
    headers = {"x-ws-api-key": DEFAULT_API_KEY, "Content-Type": content_type}

    response = raw.post("/v1/utility/get", content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_FAILED"


@pytest.mark.parametrize(("fault_retry_after", "header", "seconds"), [(7, "7", 7), (None, "1", 1)])
def test_it_rate_limits_with_retry_after_in_body_and_header(
    client: WattShiftClient,
    raw: httpx.Client,
    fault_retry_after: int | None,
    header: str,
    seconds: int,
) -> None:
    fault: dict[str, Any] = {"fail_next": 1, "status": 429}
    if fault_retry_after is not None:
        fault["retry_after"] = fault_retry_after
    raw.post("/_sandbox/faults", json=fault)

    limited = raw.post(
        "/v1/utility/get", json={"zipcode": SEED_ZIP}, headers={"x-ws-api-key": DEFAULT_API_KEY}
    )

    assert limited.status_code == 429
    assert limited.headers.get_list("Retry-After") == [header]
    assert limited.json()["error_code"] == "RATE_LIMITED"
    assert limited.json()["retry_after_seconds"] == seconds
    assert client.get_utilities(SEED_ZIP)  # the fault was for one call only


def test_it_rate_limits_through_the_client_as_a_transient_error(
    client: WattShiftClient, raw: httpx.Client
) -> None:
    # No retry_after in the fault: the emulator still says when to come back.
    raw.post("/_sandbox/faults", json={"fail_next": 1, "status": 429})

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities(SEED_ZIP)

    assert exc.value.status_code == 429
    assert not exc.value.permanent
    assert exc.value.retry_after_s == 1
    assert code_of(exc) == "RATE_LIMITED"


def test_it_answers_an_injected_503_with_internal_error_transiently(
    client: WattShiftClient, raw: httpx.Client
) -> None:
    raw.post("/_sandbox/faults", json={"fail_next": 1, "status": 503})

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities(SEED_ZIP)

    assert exc.value.status_code == 503
    assert not exc.value.permanent
    assert code_of(exc) == "INTERNAL_ERROR"


def test_it_keeps_its_state_json_serialisable(client: WattShiftClient, raw: httpx.Client) -> None:
    home_id = client.create_home(seed_home())
    client.create_solar(solar_payload(home_id=home_id, system_size_kw=3.2, net_metered=True))
    client.generate_session_token()

    state = raw.get("/_sandbox/state").json()

    assert set(state["homes"]) == {home_id}
    assert state["solar"][home_id]["solarSystemSizeKw"] == 3.2
    assert len(state["session_tokens"]) == 1
    assert json.loads(json.dumps(state)) == state


def test_it_keeps_homes_across_a_restart_through_its_state_file(tmp_path: Path) -> None:
    state_path = tmp_path / "wattshift.json"
    with RunningEmulator(WattShiftEmulator(state_path)) as first:
        wattshift = WattShiftClient(first.base_url, api_key=DEFAULT_API_KEY)
        home_id = wattshift.create_home(seed_home())
        wattshift.close()

    restarted = WattShiftEmulator(state_path)

    assert home_id in restarted.state["homes"]


# --- price signal ---------------------------------------------------------------------------------
def test_it_signals_96_quarter_hours_for_the_next_24_hours_by_default(
    client: WattShiftClient,
) -> None:
    home_id = client.create_home(seed_home())
    before = datetime.now(UTC)

    signal = client.get_price_signal(home_id)

    assert signal["homeId"] == home_id
    start = datetime.fromisoformat(signal["startTime"])
    end = datetime.fromisoformat(signal["endTime"])
    assert abs(start - before) < timedelta(seconds=5)
    assert end - start == timedelta(hours=24)
    assert len(signal["prices"]) == 96
    assert all(isinstance(price, float) and 0 < price < 2 for price in signal["prices"])


def test_it_groups_equal_prices_into_data_segments(client: WattShiftClient) -> None:
    home_id = client.create_home(seed_home())

    signal = client.get_price_signal(home_id)

    segments = signal["data"]
    assert segments[0]["startTime"] == signal["startTime"]
    assert segments[-1]["endTime"] == signal["endTime"]
    expanded = []
    for segment in segments:
        span = datetime.fromisoformat(segment["endTime"]) - datetime.fromisoformat(
            segment["startTime"]
        )
        expanded += [segment["price"]] * round(span / timedelta(minutes=15))
    assert expanded == signal["prices"]


def test_it_signals_the_window_it_is_given(client: WattShiftClient) -> None:
    home_id = client.create_home(seed_home())
    start = datetime(2025, 2, 25, 16, 13, 37, 902000, tzinfo=UTC)

    signal = client.get_price_signal(home_id, start, start + timedelta(hours=2))

    assert signal["startTime"] == "2025-02-25T16:13:37.902Z"
    assert signal["endTime"] == "2025-02-25T18:13:37.902Z"
    assert len(signal["prices"]) == 8


@pytest.mark.parametrize("given", ["startTime", "endTime"])
def test_it_wants_both_start_and_end_or_neither(
    raw: httpx.Client, client: WattShiftClient, given: str
) -> None:
    home_id = client.create_home(seed_home())

    response = raw.post(
        f"/v1/homes/{home_id}/price_signal",
        json={given: "2025-02-25T16:00:00Z"},
        headers={"x-ws-api-key": DEFAULT_API_KEY},
    )

    assert response.status_code == 400
    missing = {"startTime", "endTime"} - {given}
    assert {error["field"] for error in response.json()["field_errors"]} == missing


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2025-02-25T16:00:00", "2025-02-25T18:00:00", "startTime"),  # no offset
        ("2025-02-25T18:00:00Z", "2025-02-25T16:00:00Z", "endTime"),  # backwards
        ("2025-02-25T16:00:00Z", "2025-03-05T16:00:00Z", "endTime"),  # more than 7 days
        ("yesterday", "2025-02-25T16:00:00Z", "startTime"),
    ],
)
def test_it_refuses_a_window_it_cannot_serve(
    raw: httpx.Client, client: WattShiftClient, start: str, end: str, field: str
) -> None:
    home_id = client.create_home(seed_home())

    response = raw.post(
        f"/v1/homes/{home_id}/price_signal",
        json={"startTime": start, "endTime": end},
        headers={"x-ws-api-key": DEFAULT_API_KEY},
    )

    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["field_errors"]}


def test_it_answers_404_for_the_price_signal_of_an_unknown_home(client: WattShiftClient) -> None:
    with pytest.raises(UpstreamError) as exc:
        client.get_price_signal("ws_home_missing")

    assert exc.value.status_code == 404


def test_it_signals_the_same_prices_for_the_same_home_and_time(client: WattShiftClient) -> None:
    first = client.create_home(seed_home())
    second = client.create_home(seed_home())
    start = datetime(2025, 3, 4, 8, tzinfo=UTC)
    end = start + timedelta(hours=24)

    again = client.get_price_signal(first, start, end)["prices"]

    assert client.get_price_signal(first, start, end)["prices"] == again
    assert client.get_price_signal(second, start, end)["prices"] != again


@pytest.mark.parametrize(("zipcode", "zone"), [(SEED_ZIP, LOS_ANGELES), ("10001", NEW_YORK)])
def test_it_peaks_in_the_local_evening_of_the_home(
    client: WattShiftClient, zipcode: str, zone: ZoneInfo
) -> None:
    utility = client.get_utilities(zipcode)[0]
    plan = next(p for p in utility["wsRatePlans"] if "flat" not in p["ratePlanName"].lower())
    home_id = client.create_home(
        seed_home(zipcode=zipcode, utility_id=utility["utilityId"], rate_plan_id=plan["id"])
    )
    # A Tuesday, midnight to midnight in the home's own zone.
    start = datetime(2025, 3, 4, tzinfo=zone)

    prices = parse_price_signal(client.get_price_signal(home_id, start, start + timedelta(days=1)))

    peak_at, _ = max(prices, key=lambda item: item[1])
    trough_at, _ = min(prices, key=lambda item: item[1])
    assert 16 <= peak_at.astimezone(zone).hour < 21
    assert not 16 <= trough_at.astimezone(zone).hour < 21


def test_it_credits_exports_only_for_a_home_with_solar(client: WattShiftClient) -> None:
    home_id = client.create_home(seed_home())
    start = datetime(2025, 3, 4, 20, tzinfo=UTC)
    end = start + timedelta(hours=4)
    assert {s["export"] for s in client.get_price_signal(home_id, start, end)["data"]} == {0.0}

    client.create_solar(solar_payload(home_id=home_id, system_size_kw=5, net_metered=True))

    segments = client.get_price_signal(home_id, start, end)["data"]
    assert all(s["export"] == s["import"] > 0 for s in segments)


def test_it_finds_the_cheapest_window_outside_the_evening_peak(client: WattShiftClient) -> None:
    home_id = client.create_home(seed_home())
    start = datetime(2025, 3, 4, tzinfo=LOS_ANGELES)
    prices = parse_price_signal(client.get_price_signal(home_id, start, start + timedelta(days=1)))

    begins, ends, average = cheapest_window(prices, hours=2)

    assert ends - begins == timedelta(hours=2)
    assert not 16 <= begins.astimezone(LOS_ANGELES).hour < 21
    every_window = [
        sum(price for _, price in prices[i : i + 8]) / 8 for i in range(len(prices) - 7)
    ]
    assert average == pytest.approx(min(every_window))
    assert average < max(every_window)
