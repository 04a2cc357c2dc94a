"""WattShift's current API (docs/upstreams/wattshift.md, "Calls (current)"): every call of the
current profile through our client against the current emulator over real HTTP, the emulator's
strictness, and the new error codes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations.http import UpstreamError
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattshift import DEFAULT_API_KEY, WattShiftEmulator
from integrations.sandbox.wattshift.current import WattShiftCurrentEmulator
from integrations.wattshift import (
    WattShiftClient,
    WattShiftError,
    current_home_payload,
    home_payload,
    read_price_signal,
    utilities_answer,
)

SEED_ZIP = "95313"
PGE = "ws_util_ca_pge"
PGE_TOU_C = "ws_rp_ca_pge_tou_c"
SCE_FLAT = "ws_rp_ca_sce_d"


@pytest.fixture
def emulator(wattshift_current_http: RunningEmulator) -> WattShiftCurrentEmulator:
    app = wattshift_current_http.app
    assert isinstance(app, WattShiftCurrentEmulator)
    return app


@pytest.fixture
def client(
    wattshift_current_http: RunningEmulator, emulator: WattShiftCurrentEmulator
) -> Iterator[WattShiftClient]:
    with WattShiftClient(wattshift_current_http.base_url, api_key=DEFAULT_API_KEY) as wattshift:
        yield wattshift


@pytest.fixture
def raw(
    wattshift_current_http: RunningEmulator, emulator: WattShiftCurrentEmulator
) -> Iterator[httpx.Client]:
    """Plain httpx with the key, for what our client would never send."""
    with httpx.Client(
        base_url=wattshift_current_http.base_url, headers={"x-ws-api-key": DEFAULT_API_KEY}
    ) as http:
        yield http


def home(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Sunny home",
        "zipcode": SEED_ZIP,
        "utility_id": PGE,
        "rate_plan_id": PGE_TOU_C,
    }
    fields.update(changes)
    return current_home_payload(**fields)


def refusal(exc: pytest.ExceptionInfo[UpstreamError]) -> WattShiftError:
    assert isinstance(exc.value, WattShiftError)
    return exc.value


def test_it_lists_rate_plans_with_id_rate_id_name_and_supported_type(raw: httpx.Client) -> None:
    answer = raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP}).json()
    pge = next(utility for utility in answer if utility["utilityId"] == PGE)
    assert "wsRatePlans" not in pge
    plan = next(plan for plan in pge["ratePlans"] if plan["id"] == PGE_TOU_C)
    assert set(plan) == {"id", "rateID", "ratePlanName", "supportedType"}
    assert plan["rateID"] == "TOU-C" and plan["rateID"] != plan["id"]


def test_it_filters_utilities_and_pages_them(raw: httpx.Client) -> None:
    both = raw.post("/v1/utility/get", json={"zipcode": "94010"}).json()
    assert len(both) == 2
    one = raw.post("/v1/utility/get", json={"zipcode": "94010", "utilityId": PGE}).json()
    assert [u["utilityId"] for u in one] == [PGE]
    page2 = raw.post("/v1/utility/get", json={"zipcode": "94010", "pageSize": 1, "pageNumber": 2})
    assert page2.json() == [both[1]]
    refused = raw.post("/v1/utility/get", json={"zipcode": "94010", "pageSize": 0, "radius": "x"})
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json()["field_errors"]} == {"pageSize", "radius"}


def test_it_reads_the_current_answer_as_plans_with_their_references(
    client: WattShiftClient,
) -> None:
    utilities = client.get_utilities(SEED_ZIP)
    plans = next(u for u in utilities if u["utilityId"] == PGE)["wsRatePlans"]
    assert {plan["id"] for plan in plans} >= {PGE_TOU_C}
    assert all(plan["rateID"] and plan["supportedType"] for plan in plans)


def test_it_creates_a_home_with_its_solar_and_reads_the_whole_home_answer(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    home_id = client.create_home_current(home(solar_system_size_kw=7.6, net_metered=False))
    assert home_id.startswith("ws_home_")
    stored = emulator.state["homes"][home_id]
    assert stored["name"] == "Sunny home" and stored["ratePlanId"] == PGE_TOU_C
    assert emulator.state["solar"][home_id]["solarSystemSizeKw"] == 7.6
    assert emulator.state["solar"][home_id]["isNonNetMetered"] is True


def test_it_reads_the_guides_id_only_answer_too(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    emulator.create_answer = "id"
    assert client.create_home_current(home()) in emulator.state["homes"]


def test_it_counts_a_create_answer_without_an_id_as_lost(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    emulator.faults.drop_answer_next = 1
    with pytest.raises(UpstreamError) as lost:
        client.create_home_current(home())
    assert lost.value.answer_lost and len(emulator.state["homes"]) == 1


def test_it_updates_a_home_partially_and_adds_solar_later(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    home_id = client.create_home_current(home())
    assert home_id not in emulator.state["solar"]
    client.update_home(home_id, {"name": "Renamed", "ratePlanId": "ws_rp_ca_pge_e_1"})
    stored = emulator.state["homes"][home_id]
    assert stored["name"] == "Renamed" and stored["ratePlanId"] == "ws_rp_ca_pge_e_1"
    assert stored["zipcode"] == SEED_ZIP  # a partial body leaves the rest alone
    client.update_home(home_id, {"solarSystemSizeKw": 5, "isNonNetMetered": False})
    assert emulator.state["solar"][home_id]["solarSystemSizeKw"] == 5
    client.update_home(home_id, {"solarSystemSizeKw": 6.5})  # solar there: one field may change
    assert emulator.state["solar"][home_id] | {"updatedAt": ""} == {
        "homeId": home_id,
        "solarSystemSizeKw": 6.5,
        "isNonNetMetered": False,
        "updatedAt": "",
    }


def test_it_refuses_an_update_of_an_unknown_home(client: WattShiftClient) -> None:
    with pytest.raises(UpstreamError) as missing:
        client.update_home("ws_home_nope", {"name": "x"})
    assert refusal(missing).error_code == "NOT_FOUND" and missing.value.permanent


def test_it_refuses_the_quickstart_flags_and_ac_type_as_unknown_fields(raw: httpx.Client) -> None:
    body = home_payload(
        name="Old shape",
        zipcode=SEED_ZIP,
        utility_id=PGE,
        rate_plan_id=PGE_TOU_C,
        has_ac=True,
        ac_type="central",
    )
    answer = raw.post("/v1/homes/create", json=body)
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["field_errors"]}
    assert fields == {
        "hasEvCharger",
        "hasElectricHeater",
        "hasSmartWaterHeater",
        "hasElectricWaterHeater",
        "hasAC",
        "acType",
    }


def test_it_refuses_wrong_types_and_a_solar_field_alone(raw: httpx.Client) -> None:
    answer = raw.post(
        "/v1/homes/create",
        json={
            "name": "",
            "zipcode": SEED_ZIP,
            "utilityId": PGE,
            "ratePlanId": SCE_FLAT,
            "solarSystemSizeKw": 4,
            "carbonSignalIntensity": "VERY",
            "enabled": "yes",
        },
    )
    assert answer.status_code == 400
    assert {e["field"] for e in answer.json()["field_errors"]} == {
        "name",
        "ratePlanId",
        "isNonNetMetered",
        "carbonSignalIntensity",
        "enabled",
    }


def test_it_takes_a_null_rate_plan_and_the_optional_fields(raw: httpx.Client) -> None:
    answer = raw.post(
        "/v1/homes/create",
        json={
            "name": "No plan yet",
            "zipcode": SEED_ZIP,
            "utilityId": PGE,
            "ratePlanId": None,
            "clientId": "gridfolio-home-12",
            "carbonSignalIntensity": "LOW",
            "enabled": True,
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["ratePlanId"] is None and body["UtilityId"] == PGE
    assert body["clientId"] == "gridfolio-home-12" and "owner" not in body
    prices = raw.post(f"/v1/homes/{body['id']}/price_signal", json={})
    assert prices.status_code == 200 and len(prices.json()["prices"]) == 96


def test_it_refuses_a_call_without_a_key(wattshift_current_http: RunningEmulator) -> None:
    answer = httpx.post(f"{wattshift_current_http.base_url}/v1/homes/create", json={})
    assert answer.status_code == 401 and answer.json()["error_code"] == "AUTH_MISSING_API_KEY"


def test_it_gives_the_new_shape_of_the_price_signal(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    home_id = client.create_home_current(home(solar_system_size_kw=6, net_metered=False))
    start = datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
    answer = client.get_price_signal(home_id, start, start + timedelta(hours=24))
    assert {"data", "prices", "imports", "exports"} <= set(answer)
    segment = answer["data"][0]
    assert set(segment) == {"startTime", "endTime", "price", "import", "export", "confidence"}
    signal = read_price_signal(answer)
    assert len(signal.prices) == len(signal.imports) == len(signal.exports) == 96
    # Non-net-metered solar earns less than it pays at some point of the day.
    assert any(e < i for (_, e), (_, i) in zip(signal.exports, signal.imports, strict=True))

    emulator.price_array_names = ("import", "export")  # the reference's names
    renamed = client.get_price_signal(home_id, start, start + timedelta(hours=24))
    assert "imports" not in renamed and read_price_signal(renamed) == signal


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        ("expired", "AUTH_EXPIRED_CREDENTIAL", True),
        ("revoked", "AUTH_REVOKED_CREDENTIAL", True),
        ("insufficient_scope", "AUTH_INSUFFICIENT_SCOPE", True),
        ("production_denied", "PRODUCTION_ACCESS_DENIED", True),
    ],
)
def test_it_refuses_a_key_with_the_new_codes_and_a_recovery_action(
    client: WattShiftClient,
    emulator: WattShiftCurrentEmulator,
    status: str,
    code: str,
    permanent: bool,
) -> None:
    emulator.set_key_status(DEFAULT_API_KEY, status)
    with pytest.raises(UpstreamError) as refused:
        client.create_home_current(home())
    error = refusal(refused)
    assert error.error_code == code and error.permanent is permanent
    assert error.refuses_credentials and error.recovery_action
    assert "WattShift suggests:" in error.message
    assert not emulator.state["homes"]


def test_it_forbids_a_home_another_key_created(
    wattshift_current_http: RunningEmulator,
    client: WattShiftClient,
    emulator: WattShiftCurrentEmulator,
) -> None:
    home_id = client.create_home_current(home())
    emulator.add_api_key("other-client-key")
    other = WattShiftClient(wattshift_current_http.base_url, api_key="other-client-key")
    with other, pytest.raises(UpstreamError) as forbidden:
        other.update_home(home_id, {"name": "Not mine"})
    error = refusal(forbidden)
    assert error.error_code == "FORBIDDEN" and error.permanent and not error.refuses_credentials
    assert emulator.state["homes"][home_id]["name"] == "Sunny home"


def test_it_honours_retry_after_seconds_of_a_rate_limit(
    client: WattShiftClient, emulator: WattShiftCurrentEmulator
) -> None:
    emulator.faults.fail_next, emulator.faults.status = 1, 429
    with pytest.raises(UpstreamError) as limited:
        client.create_home_current(home())
    assert not limited.value.permanent and limited.value.retry_after_s == 1


def test_the_older_and_the_current_utilities_answers_give_the_same_plans(
    tmp_path, raw: httpx.Client
) -> None:
    current = utilities_answer(raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP}).json())
    with (
        RunningEmulator(WattShiftEmulator()) as older,
        httpx.Client(base_url=older.base_url, headers={"x-ws-api-key": DEFAULT_API_KEY}) as http,
    ):
        quickstart = utilities_answer(
            http.post("/v1/utility/get", json={"zipcode": SEED_ZIP}).json()
        )
    ids = [[plan["id"] for plan in u["wsRatePlans"]] for u in quickstart]
    assert ids == [[plan["id"] for plan in u["wsRatePlans"]] for u in current]
    assert all(ids)


def test_its_key_control_sets_and_clears_a_keys_status(
    wattshift_current_http: RunningEmulator, raw: httpx.Client
) -> None:
    control = f"{wattshift_current_http.base_url}/_sandbox/keys"
    assert httpx.post(control, json={"key": DEFAULT_API_KEY, "status": "nope"}).status_code == 400
    httpx.post(control, json={"key": DEFAULT_API_KEY, "status": "revoked"})
    refused = raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP})
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
    assert refused.json()["recovery_action"]
    httpx.post(control, json={"key": DEFAULT_API_KEY, "status": ""})
    assert raw.post("/v1/utility/get", json={"zipcode": SEED_ZIP}).status_code == 200
