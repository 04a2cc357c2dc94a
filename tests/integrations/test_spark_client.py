"""Spark webhook signatures, payload builders and the client against the emulator over real HTTP.

The signature tests pin the scheme with Volue's published vector
(`Volue-Public/spark-energy-coordination-partner-reference`, `_tests/webhook-test-data/`, also in
`tests/integrations/vectors/spark-webhook/`), read from there; its key and signature are
repeated below and checked against the files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from integrations.http import CallRecord, UpstreamError
from integrations.sandbox.base import Emulator, Request, Response, RunningEmulator
from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SparkEmulator
from integrations.spark import (
    SparkClient,
    charge_report_payload,
    hot_water_tank_payload,
    meter_payload,
    sign,
    user_payload,
    vehicle_payload,
    verify_signature,
)
from tests.integrations.vectors import vector_bytes

# --- the published vector -------------------------------------------------------------------------
VECTOR_DIR = Path(__file__).resolve().parent / "vectors" / "spark-webhook"
VECTOR_KEY = "Secret123%"
VECTOR_SIGNATURE = "3NV3o7iHHwKXX+6yYjz0ihi7G0Xr1hyPnWCHksq7H40="
VECTOR_BODY = vector_bytes("spark-webhook", "price-curve-event.json")

# The quickstart's example bodies (seed 002, docs/upstreams/spark.md; §2, §3, §4, §7), verbatim.
SEED_VEHICLE = {
    "vehicleId": "<string>",
    "metadata": {
        "resourceType": "Vehicle",
        "brand": "Tesla",
        "model": "Model 3",
        "year": 2022,
        "vin": "<string>",
    },
}
SEED_METER = {
    "address": {"street": "string", "city": "string", "zipCode": "string"},
    "location": {"latitude": 63.1, "longitude": 10.7},
    "meterPointId": "string",
    "meterNumber": "string",
    "locationType": "Residential",
}
SEED_HOT_WATER_TANK = {
    "resourceId": "<string>",
    "metadata": {
        "resourceType": "HotWaterTank",
        "brand": "Oso",
        "model": "SuperTank",
        "capacity": 500,
        "heatingElements": [1750, 1250],
    },
}
SEED_REPORT = {
    "eventId": "string",
    "name": "Vehicle Started Charging",
    "payloads": [
        {
            "payloadType": "VehicleChargeAction",
            "resourceId": "e0fb2731-dadb-41c5-80f2-5dfcbc22b2b5",
            "location": {"latitude": 63.1, "longitude": 10.7},
            "actionType": "Start",
            "power": 11000,
            "stateOfCharge": 0.5,
            "batteryCapacity": 75000,
        }
    ],
}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Receiver(Emulator):
    """A partner's webhook endpoint: keeps what arrives and answers the scripted statuses."""

    name = "spark-receiver"

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        super().__init__()

    def setup_routes(self) -> None:
        self.route("POST", "/hooks/spark", self.hook)

    def hook(self, request: Request) -> Response:
        status = self.statuses.pop(0) if self.statuses else 200
        with self.arrived:
            self.received.append((request.headers, request.body))
            self.arrived.notify_all()
        return Response.json(status, {"received": status < 300})

    def wait_for(self, count: int, timeout_s: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout_s)


# --- fixtures -------------------------------------------------------------------------------------
@pytest.fixture
def spark() -> SparkEmulator:
    return SparkEmulator(retry_delay_s=0)


@pytest.fixture
def server(spark: SparkEmulator) -> Iterator[RunningEmulator]:
    with RunningEmulator(spark) as running:
        yield running


@pytest.fixture
def calls() -> list[CallRecord]:
    return []


def make_client(
    server: RunningEmulator,
    calls: list[CallRecord] | None = None,
    *,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    clock: FakeClock | None = None,
) -> SparkClient:
    extra = {"clock": clock} if clock is not None else {}
    return SparkClient(
        server.base_url,
        token_url=f"{server.base_url}/oauth2/token",
        client_id=DEFAULT_CLIENT_ID,
        client_secret=client_secret,
        on_call=calls.append if calls is not None else None,
        **extra,
    )


@pytest.fixture
def client(server: RunningEmulator, calls: list[CallRecord]) -> Iterator[SparkClient]:
    with make_client(server, calls) as spark_client:
        yield spark_client


def token_requests(spark: SparkEmulator) -> int:
    return sum(1 for method, path, _ in spark.calls if path == "/oauth2/token")


def a_vehicle(vehicle_id: str = "veh-1") -> dict[str, object]:
    return vehicle_payload(
        vehicle_id=vehicle_id, brand="Tesla", model="Model 3", year=2022, vin="5YJ3E1EA7KF317000"
    )


def a_meter(meter_point_id: str = "707057500095323005") -> dict[str, object]:
    return meter_payload(
        street="Storgata 1",
        city="Trondheim",
        zip_code="7011",
        latitude=63.43,
        longitude=10.39,
        meter_point_id=meter_point_id,
        meter_number="M-1",
        location_type="Residential",
    )


# --- signatures -----------------------------------------------------------------------------------
def test_it_signs_the_published_vector_as_published() -> None:
    assert sign(VECTOR_BODY, VECTOR_KEY) == VECTOR_SIGNATURE


@pytest.mark.parametrize("header", ["Spark-Signature", "X-Payload-Signature"])
def test_it_accepts_the_published_vector_under_either_header(header: str) -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_KEY, {header: VECTOR_SIGNATURE})


@pytest.mark.parametrize(
    "header", ["spark-signature", "X-PAYLOAD-SIGNATURE", "x-Payload-signature"]
)
def test_it_reads_signature_header_names_in_any_case(header: str) -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_KEY, {header: VECTOR_SIGNATURE})


def test_it_accepts_the_vector_from_request_like_header_mappings() -> None:
    headers = httpx.Headers(
        {"content-type": "application/json", "x-payload-signature": VECTOR_SIGNATURE}
    )

    assert verify_signature(VECTOR_BODY, VECTOR_KEY, headers)


@pytest.mark.parametrize("position", [0, 1, 500, 1137, len(VECTOR_BODY) - 2])
def test_it_refuses_the_vector_after_any_byte_changes(position: int) -> None:
    changed = bytearray(VECTOR_BODY)
    changed[position] ^= 0x01

    assert not verify_signature(bytes(changed), VECTOR_KEY, {"Spark-Signature": VECTOR_SIGNATURE})


def test_it_refuses_the_vector_without_its_trailing_newline_or_re_serialised() -> None:
    headers = {"Spark-Signature": VECTOR_SIGNATURE}
    reserialised = json.dumps(json.loads(VECTOR_BODY), separators=(",", ":")).encode()

    assert not verify_signature(VECTOR_BODY.rstrip(b"\n"), VECTOR_KEY, headers)
    assert not verify_signature(reserialised, VECTOR_KEY, headers)


@pytest.mark.parametrize("secret", ["Secret123", "secret123%", "Secret123% ", ""])
def test_it_refuses_the_vector_with_a_wrong_secret(secret: str) -> None:
    assert not verify_signature(VECTOR_BODY, secret, {"Spark-Signature": VECTOR_SIGNATURE})


def test_it_refuses_a_delivery_without_a_signature_header() -> None:
    assert not verify_signature(VECTOR_BODY, VECTOR_KEY, {"Content-Type": "application/json"})
    assert not verify_signature(VECTOR_BODY, VECTOR_KEY, {"Signature": VECTOR_SIGNATURE})


def test_it_refuses_when_either_signature_header_disagrees() -> None:
    headers = {
        "Spark-Signature": VECTOR_SIGNATURE,
        "X-Payload-Signature": sign(b"other", VECTOR_KEY),
    }

    assert not verify_signature(VECTOR_BODY, VECTOR_KEY, headers)


def test_it_embeds_the_published_vector_byte_for_byte() -> None:
    assert (VECTOR_DIR / "price-curve-event.json").read_bytes() == VECTOR_BODY
    assert (VECTOR_DIR / "signing-key.txt").read_text() == VECTOR_KEY
    assert (
        VECTOR_DIR / "price-curve-event.json.hmacsha256b64"
    ).read_text().strip() == VECTOR_SIGNATURE


# --- payload builders -----------------------------------------------------------------------------
def test_it_builds_the_seed_user_body() -> None:
    assert user_payload() == {}
    assert user_payload(user_id="u-1") == {"userId": "u-1"}


def test_it_builds_the_seed_vehicle_body() -> None:
    built = vehicle_payload(
        vehicle_id="<string>", brand="Tesla", model="Model 3", year=2022, vin="<string>"
    )

    assert built == SEED_VEHICLE


def test_it_builds_the_seed_meter_body() -> None:
    built = meter_payload(
        street="string",
        city="string",
        zip_code="string",
        latitude=63.1,
        longitude=10.7,
        meter_point_id="string",
        meter_number="string",
        location_type="Residential",
    )

    assert built == SEED_METER


def test_it_builds_the_seed_hot_water_tank_body() -> None:
    built = hot_water_tank_payload(
        resource_id="<string>",
        brand="Oso",
        model="SuperTank",
        capacity_l=500,
        heating_elements_w=[1750, 1250],
    )

    assert built == SEED_HOT_WATER_TANK
    assert json.dumps(built["metadata"]["capacity"]) == "500"  # an integer, as the seed writes it


def test_it_builds_the_seed_report_body() -> None:
    built = charge_report_payload(
        event_id="string",
        name="Vehicle Started Charging",
        resource_id="e0fb2731-dadb-41c5-80f2-5dfcbc22b2b5",
        latitude=63.1,
        longitude=10.7,
        action="start",
        power_w=11000,
        state_of_charge=0.5,
        battery_capacity_wh=75000,
    )

    assert built == SEED_REPORT


def test_it_turns_model_decimals_into_plain_json_numbers() -> None:
    meter = meter_payload(
        street="s",
        city="c",
        zip_code="0150",
        latitude=Decimal("59.913900"),
        longitude=Decimal("10.752200"),
        meter_point_id="mp",
        meter_number="mn",
        location_type="Residential",
    )
    tank = hot_water_tank_payload(
        resource_id="r",
        brand="Oso",
        model="SuperTank",
        capacity_l=Decimal("200.0"),
        heating_elements_w=(Decimal("3000"), 1500.5),
    )

    assert json.loads(json.dumps(meter))["location"] == {"latitude": 59.9139, "longitude": 10.7522}
    assert meter["address"]["zipCode"] == "0150"
    assert tank["metadata"]["capacity"] == 200 and isinstance(tank["metadata"]["capacity"], int)
    assert tank["metadata"]["heatingElements"] == [3000, 1500.5]


def test_it_refuses_an_unknown_charge_action() -> None:
    with pytest.raises(ValueError, match="Start or Stop"):
        charge_report_payload(
            event_id="e",
            name="n",
            resource_id="r",
            latitude=0,
            longitude=0,
            action="pause",
            power_w=0,
            state_of_charge=0.5,
            battery_capacity_wh=1,
        )


def test_it_refuses_numbers_json_cannot_carry() -> None:
    with pytest.raises(ValueError, match="finite"):
        hot_water_tank_payload(
            resource_id="r", brand="b", model="m", capacity_l=float("nan"), heating_elements_w=[1]
        )


# --- client: tokens -------------------------------------------------------------------------------
def test_it_fetches_one_token_and_reuses_it(client: SparkClient, spark: SparkEmulator) -> None:
    for _ in range(3):
        client.create_user()

    assert token_requests(spark) == 1
    assert len(spark.state["users"]) == 3


def test_it_renews_the_token_60_seconds_before_it_expires(
    server: RunningEmulator, spark: SparkEmulator
) -> None:
    clock = FakeClock()
    with make_client(server, clock=clock) as client:
        client.create_user()
        clock.now += 1800 - 61
        client.create_user()
        assert token_requests(spark) == 1

        clock.now += 2
        client.create_user()

    assert token_requests(spark) == 2


def test_it_reauthenticates_once_when_the_token_expires_mid_run(
    client: SparkClient, spark: SparkEmulator, calls: list[CallRecord]
) -> None:
    user_id = client.create_user()
    spark.expire_tokens()

    vehicle_id = client.create_vehicle(user_id, a_vehicle())

    assert vehicle_id == "veh-1"
    assert token_requests(spark) == 2
    vehicle_calls = [(c.path, c.status_code) for c in calls if c.path.endswith("/vehicles")]
    assert vehicle_calls == [
        (f"/users/{user_id}/vehicles", 401),
        (f"/users/{user_id}/vehicles", 201),
    ]


def test_it_gives_up_after_one_reauthentication() -> None:
    refusing = SparkEmulator(token_lifetime_s=0)  # every token is born expired
    with (
        RunningEmulator(refusing) as running,
        make_client(running) as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.create_user()

    assert caught.value.status_code == 401
    assert caught.value.permanent
    assert caught.value.message == "unauthorized"
    assert token_requests(refusing) == 2


def test_it_reports_bad_client_credentials_as_permanent(server: RunningEmulator) -> None:
    with (
        make_client(server, client_secret="wrong") as client,
        pytest.raises(UpstreamError) as caught,
    ):
        client.create_user()

    assert caught.value.status_code == 401
    assert caught.value.permanent
    assert caught.value.message == "invalid_client"


# --- client: operations ---------------------------------------------------------------------------
def test_it_registers_a_user_with_a_vehicle_a_meter_and_a_resource(
    client: SparkClient, spark: SparkEmulator
) -> None:
    user_id = client.create_user(user_payload())
    tank = hot_water_tank_payload(
        resource_id="tank-1",
        brand="Oso",
        model="SuperTank",
        capacity_l=300,
        heating_elements_w=[3000],
    )

    vehicle_id = client.create_vehicle(user_id, a_vehicle())
    meter_id = client.create_meter(user_id, a_meter())
    resource_id = client.create_resource(user_id, tank)

    user = spark.state["users"][user_id]
    assert (vehicle_id, resource_id) == ("veh-1", "tank-1")
    assert user["vehicles"] == {"veh-1": a_vehicle()}
    assert user["meters"] == {meter_id: a_meter()}
    assert user["resources"] == {"tank-1": tank}


def test_it_maps_a_child_of_an_unknown_user_to_a_permanent_not_found(client: SparkClient) -> None:
    with pytest.raises(UpstreamError) as caught:
        client.create_meter("no-such-user", a_meter())

    assert (caught.value.status_code, caught.value.permanent) == (404, True)
    assert caught.value.message == "not found"


def test_it_maps_a_duplicate_to_a_permanent_conflict_naming_the_id(client: SparkClient) -> None:
    user_id = client.create_user()
    client.create_vehicle(user_id, a_vehicle("veh-7"))

    with pytest.raises(UpstreamError) as caught:
        client.create_vehicle(user_id, a_vehicle("veh-7"))

    assert (caught.value.status_code, caught.value.permanent) == (409, True)
    assert "veh-7" in caught.value.message
    assert caught.value.message.startswith("Conflict: ")


def test_it_names_each_invalid_field_from_the_problem(client: SparkClient) -> None:
    user_id = client.create_user()
    meter = a_meter()
    meter["location"] = {"latitude": 95.0, "longitude": 10.0}
    meter["locationType"] = "House"

    with pytest.raises(UpstreamError) as caught:
        client.create_meter(user_id, meter)

    assert (caught.value.status_code, caught.value.permanent) == (400, True)
    assert caught.value.message == (
        "One or more validation errors occurred. location.latitude: Must be at most 90; "
        "locationType: Must be one of: Unknown, Residential, Commercial, Other"
    )


def test_it_treats_an_injected_503_as_transient_with_its_retry_after(
    client: SparkClient, spark: SparkEmulator
) -> None:
    client.create_user()  # a token first, so the fault meets the API call
    spark.faults.fail_next, spark.faults.retry_after = 1, 7

    with pytest.raises(UpstreamError) as caught:
        client.create_user()

    assert (caught.value.status_code, caught.value.permanent) == (503, False)
    assert caught.value.retry_after_s == 7
    assert caught.value.message == "Service Unavailable"


def test_it_records_every_call_for_the_ledger(client: SparkClient, calls: list[CallRecord]) -> None:
    client.create_user()
    with pytest.raises(UpstreamError):
        client.create_vehicle("missing", a_vehicle())

    assert [(c.method, c.path, c.status_code) for c in calls] == [
        ("POST", client.token_url, 200),
        ("POST", "/users", 201),
        ("POST", "/users/missing/vehicles", 404),
    ]
    assert calls[-1].error == "not found"
    assert all(DEFAULT_CLIENT_SECRET not in c.path and c.duration_ms >= 0 for c in calls)


def test_it_registers_a_webhook_and_its_test_event_arrives_signed(
    client: SparkClient, spark: SparkEmulator
) -> None:
    receiver = Receiver()
    with RunningEmulator(receiver) as hooks:
        url = f"{hooks.base_url}/hooks/spark"
        webhook_id = client.register_webhook(url, "s3cret!", ["create"], ["priceDelta"])
        answer = client.test_webhook(webhook_id)
        assert receiver.wait_for(1)
        assert spark.wait_for_deliveries()

    headers, body = receiver.received[0]
    event = json.loads(body)
    assert verify_signature(body, "s3cret!", headers)
    assert not verify_signature(body, "another secret", headers)
    assert event["notificationId"] == answer["notificationId"]
    assert event["payload"] == {"payloadType": "Test", "webhookId": webhook_id}
    assert spark.state["webhooks"][webhook_id]["operations"] == ["Create"]
    assert spark.state["webhooks"][webhook_id]["eventTypes"] == ["PriceDelta"]


def test_it_removes_a_webhook_and_reads_404_as_nothing_to_remove(
    client: SparkClient, spark: SparkEmulator, calls: list[CallRecord]
) -> None:
    webhook_id = client.register_webhook(
        "https://portal.example/h", "s", ["Create"], ["PriceDelta"]
    )

    assert client.delete_webhook(webhook_id) is True
    assert client.delete_webhook(webhook_id) is False
    assert webhook_id not in spark.state["webhooks"]
    assert [(c.method, c.status_code) for c in calls if c.method == "DELETE"] == [
        ("DELETE", 204),
        ("DELETE", 404),
    ]


@pytest.mark.parametrize(
    ("status", "removed"), [(204, True), (200, True), (404, False), (405, False)]
)
def test_it_reads_a_405_as_a_platform_without_removal(status: int, removed: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        assert (request.method, request.url.raw_path) == ("DELETE", b"/v1/webhooks/wh%2F1")
        return httpx.Response(status)

    with SparkClient(
        "https://spark.example/v1",
        token_url="https://spark.example/token",
        client_id="c",
        client_secret="s",
        transport=httpx.MockTransport(answer),
    ) as spark_client:
        assert spark_client.delete_webhook("wh/1") is removed


@pytest.mark.parametrize(("status", "permanent"), [(503, False), (403, True)])
def test_it_raises_when_a_removal_fails_otherwise(status: int, permanent: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(status)

    with (
        SparkClient(
            "https://spark.example/v1",
            token_url="https://spark.example/token",
            client_id="c",
            client_secret="s",
            transport=httpx.MockTransport(answer),
        ) as spark_client,
        pytest.raises(UpstreamError) as raised,
    ):
        spark_client.delete_webhook("wh-1")
    assert (raised.value.status_code, raised.value.permanent) == (status, permanent)


def test_it_sends_a_charge_report_and_returns_its_id(
    client: SparkClient, spark: SparkEmulator
) -> None:
    user_id = client.create_user()
    client.create_vehicle(user_id, a_vehicle("e0fb2731-dadb-41c5-80f2-5dfcbc22b2b5"))

    report_id = client.send_report(SEED_REPORT)

    assert spark.state["reports"][report_id]["payloads"] == SEED_REPORT["payloads"]


def test_it_shows_the_reports_invalid_fields(client: SparkClient) -> None:
    user_id = client.create_user()
    client.create_vehicle(user_id, a_vehicle())
    report = charge_report_payload(
        event_id="evt-1",
        name="Vehicle Stopped Charging",
        resource_id="veh-1",
        latitude=63.1,
        longitude=10.7,
        action="Stop",
        power_w=0,
        state_of_charge=1.2,
        battery_capacity_wh=0,
    )

    with pytest.raises(UpstreamError) as caught:
        client.send_report(report)

    assert caught.value.status_code == 400
    assert "payloads[0].stateOfCharge: Must be at most 1" in caught.value.message
    assert "payloads[0].batteryCapacity: Must be greater than 0" in caught.value.message
    assert "power" not in caught.value.message  # 0 W is a valid power
