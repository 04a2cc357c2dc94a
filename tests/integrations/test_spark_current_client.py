"""Spark's current profile: the client's calls of the published v1 API against the current
emulator over real HTTP, the emulator's strictness (`additionalProperties: false`, PascalCase
enums, each endpoint's 400 shape), tokens, and both 400 shapes turned into a message."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from integrations import spark
from integrations.http import UpstreamError
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from integrations.sandbox.spark.current import SparkCurrentEmulator
from integrations.spark import SparkClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(running: RunningEmulator, **extra) -> SparkClient:
    return SparkClient(
        running.base_url,
        token_url=f"{running.base_url}/connect/token",
        client_id=DEFAULT_CLIENT_ID,
        client_secret=DEFAULT_CLIENT_SECRET,
        **extra,
    )


@pytest.fixture
def app(spark_current) -> SparkCurrentEmulator:
    return spark_current.app


@pytest.fixture
def client(spark_current) -> Iterator[SparkClient]:
    with make_client(spark_current) as spark_client:
        yield spark_client


def raw(running: RunningEmulator, client: SparkClient) -> httpx.Client:
    """A plain HTTP client with the Spark client's token (to send what our client never would)."""
    token = client.access_token()
    return httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"})


def user_with_location(client: SparkClient) -> None:
    client.post_user("u-1")
    client.post_location(
        "u-1",
        spark.location_payload(
            location_id="l-1", location_type="Residential", meter_point_ids=["707057500000000001"]
        ),
    )


# --- every call of the profile ---------------------------------------------------------------------
def test_it_creates_and_reads_back_a_user_with_our_own_id(client, app):
    assert client.post_user("gridfolio-1-customer-7") == "gridfolio-1-customer-7"
    assert client.get_user("gridfolio-1-customer-7") == {"userId": "gridfolio-1-customer-7"}
    assert client.get_user("someone-else") is None
    assert list(app.state["users"]) == ["gridfolio-1-customer-7"]


def test_it_creates_reads_and_updates_a_location(client, app):
    client.post_user("u-1")
    payload = spark.location_payload(
        location_id="l-1",
        location_type="Residential",
        meter_point_ids=["707057500000000001"],
        latitude="41.6",
        longitude=-91.5,
    )
    assert payload == {
        "locationId": "l-1",
        "locationType": "Residential",
        "meterPointIds": ["707057500000000001"],
        "coordinates": {"latitude": 41.6, "longitude": -91.5},
    }
    assert client.post_location("u-1", payload) == "l-1"
    stored = client.get_location("u-1", "l-1")
    assert stored is not None and stored["userId"] == "u-1"
    assert stored["coordinates"] == {"latitude": 41.6, "longitude": -91.5}
    changed = {**payload, "locationType": "Commercial", "meterPointIds": ["1", "2"]}
    assert client.put_location("u-1", changed) == "l-1"
    assert app.state["locations"]["l-1"]["meterPointIds"] == ["1", "2"]
    assert app.state["locations"]["l-1"]["locationType"] == "Commercial"
    assert client.get_location("u-1", "l-404") is None


def test_it_registers_a_vehicle_and_a_resource_at_a_location(client, app):
    user_with_location(client)
    vehicle = spark.resource_payload(resource_id="v-1", resource_type="Vehicle")
    assert vehicle == {"resourceId": "v-1", "resourceType": "Vehicle"}
    assert client.post_vehicle("u-1", vehicle) == "v-1"
    charger = spark.resource_payload(
        resource_id="c-1", resource_type="Charger", meter_point_id="707057500000000001"
    )
    assert client.post_location_resource("u-1", "l-1", charger) == "c-1"
    assert client.get_resource("c-1") == {
        "resourceId": "c-1",
        "resourceType": "Charger",
        "locationId": "l-1",
        "userId": "u-1",
        "meterPointId": "707057500000000001",
    }
    assert client.get_resource("v-1")["locationId"] is None
    assert client.get_resource("nobody") is None  # a 404 whose body is a string


def test_it_registers_a_webhook_and_a_simulation_reaches_it_signed_in_x_payload_signature(
    client, app
):
    user_with_location(client)
    client.post_location_resource(
        "u-1", "l-1", spark.resource_payload(resource_id="c-1", resource_type="Charger")
    )
    webhook_id = client.post_webhook(
        spark.webhook_payload(
            url="https://portal.example/hook",
            secret="s3cret",
            name="Gridfolio",
            notification_types=["PriceCurveCreated"],
        )
    )
    assert app.state["webhooks"][webhook_id]["notificationTypes"] == ["PriceCurveCreated"]
    answer = client.simulate_event(
        "pricecurve", {"targets": [{"resourceId": "c-1", "locationId": "l-1"}], "priceArea": "NO2"}
    )
    payload = answer["simulatedEvent"]["payload"]
    assert payload["payloadType"] == "PriceCurve" and payload["priceArea"] == "NO2"
    assert payload["targets"] == [{"resourceId": "c-1", "locationId": "l-1"}]
    [(url, body, headers)] = app.collected
    assert url == "https://portal.example/hook"
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert headers["X-Payload-Signature"] == expected
    assert "Spark-Signature" not in headers
    envelope = json.loads(body)
    assert set(envelope) == {
        "notificationId",
        "eventId",
        "eventCreatedAtUtc",
        "notificationSentUtc",
        "notificationType",
        "payload",
    }
    assert envelope["notificationType"] == "PriceCurveCreated"
    # A notification type the webhook did not subscribe to is not delivered.
    client.simulate_event("usereligibility")
    assert len(app.collected) == 1


def test_it_sends_an_energy_usage_report_for_an_event(client, app):
    user_with_location(client)
    client.post_location_resource(
        "u-1", "l-1", spark.resource_payload(resource_id="c-1", resource_type="Charger")
    )
    event_id = client.simulate_event("pricecurve", {})["simulatedEvent"]["id"]
    points = [(datetime(2026, 1, 5, hour, tzinfo=UTC), 1.25 * hour) for hour in (0, 1, 2)]
    payload = spark.energy_usage_report_payload(
        event_id=event_id, resource_id="c-1", points=points, location_id="l-1"
    )
    assert payload["payloads"][0] == {
        "payloadType": "EnergyUsage",
        "resourceId": "c-1",
        "resolution": "01:00:00",
        "points": [
            {"timestamp": "2026-01-05T00:00:00+00:00", "kiloWattHours": 0.0},
            {"timestamp": "2026-01-05T01:00:00+00:00", "kiloWattHours": 1.25},
            {"timestamp": "2026-01-05T02:00:00+00:00", "kiloWattHours": 2.5},
        ],
        "locationId": "l-1",
    }
    report_id = client.send_report(payload)
    assert app.state["reports"][report_id]["eventId"] == event_id


# --- tokens ----------------------------------------------------------------------------------------
def test_it_renews_a_60_minute_token_a_minute_before_expires_in_runs_out(spark_current, app):
    clock = Clock()
    with make_client(spark_current, clock=clock) as client:
        client.post_user("u-1")
        clock.now += 3600 - 61
        client.get_user("u-1")
        assert sum(1 for _, path, _ in app.calls if path == "/connect/token") == 1
        clock.now += 2
        client.get_user("u-1")
        assert sum(1 for _, path, _ in app.calls if path == "/connect/token") == 2


def test_it_takes_3600_s_when_the_answer_has_no_expires_in_and_1800_under_quickstart(
    spark_current, app
):
    app.send_expires_in = False
    try:
        for default_s, expected_s in (
            (spark.CURRENT_TOKEN_LIFETIME_S, 3600 - 60),
            (spark.DEFAULT_TOKEN_LIFETIME_S, 1800 - 60),
        ):
            clock = Clock()
            with make_client(
                spark_current, clock=clock, default_token_lifetime_s=default_s
            ) as client:
                client.access_token()
                assert client._token_renew_at - clock.now == expected_s
    finally:
        app.send_expires_in = True


@pytest.mark.parametrize(
    ("expires_in", "lifetime_s"),
    [(120, 120.0), ("900", 900.0), (None, 3600.0), ("soon", 3600.0), (-5, 3600.0)],
)
def test_it_reads_expires_in_tolerantly(expires_in, lifetime_s):
    assert spark.token_lifetime_s(expires_in, spark.CURRENT_TOKEN_LIFETIME_S) == lifetime_s


def test_it_fetches_a_new_token_once_when_spark_forgets_it(client, app):
    client.post_user("u-1")
    app.expire_tokens()
    assert client.get_user("u-1") == {"userId": "u-1"}


# --- both 400 shapes, 409 and 404 -------------------------------------------------------------------
def test_a_bare_string_400_becomes_a_message_naming_the_field(client):
    with pytest.raises(UpstreamError) as refused:
        client.post_location("nobody", {"locationId": "l-1", "locationType": "residential"})
    assert refused.value.status_code == 400 and refused.value.permanent
    assert str(refused.value) == (
        "400: locationType: Must be one of: Unknown, Residential, Commercial, Other."
    )


def test_a_problem_json_400_becomes_a_message_naming_the_field(client):
    client.post_user("u-1")
    with pytest.raises(UpstreamError) as refused:
        client.post_vehicle("u-1", {"resourceId": "v-1", "resourceType": "vehicle"})
    assert "resourceType: Must be one of: Generic, Vehicle" in str(refused.value)


def test_a_duplicate_id_is_an_empty_409_and_an_unknown_user_an_empty_404(client, spark_current):
    client.post_user("u-1")
    with pytest.raises(UpstreamError) as duplicate:
        client.post_user("u-1")
    assert duplicate.value.status_code == 409 and str(duplicate.value) == "409: conflict"
    with pytest.raises(UpstreamError) as missing:
        client.post_location("nobody", {"locationId": "l-9"})
    assert missing.value.status_code == 404 and str(missing.value) == "404: not found"
    with raw(spark_current, client) as http:
        answer = http.post("/users", json={"userId": "u-1"})
    assert answer.status_code == 409 and answer.content == b""


def test_the_string_body_of_a_404_is_the_message(client):
    client.post_user("u-1")
    with pytest.raises(UpstreamError) as missing:
        client.post_location_resource(
            "u-1", "no-such-location", {"resourceId": "r", "resourceType": "Generic"}
        )
    assert str(missing.value) == "404: The user or the location was not found."


# --- the emulator is strict ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "body", "field", "shape"),
    [
        ("/users", {"userId": "u-2", "metadata": {}}, "metadata", "string"),
        (
            "/users/u-1/locations",
            {"locationId": "l-2", "coordinates": {"latitude": 1, "longitude": 2, "altitude": 3}},
            "coordinates.altitude",
            "string",
        ),
        (
            "/users/u-1/locations",
            {"locationId": "l-2", "address": {"street": "60 Greene St"}},
            "address",
            "string",
        ),
        (
            "/users/u-1/vehicles",
            {"resourceId": "v-2", "resourceType": "Vehicle", "metadata": {"vin": "x"}},
            "metadata",
            "problem",
        ),
        (
            "/users/u-1/locations/l-1/resources",
            {"resourceId": "r-2", "resourceType": "Charger", "power": 11000},
            "power",
            "string",
        ),
        (
            "/webhooks",
            {"webhookUrl": "https://x.example/h", "url": "https://x.example/h"},
            "url",
            "problem",
        ),
        (
            "/webhooks",
            {"webhookUrl": "https://x.example/h", "notificationTypes": ["priceCurveCreated"]},
            "notificationTypes[0]",
            "problem",
        ),
        (
            "/simulation/events/pricecurve",
            {"targets": [{"resourceId": "r", "locationId": "l", "userId": "u"}]},
            "targets[0].userId",
            "string",
        ),
        (
            "/reports",
            {"eventId": None, "payloads": [], "name": "a report"},
            "name",
            "string",
        ),
    ],
)
def test_the_emulator_refuses_any_property_the_schema_does_not_define(
    client, spark_current, path, body, field, shape
):
    user_with_location(client)
    with raw(spark_current, client) as http:
        answer = http.post(path, json=body)
    assert answer.status_code == 400
    if shape == "string":
        assert answer.headers["content-type"].startswith("application/json")
        assert isinstance(answer.json(), str) and answer.json().startswith(f"{field}:")
    else:
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in answer.json()["errors"]


def test_the_emulator_refuses_an_invite_only_report_and_points_off_the_hour(client, spark_current):
    user_with_location(client)
    client.post_location_resource(
        "u-1", "l-1", spark.resource_payload(resource_id="c-1", resource_type="Charger")
    )
    usage = {
        "payloadType": "EnergyUsage",
        "resourceId": "c-1",
        "resolution": "01:00:00",
        "points": [{"timestamp": "2026-01-05T00:30:00+00:00", "kiloWattHours": 1.0}],
    }
    with raw(spark_current, client) as http:
        off_hour = http.post("/reports", json={"payloads": [usage]})
        invite_only = http.post(
            "/reports",
            json={"payloads": [{"payloadType": "LocationEnergyUsage", "locationId": "l-1"}]},
        )
        unknown = http.post("/reports", json={"payloads": [{**usage, "resourceId": "nobody"}]})
    assert off_hour.status_code == 400 and "payloads[0].points[0].timestamp" in off_hour.json()
    assert invite_only.status_code == 400 and "invited partners only" in invite_only.json()
    assert unknown.status_code == 400 and "payloads[0].resourceId" in unknown.json()


def test_the_emulator_wants_a_bearer_token_on_every_call(spark_current):
    with httpx.Client(base_url=spark_current.base_url) as http:
        for method, path in [("POST", "/users"), ("GET", "/webhooks"), ("GET", "/events")]:
            answer = http.request(method, path, json={"userId": "u"})
            assert answer.status_code == 401 and answer.content == b""
        form = {
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": "wrong",
        }
        assert http.post("/connect/token", data=form).status_code == 401
        token = http.post("/connect/token", data={**form, "client_secret": DEFAULT_CLIENT_SECRET})
    assert token.json()["expires_in"] == 3600 and token.json()["token_type"] == "Bearer"


def test_the_emulator_lists_events_and_pages_at_most_1000(client, spark_current):
    client.simulate_event("usereligibility")
    with raw(spark_current, client) as http:
        page = http.get("/events", params={"page": 1, "pageSize": 10}).json()
        too_big = http.get("/events", params={"pageSize": 1001})
        one = http.get(f"/events/{page['events'][0]['id']}")
    assert page["pagination"]["totalRecords"] == 1
    assert page["events"][0]["payload"]["payloadType"] == "UserEligibility"
    assert too_big.status_code == 400
    assert too_big.headers["content-type"].startswith("application/problem+json")
    assert one.status_code == 200


def test_the_emulator_keeps_webhooks_to_their_tenant_and_never_shows_the_secret(
    client, spark_current
):
    webhook_id = client.post_webhook(
        spark.webhook_payload(
            url="https://a.example/h", secret="s", name="a", notification_types=[]
        )
    )
    with raw(spark_current, client) as http:
        mine = http.get(f"/webhooks/{webhook_id}").json()
        theirs = http.get(f"/webhooks/{webhook_id}", headers={"X-Sandbox-Tenant": "org-other"})
        removed = http.delete(f"/webhooks/{webhook_id}")
        again = http.delete(f"/webhooks/{webhook_id}")
    assert "webhookSecret" not in mine and mine["status"] == "New"
    assert theirs.status_code == 404
    assert removed.status_code == 204
    assert again.status_code == 404 and again.json() == "The webhook was not found."
