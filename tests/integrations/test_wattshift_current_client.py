"""The WattShift client's tolerant readers of the current API's answers (pure functions): the price
signal in each published shape, the create answer's home id, the error envelope's new fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations.http import UpstreamError
from integrations.wattshift import (
    WattShiftClient,
    WattShiftError,
    current_home_payload,
    home_id_of,
    read_price_signal,
    utilities_answer,
)

T0 = datetime(2025, 7, 1, 7, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def test_it_reads_the_quickstart_prices_alone() -> None:
    signal = read_price_signal({"startTime": "2025-07-01T07:00:00.000Z", "prices": [0.2, 0.3]})
    assert signal.prices == [(T0, 0.2), (T0 + Q, 0.3)]
    assert signal.imports == signal.exports == []


def test_it_spreads_data_segments_over_their_intervals_when_there_are_no_arrays() -> None:
    signal = read_price_signal(
        {
            "homeId": "ws_home_1",
            "data": [
                {
                    "startTime": "2025-07-01T07:00:00Z",
                    "endTime": "2025-07-01T07:30:00Z",
                    "price": 0.2,
                    "import": 0.21,
                    "export": 0.05,
                    "confidence": 0.9,
                },
                {
                    "startTime": "2025-07-01T07:30:00Z",
                    "endTime": "2025-07-01T07:45:00Z",
                    "import": 0.3,
                    "export": None,
                },
            ],
        }
    )
    assert signal.prices == [(T0, 0.2), (T0 + Q, 0.2), (T0 + 2 * Q, 0.3)]  # import stands in
    assert signal.imports == [(T0, 0.21), (T0 + Q, 0.21), (T0 + 2 * Q, 0.3)]
    assert signal.exports == [(T0, 0.05), (T0 + Q, 0.05)]


@pytest.mark.parametrize(("imports", "exports"), [("imports", "exports"), ("import", "export")])
def test_it_reads_either_name_of_the_import_and_export_arrays(imports: str, exports: str) -> None:
    answer: dict[str, Any] = {
        "startTime": "2025-07-01T07:00:00Z",
        "prices": [0.2, 0.3],
        imports: [0.25, None],
        exports: [0.04, 0.05],
        "data": [{"startTime": "2025-07-01T07:00:00Z", "endTime": "2025-07-01T07:30:00Z"}],
    }
    signal = read_price_signal(answer)
    assert signal.imports == [(T0, 0.25)] and signal.exports == [(T0, 0.04), (T0 + Q, 0.05)]


@pytest.mark.parametrize(
    "answer",
    [
        {"startTime": "2025-07-01T07:00:00Z"},
        {"startTime": "2025-07-01T07:00:00Z", "prices": [0.1], "exports": ["cheap"]},
        {"data": [{"startTime": "2025-07-01T07:00:00", "endTime": "x", "price": 0.1}]},
        {"data": ["not a segment"], "startTime": "2025-07-01T07:00:00Z"},
    ],
)
def test_it_refuses_what_it_cannot_read_with_a_reason(answer: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        read_price_signal(answer)


def test_it_finds_the_home_id_in_every_answer_shape_or_counts_the_answer_lost() -> None:
    assert home_id_of({"id": "ws_home_a"}) == "ws_home_a"
    assert home_id_of({"id": "ws_home_b", "createdAt": "2025-01-01T00:00:00Z"}) == "ws_home_b"
    assert home_id_of({"data": {"id": "ws_home_c"}}) == "ws_home_c"
    with pytest.raises(UpstreamError) as lost:
        home_id_of({"createdAt": "2025-01-01T00:00:00Z"})
    assert lost.value.answer_lost


def test_the_current_home_body_has_no_flags_and_solar_only_as_a_pair() -> None:
    plain = current_home_payload(name=" Home ", zipcode="95313", utility_id="u", rate_plan_id="p")
    assert plain == {"name": "Home", "zipcode": "95313", "utilityId": "u", "ratePlanId": "p"}
    solar = current_home_payload(
        name="Home", zipcode="95313", utility_id="u", rate_plan_id="p", solar_system_size_kw=5
    )
    assert solar["solarSystemSizeKw"] == 5 and solar["isNonNetMetered"] is False


def test_both_utility_answer_shapes_keep_their_plans() -> None:
    older = [
        {"utilityId": "u", "utilityName": "U", "wsRatePlans": [{"id": "p", "ratePlanName": "P"}]}
    ]
    current = [
        {
            "utilityId": "u",
            "utilityName": "U",
            "ratePlans": [{"id": "p", "rateID": "E-1", "ratePlanName": "P", "supportedType": "X"}],
        }
    ]
    assert [p["id"] for p in utilities_answer(older)[0]["wsRatePlans"]] == ["p"]
    (plan,) = utilities_answer(current)[0]["wsRatePlans"]
    assert plan["rateID"] == "E-1" and plan["supportedType"] == "X"


def envelope_client(body: dict[str, Any], status: int) -> WattShiftClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    return WattShiftClient(
        "https://api.wattshift.com", api_key="k", transport=httpx.MockTransport(answer)
    )


@pytest.mark.parametrize(
    ("recovery", "shown"),
    [
        ("Generate a new API key.", "Generate a new API key."),
        ({"type": "ROTATE_KEY", "message": "Rotate the key."}, "Rotate the key."),
        (["odd"], ""),
    ],
)
def test_it_words_the_recovery_action_whatever_its_shape(recovery: Any, shown: str) -> None:
    body = {
        "error_code": "AUTH_EXPIRED_CREDENTIAL",
        "message": "The API key has expired.",
        "recovery_action": recovery,
        "retry_after_seconds": None,
    }
    with envelope_client(body, 401) as client, pytest.raises(WattShiftError) as refused:
        client.update_home("ws_home_1", {"name": "x"})
    assert refused.value.recovery_action == shown and refused.value.refuses_credentials
    assert ("WattShift suggests" in refused.value.message) is bool(shown)


def test_a_service_error_with_retry_after_seconds_is_retried_then() -> None:
    body = {"error_code": "INTERNAL_ERROR", "message": "Busy.", "retry_after_seconds": 12}
    with envelope_client(body, 503) as client, pytest.raises(WattShiftError) as busy:
        client.update_home("ws_home_1", {"name": "x"})
    assert not busy.value.permanent and busy.value.retry_after_s == 12
    assert not busy.value.refuses_credentials
