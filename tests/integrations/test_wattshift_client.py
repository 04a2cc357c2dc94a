"""The WattShift client and its pure helpers, against the seed's examples (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from integrations.http import USER_AGENT, CallRecord, UpstreamError
from integrations.wattshift import (
    WattShiftClient,
    WattShiftError,
    cheapest_window,
    home_payload,
    parse_price_signal,
    solar_payload,
)

API_KEY = "test-wattshift-key"

# Seed 003, step 2 "Create a Home", request body verbatim (comments dropped).
SEED_HOME_REQUEST: dict[str, Any] = {
    "name": "Your Home Name",
    "zipcode": "95313",
    "utilityId": "14328",
    "ratePlanId": "662955dff338bcedec0dbfe7",
    "hasEvCharger": True,
    "hasElectricHeater": False,
    "hasSmartWaterHeater": None,
    "hasElectricWaterHeater": True,
    "hasAC": True,
    "acType": "central",
}
# Seed 003, step 3 "Create Solar (if needed)".
SEED_SOLAR_REQUEST: dict[str, Any] = {
    "homeId": "home_id",
    "solarSystemSizeKw": 5,
    "isNonNetMetered": False,
}
# WattShift's price-signal page: 9 h at 0.42625, 3 h at 0.46486, 12 h at 0.42625 (its `data`).
DOC_START = "2025-02-25T16:13:37.902Z"
DOC_PRICES = [0.42625] * 36 + [0.46486] * 12 + [0.42625] * 48
DOC_SIGNAL: dict[str, Any] = {
    "homeId": "ws_home_7bc31940df8a4615b2dc9e84f3a92c51",
    "startTime": DOC_START,
    "endTime": "2025-02-26T16:13:37.902Z",
    "prices": DOC_PRICES,
}


def doc_instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Recorder:
    """A MockTransport handler that answers from a queue and keeps every request."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)


def envelope(
    status: int,
    code: str,
    message: str,
    field_errors: list[dict[str, str]] | None = None,
    retry_after_seconds: float | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "request_id": "req_123",
            "error_code": code,
            "message": message,
            "field_errors": field_errors or [],
            "retry_after_seconds": retry_after_seconds,
        },
        headers=headers,
    )


@pytest.fixture
def make_client() -> Callable[..., tuple[WattShiftClient, Recorder]]:
    def make(
        *answers: httpx.Response, on_call: Callable[[CallRecord], None] | None = None
    ) -> tuple[WattShiftClient, Recorder]:
        recorder = Recorder(*answers)
        client = WattShiftClient(
            "https://ws.test/",
            api_key=API_KEY,
            transport=httpx.MockTransport(recorder),
            on_call=on_call,
        )
        return client, recorder

    return make


# --- payload builders -----------------------------------------------------------------------------
def test_it_builds_the_seed_home_request() -> None:
    payload = home_payload(
        name="Your Home Name",
        zipcode="95313",
        utility_id="14328",
        rate_plan_id="662955dff338bcedec0dbfe7",
        has_ev_charger=True,
        has_electric_heater=False,
        has_smart_water_heater=None,
        has_electric_water_heater=True,
        has_ac=True,
        ac_type="central",
    )

    assert payload == SEED_HOME_REQUEST


def test_it_sends_null_for_unknown_appliances_and_leaves_out_an_unknown_ac_type() -> None:
    payload = home_payload(
        name="  Cabin ", zipcode="95313-1234", utility_id="u", rate_plan_id="rp", has_ac=False
    )

    assert payload["name"] == "Cabin"
    assert payload["zipcode"] == "95313-1234"
    assert payload["hasEvCharger"] is None
    assert payload["hasAC"] is False
    assert "acType" not in payload


def test_it_refuses_an_ac_type_wattshift_does_not_know() -> None:
    with pytest.raises(ValueError, match="acType"):
        home_payload(name="H", zipcode="95313", utility_id="u", rate_plan_id="rp", ac_type="heat")


def test_it_builds_the_seed_solar_request_for_a_net_metered_system() -> None:
    assert (
        solar_payload(home_id="home_id", system_size_kw=5, net_metered=True) == SEED_SOLAR_REQUEST
    )


def test_it_asks_the_negative_question_for_a_system_that_is_not_net_metered() -> None:
    assert solar_payload(home_id="h", system_size_kw=5, net_metered=False)["isNonNetMetered"]


@pytest.mark.parametrize(
    ("size_kw", "sent"), [(Decimal("6.60"), 6.6), (Decimal("5.000"), 5), (7.25, 7.25), (4, 4)]
)
def test_it_sends_the_size_as_a_json_number(size_kw: Any, sent: float) -> None:
    payload = solar_payload(home_id="h", system_size_kw=size_kw, net_metered=True)

    assert json.loads(json.dumps(payload))["solarSystemSizeKw"] == sent
    assert type(payload["solarSystemSizeKw"]) is type(sent)


# --- price-signal helpers -------------------------------------------------------------------------
def test_it_parses_the_documented_signal_into_quarter_hours() -> None:
    prices = parse_price_signal(DOC_SIGNAL)

    assert len(prices) == 96
    assert prices[0] == (doc_instant(DOC_START), 0.42625)
    # The second `data` segment of the page starts at 01:13:37.902Z with 0.46486.
    assert prices[36] == (doc_instant("2025-02-26T01:13:37.902Z"), 0.46486)
    assert prices[-1][0] + timedelta(minutes=15) == doc_instant(DOC_SIGNAL["endTime"])
    assert all(moment.tzinfo is not None for moment, _ in prices)


@pytest.mark.parametrize(
    "signal",
    [
        {"startTime": "2025-02-25T16:13:37", "prices": [0.1]},  # no offset
        {"startTime": DOC_START},  # no prices
        {"startTime": DOC_START, "prices": [0.1, "0.2"]},
        {"prices": [0.1]},
    ],
)
def test_it_refuses_a_signal_it_cannot_place_in_time(signal: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parse_price_signal(signal)


def test_it_picks_the_earliest_of_equally_cheap_windows() -> None:
    start, end, average = cheapest_window(parse_price_signal(DOC_SIGNAL), hours=2)

    assert start == doc_instant(DOC_START)
    assert end == start + timedelta(hours=2)
    assert average == 0.42625


def test_it_finds_the_cheapest_window_in_the_middle() -> None:
    t0 = datetime(2025, 3, 4, tzinfo=UTC)
    values = [0.30] * 8 + [0.10, 0.12, 0.11, 0.13] + [0.30] * 8
    prices = [(t0 + i * timedelta(minutes=15), value) for i, value in enumerate(values)]

    start, end, average = cheapest_window(prices, hours=1)

    assert start == t0 + timedelta(hours=2)
    assert end == t0 + timedelta(hours=3)
    assert average == pytest.approx(0.115)


def test_it_never_spans_a_gap_in_the_signal() -> None:
    t0 = datetime(2025, 3, 4, tzinfo=UTC)
    quarter = timedelta(minutes=15)
    # The cheapest four values straddle a missing hour, so they are not one window.
    early = [(t0 + i * quarter, value) for i, value in enumerate([0.3, 0.3, 0.1, 0.1])]
    late = [(t0 + (8 + i) * quarter, value) for i, value in enumerate([0.1, 0.1, 0.2, 0.2])]

    start, _, average = cheapest_window(early + late, hours=1)

    assert start == t0 + 8 * quarter
    assert average == pytest.approx(0.15)


@pytest.mark.parametrize("hours", [0, 0.1, 25])
def test_it_refuses_a_window_it_cannot_fill(hours: float) -> None:
    with pytest.raises(ValueError):
        cheapest_window(parse_price_signal(DOC_SIGNAL), hours=hours)


# --- the client -----------------------------------------------------------------------------------
def test_it_posts_json_with_the_api_key_and_our_user_agent(make_client: Callable) -> None:
    client, recorder = make_client(httpx.Response(200, json=[]))

    assert client.get_utilities("95313") == []

    (request,) = recorder.requests
    assert request.method == "POST"
    assert request.url == "https://ws.test/v1/utility/get"
    assert request.headers["x-ws-api-key"] == API_KEY
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"zipcode": "95313"}


def test_it_returns_the_ids_the_seed_shows(make_client: Callable) -> None:
    client, recorder = make_client(
        httpx.Response(200, json={"id": "home_id"}),
        httpx.Response(200, json={"homeId": "home_id"}),
        httpx.Response(200, json={"sessionToken": "your_session_token"}),
    )

    assert client.create_home(SEED_HOME_REQUEST) == "home_id"
    assert client.create_solar(SEED_SOLAR_REQUEST) == "home_id"
    assert client.generate_session_token() == "your_session_token"
    paths = [request.url.path for request in recorder.requests]
    assert paths == [
        "/v1/homes/create",
        "/v1/homes/solar/create",
        "/v1/onboarding/session-token/generate",
    ]
    assert json.loads(recorder.requests[0].content) == SEED_HOME_REQUEST


def test_it_sends_the_price_window_as_utc_instants(make_client: Callable) -> None:
    client, recorder = make_client(httpx.Response(200, json=DOC_SIGNAL))
    start = datetime(2025, 2, 25, 8, 13, 37, 902000, tzinfo=ZoneInfo("America/Los_Angeles"))

    signal = client.get_price_signal("ws_home_1", start, start + timedelta(days=1))

    assert signal == DOC_SIGNAL
    (request,) = recorder.requests
    assert request.url.path == "/v1/homes/ws_home_1/price_signal"
    assert json.loads(request.content) == {
        "startTime": "2025-02-25T16:13:37.902Z",
        "endTime": "2025-02-26T16:13:37.902Z",
    }


def test_it_asks_for_the_default_window_with_an_empty_body(make_client: Callable) -> None:
    client, recorder = make_client(httpx.Response(200, json=DOC_SIGNAL))

    client.get_price_signal("ws_home_1")

    assert json.loads(recorder.requests[0].content) == {}


def test_it_keeps_a_home_id_inside_its_path_segment(make_client: Callable) -> None:
    client, recorder = make_client(httpx.Response(200, json=DOC_SIGNAL))

    client.get_price_signal("../create")

    assert recorder.requests[0].url.raw_path == b"/v1/homes/..%2Fcreate/price_signal"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2025, 2, 25, tzinfo=UTC), None),
        (None, datetime(2025, 2, 25, tzinfo=UTC)),
        (datetime(2025, 2, 25), datetime(2025, 2, 26)),  # naive
    ],
)
def test_it_refuses_half_a_window_or_naive_times_before_calling(
    make_client: Callable, start: datetime | None, end: datetime | None
) -> None:
    client, recorder = make_client()

    with pytest.raises(ValueError):
        client.get_price_signal("ws_home_1", start, end)

    assert recorder.requests == []


def test_it_turns_the_envelope_into_a_message_with_field_errors(make_client: Callable) -> None:
    records: list[CallRecord] = []
    client, _ = make_client(
        envelope(
            400,
            "VALIDATION_FAILED",
            "Request validation failed.",
            [
                {"field": "ratePlanId", "message": "does not belong to utility 14328"},
                {"field": "acType", "message": "must be one of central, window, split, other"},
            ],
        ),
        on_call=records.append,
    )

    with pytest.raises(WattShiftError) as exc:
        client.create_home(SEED_HOME_REQUEST)

    assert exc.value.permanent
    assert exc.value.status_code == 400
    assert exc.value.error_code == "VALIDATION_FAILED"
    assert exc.value.request_id == "req_123"
    assert exc.value.field_errors == [
        ("ratePlanId", "does not belong to utility 14328"),
        ("acType", "must be one of central, window, split, other"),
    ]
    assert str(exc.value) == (
        "400: Request validation failed. ratePlanId: does not belong to utility 14328; "
        "acType: must be one of central, window, split, other (request_id req_123)"
    )
    (record,) = records
    assert (record.method, record.path, record.status_code) == ("POST", "/v1/homes/create", 400)
    assert record.error.startswith("Request validation failed. ratePlanId:")
    assert API_KEY not in record.error


def test_it_takes_retry_after_seconds_from_the_body_without_a_header(
    make_client: Callable,
) -> None:
    client, _ = make_client(envelope(429, "RATE_LIMITED", "Too many requests.", None, 30))

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities("95313")

    assert not exc.value.permanent
    assert exc.value.retry_after_s == 30


def test_it_prefers_the_retry_after_header(make_client: Callable) -> None:
    client, _ = make_client(
        envelope(429, "RATE_LIMITED", "Slow down.", None, 30, headers={"Retry-After": "5"})
    )

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities("95313")

    assert exc.value.retry_after_s == 5


def test_it_treats_rate_limited_as_transient_whatever_the_status(make_client: Callable) -> None:
    # Some gateways say 400 or 403 for a quota; the error code is what WattShift means.
    client, _ = make_client(envelope(403, "RATE_LIMITED", "Quota exceeded.", None, 60))

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities("95313")

    assert not exc.value.permanent
    assert exc.value.retry_after_s == 60


def test_it_does_not_retry_an_invalid_api_key(make_client: Callable) -> None:
    client, recorder = make_client(envelope(401, "AUTH_INVALID_API_KEY", "Invalid x-ws-api-key."))

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities("95313")

    assert exc.value.permanent
    assert len(recorder.requests) == 1


def test_it_reads_an_error_that_is_not_the_envelope(make_client: Callable) -> None:
    client, _ = make_client(httpx.Response(502, text="<html>Bad Gateway</html>"))

    with pytest.raises(UpstreamError) as exc:
        client.get_utilities("95313")

    assert not exc.value.permanent
    assert exc.value.status_code == 502
    assert "Bad Gateway" in exc.value.message


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        (lambda c: c.get_utilities("95313"), {"utilities": []}),
        (lambda c: c.create_home(SEED_HOME_REQUEST), {"homeId": "home_id"}),
        (lambda c: c.create_solar(SEED_SOLAR_REQUEST), []),
    ],
)
def test_it_refuses_an_answer_of_the_wrong_shape(
    make_client: Callable, call: Callable[[WattShiftClient], Any], answer: Any
) -> None:
    client, _ = make_client(httpx.Response(200, json=answer))

    with pytest.raises(UpstreamError) as exc:
        call(client)

    assert exc.value.permanent


# --- today's answer shape (docs/upstreams/wattshift.md, "current") -------------------------------
CURRENT_UTILITIES = [
    {
        "utilityId": "ws_utl_pge",
        "utilityName": "Pacific Gas & Electric",
        "ratePlans": [
            {"id": "ws_rp_e1", "rateID": "E-1", "ratePlanName": "E-1", "supportedType": "full"},
            {"id": "ws_rp_tou", "rateID": "E-TOU-C", "ratePlanName": "Time of use C"},
        ],
    }
]


def _answering(body: object) -> WattShiftClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    return WattShiftClient(
        "https://api.wattshift.com", api_key="k", transport=httpx.MockTransport(answer)
    )


def test_it_reads_the_rate_plans_of_todays_answer() -> None:
    with _answering(CURRENT_UTILITIES) as client:
        (utility,) = client.get_utilities("95313")
    assert [plan["id"] for plan in utility["wsRatePlans"]] == ["ws_rp_e1", "ws_rp_tou"]
    assert utility["wsRatePlans"][0]["rateID"] == "E-1"  # kept beside the id a home sends


@pytest.mark.django_db
def test_it_stores_the_plans_of_todays_answer(org) -> None:
    from django.utils import timezone

    from homes.services import store_zip_utilities

    with _answering(CURRENT_UTILITIES) as client:
        answer = client.get_utilities("95313")
    (utility,) = store_zip_utilities(org, "95313", answer, timezone.now())
    assert sorted(utility.rate_plans.values_list("ws_rate_plan_id", flat=True)) == [
        "ws_rp_e1",
        "ws_rp_tou",
    ]
