"""The Spark emulator over real HTTP: it must enforce the contract the client is tested against.

Raw httpx calls on purpose: these tests send bodies and requests our client would never build.
"""

from __future__ import annotations

import ast
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.sandbox import spark as sandbox_spark
from integrations.sandbox.base import TENANT_HEADER, Emulator, Request, Response, RunningEmulator
from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SparkEmulator
from integrations.spark import verify_signature
from tests.integrations.vectors import vector_bytes

PROBLEM_JSON = "application/problem+json"
SECRET = "whsec-sandbox"


class Receiver(Emulator):
    """A partner's webhook endpoint: keeps what arrives, answers the scripted statuses, and can
    hold an answer back until released (to show the API does not wait for it)."""

    name = "spark-receiver"

    def __init__(self, statuses: list[int] | None = None, *, hold: bool = False) -> None:
        self.statuses = list(statuses or [])
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Condition()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        super().__init__()

    def setup_routes(self) -> None:
        self.route("POST", "/hooks/spark", self.hook)

    def hook(self, request: Request) -> Response:
        with self.arrived:
            self.received.append((request.headers, request.body))
            self.arrived.notify_all()
        self.release.wait(timeout=5)
        status = self.statuses.pop(0) if self.statuses else 200
        return Response.json(status, {"received": status < 300})

    def wait_for(self, count: int, timeout_s: float = 5.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.received) >= count, timeout_s)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


# --- fixtures and helpers -------------------------------------------------------------------------
@pytest.fixture
def spark() -> SparkEmulator:
    return SparkEmulator(retry_delay_s=0)


@pytest.fixture
def server(spark: SparkEmulator) -> Iterator[RunningEmulator]:
    with RunningEmulator(spark) as running:
        yield running


@pytest.fixture
def anonymous(server: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
        yield client


@pytest.fixture
def http(anonymous: httpx.Client) -> httpx.Client:
    anonymous.headers["Authorization"] = f"Bearer {issue_token(anonymous)}"
    return anonymous


def issue_token(
    client: httpx.Client, client_id: str = DEFAULT_CLIENT_ID, secret: str = DEFAULT_CLIENT_SECRET
) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    response = client.post("/oauth2/token", data=form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def new_user(http: httpx.Client) -> str:
    response = http.post("/users", json={})
    assert response.status_code == 201, response.text
    return response.json()["userId"]


def vehicle(vehicle_id: str = "veh-1", **metadata: Any) -> dict[str, Any]:
    fields = {"resourceType": "Vehicle", "brand": "Tesla", "model": "Model 3", "year": 2022}
    return {"vehicleId": vehicle_id, "metadata": {**fields, "vin": "VIN1", **metadata}}


def meter(meter_point_id: str = "707057500095323005", **fields: Any) -> dict[str, Any]:
    return {
        "address": {"street": "Storgata 1", "city": "Trondheim", "zipCode": "7011"},
        "location": {"latitude": 63.43, "longitude": 10.39},
        "meterPointId": meter_point_id,
        "meterNumber": "M-1",
        "locationType": "Residential",
        **fields,
    }


def tank(resource_id: str = "tank-1", **metadata: Any) -> dict[str, Any]:
    fields = {"resourceType": "HotWaterTank", "brand": "Oso", "model": "SuperTank"}
    return {
        "resourceId": resource_id,
        "metadata": {**fields, "capacity": 500, "heatingElements": [1750, 1250], **metadata},
    }


def charge(resource_id: str = "veh-1", **fields: Any) -> dict[str, Any]:
    return {
        "payloadType": "VehicleChargeAction",
        "resourceId": resource_id,
        "location": {"latitude": 63.1, "longitude": 10.7},
        "actionType": "Start",
        "power": 11000,
        "stateOfCharge": 0.5,
        "batteryCapacity": 75000,
        **fields,
    }


def webhook(http: httpx.Client, url: str, **fields: Any) -> str:
    body = {
        "url": url,
        "webhookSecret": SECRET,
        "operations": ["Create", "Update", "Delete"],
        "eventTypes": ["PriceDelta"],
        **fields,
    }
    response = http.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    return response.json()["webhookId"]


def problem_errors(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 400
    assert problem["type"] and problem["title"] and problem["detail"]
    return problem["errors"]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/spark"  # nothing listens there any more


# --- tokens ---------------------------------------------------------------------------------------
def test_it_issues_a_bearer_token_for_form_encoded_client_credentials(
    anonymous: httpx.Client,
) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    response = anonymous.post("/oauth2/token", data=form)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert (body["expires_in"], body["token_type"]) == (1800, "Bearer")
    assert anonymous.post("/connect/token", data=form).status_code == 200  # the real token path


def test_it_refuses_a_token_request_that_is_not_form_encoded(anonymous: httpx.Client) -> None:
    body = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    response = anonymous.post("/oauth2/token", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": ""}, 400, "invalid_request"),
    ],
)
def test_it_refuses_bad_token_requests_with_an_oauth_error(
    anonymous: httpx.Client, form: dict[str, str], status: int, error: str
) -> None:
    good = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    response = anonymous.post("/oauth2/token", data={**good, **form})

    assert response.status_code == status
    assert response.json()["error"] == error


def test_it_issues_tokens_to_added_clients_with_the_configured_lifetime() -> None:
    spark = SparkEmulator(token_lifetime_s=600)
    spark.add_client("portal-acme", "acme-secret")
    with RunningEmulator(spark) as running, httpx.Client(base_url=running.base_url) as client:
        form = {
            "grant_type": "client_credentials",
            "client_id": "portal-acme",
            "client_secret": "acme-secret",
        }
        response = client.post("/oauth2/token", data=form)

    assert response.status_code == 200
    assert response.json()["expires_in"] == 600


def test_it_answers_401_with_an_empty_body_to_a_missing_or_unknown_bearer(
    anonymous: httpx.Client,
) -> None:
    missing = anonymous.post("/users", json={})
    unknown = anonymous.post("/users", json={}, headers={"Authorization": "Bearer made-up"})
    basic = anonymous.post("/users", json={}, headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert [r.status_code for r in (missing, unknown, basic)] == [401, 401, 401]
    assert missing.content == b"" and unknown.content == b""
    assert "invalid_token" in unknown.headers["www-authenticate"]


def test_it_refuses_tokens_once_expired_by_the_sandbox(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    assert http.post("/users", json={}).status_code == 201

    spark.expire_tokens()
    after_method = http.post("/users", json={})
    http.headers["Authorization"] = f"Bearer {issue_token(http)}"
    renewed = http.post("/users", json={})
    http.post("/_sandbox/faults", json={"expire_tokens": True})
    after_control = http.post("/users", json={})

    assert (after_method.status_code, renewed.status_code) == (401, 201)
    assert after_control.status_code == 401


def test_it_refuses_tokens_once_their_lifetime_has_passed() -> None:
    now = [1_000_000.0]
    spark = SparkEmulator(token_lifetime_s=1800, clock=lambda: now[0])
    with RunningEmulator(spark) as running, httpx.Client(base_url=running.base_url) as client:
        client.headers["Authorization"] = f"Bearer {issue_token(client)}"
        now[0] += 1799
        before = client.post("/users", json={})
        now[0] += 1
        after = client.post("/users", json={})

    assert (before.status_code, after.status_code) == (201, 401)


# --- users and their children ---------------------------------------------------------------------
def test_it_creates_users_from_an_empty_object_or_an_empty_body(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    from_object = http.post("/users", json={})
    from_nothing = http.post("/users")
    chosen = http.post("/users", json={"userId": "acme-customer-1"})

    assert [r.status_code for r in (from_object, from_nothing, chosen)] == [201, 201, 201]
    assert chosen.json() == {"userId": "acme-customer-1"}
    assert set(spark.state["users"]) == {
        from_object.json()["userId"],
        from_nothing.json()["userId"],
        "acme-customer-1",
    }
    assert http.post("/users", json={"userId": "acme-customer-1"}).status_code == 409


def test_it_refuses_unknown_user_fields(http: httpx.Client, spark: SparkEmulator) -> None:
    response = http.post("/users", json={"name": "Kari Nordmann", "email": "kari@example.no"})

    assert problem_errors(response) == {"name": ["Unknown field."], "email": ["Unknown field."]}
    assert spark.state["users"] == {}


def test_it_accepts_the_seeds_example_bodies(http: httpx.Client, spark: SparkEmulator) -> None:
    seed_vehicle = vehicle("<string>", vin="<string>")
    seed_meter = {
        "address": {"street": "string", "city": "string", "zipCode": "string"},
        "location": {"latitude": 63.1, "longitude": 10.7},
        "meterPointId": "string",
        "meterNumber": "string",
        "locationType": "Residential",
    }
    user_id = new_user(http)

    vehicle_answer = http.post(f"/users/{user_id}/vehicles", json=seed_vehicle)
    meter_answer = http.post(f"/users/{user_id}/meters", json=seed_meter)
    tank_answer = http.post(f"/users/{user_id}/resources", json=tank("<string>"))

    assert vehicle_answer.status_code == 201
    assert meter_answer.status_code == 201
    assert tank_answer.status_code == 201
    assert tank_answer.json()["resourceType"] == "HotWaterTank"
    user = spark.state["users"][user_id]
    assert user["meters"][meter_answer.json()["meterId"]] == seed_meter
    assert user["vehicles"]["<string>"] == seed_vehicle


@pytest.mark.parametrize("child", ["vehicles", "meters", "resources"])
def test_it_answers_404_with_an_empty_body_for_a_child_of_an_unknown_user(
    http: httpx.Client, child: str
) -> None:
    body = {"vehicles": vehicle(), "meters": meter(), "resources": tank()}[child]

    response = http.post(f"/users/no-such-user/{child}", json=body)

    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize(
    ("child", "first", "second"),
    [
        ("vehicles", vehicle("veh-1"), vehicle("veh-1", brand="Volvo")),
        ("resources", tank("tank-1"), tank("tank-1", capacity=200)),
        ("meters", meter("7070575000"), meter("7070575000", meterNumber="M-2")),
    ],
)
def test_it_answers_409_to_a_duplicate_id_under_one_user(
    http: httpx.Client, child: str, first: dict[str, Any], second: dict[str, Any]
) -> None:
    user_id, other_user_id = new_user(http), new_user(http)
    assert http.post(f"/users/{user_id}/{child}", json=first).status_code == 201

    duplicate = http.post(f"/users/{user_id}/{child}", json=second)
    elsewhere = http.post(f"/users/{other_user_id}/{child}", json=second)

    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == PROBLEM_JSON
    assert elsewhere.status_code == 201  # ids are unique per user, not across users


def test_it_names_each_invalid_meter_field_in_a_problem(http: httpx.Client) -> None:
    user_id = new_user(http)
    body = meter(locationType="House", meterNumber=42)
    body["address"] = {"street": "Storgata 1", "city": "Trondheim", "zipcode": "7011"}
    body["location"] = {"latitude": 95, "longitude": "10.39"}

    errors = problem_errors(http.post(f"/users/{user_id}/meters", json=body))

    assert errors == {
        "address.zipcode": ["Unknown field."],
        "address.zipCode": ["The zipCode field is required."],
        "location.latitude": ["Must be at most 90."],
        "location.longitude": ["Must be a number."],
        "meterNumber": ["Must be a string."],
        "locationType": ["Must be one of: Unknown, Residential, Commercial, Other."],
    }


def test_it_refuses_a_numeric_zip_code(http: httpx.Client) -> None:
    user_id = new_user(http)
    body = meter()
    body["address"]["zipCode"] = 7011

    assert problem_errors(http.post(f"/users/{user_id}/meters", json=body)) == {
        "address.zipCode": ["Must be a string."]
    }


def test_it_names_each_invalid_vehicle_field_in_a_problem(http: httpx.Client) -> None:
    user_id = new_user(http)
    body = vehicle(resourceType="Car", year="2022", colour="red")
    del body["metadata"]["vin"]

    errors = problem_errors(http.post(f"/users/{user_id}/vehicles", json=body))

    assert errors == {
        "metadata.colour": ["Unknown field."],
        "metadata.resourceType": ["Must be one of: Vehicle."],
        "metadata.year": ["Must be an integer."],
        "metadata.vin": ["The vin field is required."],
    }


@pytest.mark.parametrize(
    ("metadata", "field", "message"),
    [
        ({"capacity": 0}, "metadata.capacity", "Must be greater than 0."),
        (
            {"heatingElements": []},
            "metadata.heatingElements",
            "Must be a non-empty list of powers in W.",
        ),
        (
            {"heatingElements": [1750, -5]},
            "metadata.heatingElements[1]",
            "Must be a power in W above 0.",
        ),
        ({"volume": 500}, "metadata.volume", "Unknown field."),
        ({"resourceType": "Vehicle"}, "metadata.resourceType", None),
        ({"resourceType": "Boiler"}, "metadata.resourceType", None),
    ],
)
def test_it_validates_hot_water_tanks_and_resource_types(
    http: httpx.Client, metadata: dict[str, Any], field: str, message: str | None
) -> None:
    user_id = new_user(http)

    errors = problem_errors(http.post(f"/users/{user_id}/resources", json=tank(**metadata)))

    assert list(errors) == [field]
    if message is not None:
        assert errors[field] == [message]


def test_it_answers_415_to_a_body_that_is_not_json(http: httpx.Client) -> None:
    user_id = new_user(http)

    response = http.post(
        f"/users/{user_id}/vehicles",
        content=json.dumps(vehicle()),
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    "content", [b"{not json", b"[1, 2]", b'{"vehicleId": NaN}', b"", b"\xff\xfe"]
)
def test_it_answers_a_problem_to_an_unreadable_body(http: httpx.Client, content: bytes) -> None:
    user_id = new_user(http)

    response = http.post(
        f"/users/{user_id}/vehicles", content=content, headers={"Content-Type": "application/json"}
    )

    assert list(problem_errors(response)) == ["$"]


def test_it_answers_unknown_routes_and_methods_with_empty_bodies(http: httpx.Client) -> None:
    unknown = http.post("/devices", json={})
    wrong_method = http.get("/users")

    assert (unknown.status_code, unknown.content) == (404, b"")
    assert (wrong_method.status_code, wrong_method.content) == (405, b"")


def test_it_answers_injected_faults_as_problems_with_retry_after(
    http: httpx.Client,
) -> None:
    http.post("/_sandbox/faults", json={"fail_next": 1, "status": 503, "retry_after": 3})

    failed = http.post("/users", json={})
    recovered = http.post("/users", json={})

    assert failed.status_code == 503
    assert failed.headers["content-type"] == PROBLEM_JSON
    assert failed.headers["retry-after"] == "3"
    assert failed.json() == {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        "title": "Service Unavailable",
        "status": 503,
    }
    assert recovered.status_code == 201


# --- webhooks -------------------------------------------------------------------------------------
def test_it_stores_webhook_names_in_the_seeds_spelling_whatever_their_case(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    webhook_id = webhook(
        http,
        "https://partner.example/hooks/spark",
        operations=["create", "Update", "CREATE"],
        eventTypes=["priceDelta"],
    )

    stored = spark.state["webhooks"][webhook_id]
    assert stored["operations"] == ["Create", "Update"]
    assert stored["eventTypes"] == ["PriceDelta"]


def test_it_refuses_invalid_webhook_registrations(http: httpx.Client) -> None:
    body = {
        "url": "partner.example/hooks",
        "webhookSecret": "",
        "operations": ["Upsert"],
        "eventTypes": [],
        "events": ["PriceDelta"],
    }

    errors = problem_errors(http.post("/webhooks", json=body))

    assert set(errors) == {"url", "webhookSecret", "operations[0]", "eventTypes", "events"}


def test_it_answers_404_to_testing_an_unknown_webhook(http: httpx.Client) -> None:
    response = http.post("/webhooks/no-such-webhook/test")

    assert (response.status_code, response.content) == (404, b"")


def test_it_removes_a_webhook_then_knows_it_no_more(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    webhook_id = webhook(http, "https://partner.example/hooks/spark")

    removed = http.delete(f"/webhooks/{webhook_id}")
    again = http.delete(f"/webhooks/{webhook_id}")

    assert (removed.status_code, removed.content) == (204, b"")
    assert (again.status_code, again.content) == (404, b"")
    assert webhook_id not in spark.state["webhooks"]
    assert http.post(f"/webhooks/{webhook_id}/test").status_code == 404


def test_it_keeps_a_webhook_from_another_tenants_removal(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    http.headers[TENANT_HEADER] = "org-1"
    webhook_id = webhook(http, "https://partner.example/hooks/spark")

    http.headers[TENANT_HEADER] = "org-2"
    refused = http.delete(f"/webhooks/{webhook_id}")

    assert (refused.status_code, refused.content) == (404, b"")
    assert webhook_id in spark.state["webhooks"]


def test_it_signs_with_its_own_reading_of_the_scheme() -> None:
    """A second, independent reading: the emulator imports no client code, and its signature of
    Volue's published vector is the published one."""
    package = Path(sandbox_spark.__file__).parent
    trees = [ast.parse(path.read_text()) for path in sorted(package.glob("*.py"))]
    imported = [
        name
        for tree in trees
        for node in ast.walk(tree)
        for name in (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else []
        )
    ]

    assert "integrations.sandbox.base" in imported  # the walk does see the imports
    assert not [name for name in imported if name.startswith("integrations.spark")]
    assert (
        sandbox_spark.signature(
            vector_bytes("spark-webhook", "price-curve-event.json"),
            vector_bytes("spark-webhook", "signing-key.txt").decode(),
        )
        == vector_bytes("spark-webhook", "price-curve-event.json.hmacsha256b64").decode().strip()
    )


def test_it_sends_a_signed_test_event_without_waiting_for_the_receiver(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    receiver = Receiver(hold=True)
    with RunningEmulator(receiver) as hooks:
        url = f"{hooks.base_url}/hooks/spark"
        webhook_id = webhook(http, url)
        started = time.monotonic()
        answer = http.post(f"/webhooks/{webhook_id}/test")
        answered_after_s = time.monotonic() - started
        assert receiver.wait_for(1)
        pending = spark.state["deliveries"][0]["outcome"]
        receiver.release.set()
        assert spark.wait_for_deliveries()

    assert answer.status_code == 202
    assert answered_after_s < 2  # the receiver was still holding its answer
    assert pending == "pending"
    headers, body = receiver.received[0]
    assert headers["content-type"] == "application/json"
    assert headers["spark-signature"] == headers["x-payload-signature"]
    assert verify_signature(body, SECRET, headers)
    assert body.endswith(b"}\n")
    event = json.loads(body)
    assert list(event) == [
        "notificationId",
        "eventId",
        "eventCreatedAtUtc",
        "notificationSentUtc",
        "notificationType",
        "operation",
        "eventType",
        "payload",
    ]
    assert event["notificationId"] == answer.json()["notificationId"]
    assert (event["notificationType"], event["eventType"]) == ("WebhookTest", "Test")
    delivery = spark.state["deliveries"][0]
    assert (delivery["outcome"], delivery["attempts"], delivery["status"]) == ("delivered", 1, 200)
    assert delivery["url"] == url


def test_it_retries_a_delivery_3_times_on_non_2xx_then_gives_up(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    receiver = Receiver([500] * 10)
    with RunningEmulator(receiver) as hooks:
        webhook_id = webhook(http, f"{hooks.base_url}/hooks/spark")
        http.post(f"/webhooks/{webhook_id}/test")
        assert spark.wait_for_deliveries()

    assert len(receiver.received) == 4  # the first attempt and 3 retries
    assert len({body for _, body in receiver.received}) == 1  # the same notification every time
    delivery = spark.state["deliveries"][0]
    assert delivery["outcome"] == "failed"
    assert delivery["attempts"] == 4
    assert delivery["attempt_statuses"] == [500, 500, 500, 500]
    assert delivery["error"] == "HTTP 500"


def test_it_stops_retrying_once_the_receiver_answers_2xx(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    receiver = Receiver([503, 500, 204])
    with RunningEmulator(receiver) as hooks:
        webhook_id = webhook(http, f"{hooks.base_url}/hooks/spark")
        http.post(f"/webhooks/{webhook_id}/test")
        assert spark.wait_for_deliveries()

    delivery = spark.state["deliveries"][0]
    assert (delivery["outcome"], delivery["attempts"]) == ("delivered", 3)
    assert delivery["attempt_statuses"] == [503, 500, 204]
    assert len(receiver.received) == 3


def test_it_retries_when_the_receiver_cannot_be_reached(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    webhook_id = webhook(http, closed_port_url())

    http.post(f"/webhooks/{webhook_id}/test")
    assert spark.wait_for_deliveries()

    delivery = spark.state["deliveries"][0]
    assert (delivery["outcome"], delivery["attempts"], delivery["status"]) == ("failed", 4, None)
    assert "ConnectError" in delivery["error"]


def test_it_emits_a_price_delta_to_the_subscribed_webhooks_only(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    user_id = new_user(http)
    meter_id = http.post(f"/users/{user_id}/meters", json=meter("7070575000")).json()["meterId"]
    subscribed, updates_only = Receiver(), Receiver()
    with RunningEmulator(subscribed) as hooks, RunningEmulator(updates_only) as other_hooks:
        webhook(http, f"{hooks.base_url}/hooks/spark", operations=["create"])
        webhook(http, f"{other_hooks.base_url}/hooks/spark", operations=["update"])

        result = spark.emit_price_delta(user_ids=[user_id], meter_ids=[meter_id])
        assert spark.wait_for_deliveries()

    assert len(subscribed.received) == 1
    assert updates_only.received == []
    headers, body = subscribed.received[0]
    assert verify_signature(body, SECRET, headers)
    event = json.loads(body)
    assert event["eventId"] == result["eventId"]
    assert event["notificationId"] == result["notificationIds"][0]
    assert (event["operation"], event["eventType"]) == ("Create", "PriceDelta")
    assert event["notificationType"] == "PriceDeltaCreated"
    payload = event["payload"]
    assert payload["payloadType"] == "PriceDelta"
    # The seed's id fields name users and meters; `targets` is the published shape (resources).
    assert (payload["userIds"], payload["meterIds"], payload["targets"]) == (
        [user_id],
        [meter_id],
        [],
    )
    curve = payload["priceCurveDelta"]
    assert (curve["energyUnit"], curve["currency"], curve["resolution"]) == (
        "kWh",
        "NOK",
        "01:00:00",
    )
    assert len(curve["points"]) == 24
    assert all(set(point) == {"price", "timestamp"} for point in curve["points"])


def test_it_names_resources_as_published_targets_and_only_the_ids_given(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    user_id = new_user(http)
    http.post(f"/users/{user_id}/vehicles", json=vehicle("veh-1"))
    receiver = Receiver()
    with RunningEmulator(receiver) as hooks:
        webhook(http, f"{hooks.base_url}/hooks/spark")
        answer = http.post("/_sandbox/emit", json={"resourceIds": ["veh-1"]})
        assert spark.wait_for_deliveries()

    assert answer.status_code == 200
    payload = receiver.events()[0]["payload"]
    assert payload["targets"] == [{"resourceId": "veh-1"}]
    assert "userIds" not in payload and "meterIds" not in payload


def test_it_emits_a_price_delta_through_the_control_route(
    http: httpx.Client, spark: SparkEmulator
) -> None:
    user_id = new_user(http)
    receiver = Receiver()
    with RunningEmulator(receiver) as hooks:
        webhook(http, f"{hooks.base_url}/hooks/spark")
        answer = http.post("/_sandbox/emit", json={"operation": "update"})
        refused = http.post("/_sandbox/emit", json={"operation": "upsert"})
        assert spark.wait_for_deliveries()

    assert answer.status_code == 200
    assert refused.status_code == 400
    event = receiver.events()[0]
    assert event["eventId"] == answer.json()["eventId"]
    assert (event["operation"], event["notificationType"]) == ("Update", "PriceDeltaUpdated")
    assert event["payload"]["userIds"] == [user_id]  # every user by default
    assert event["payload"]["targets"] == []


def test_it_delivers_through_an_injected_transport_without_a_socket() -> None:
    sent: list[tuple[str, bytes, dict[str, str]]] = []

    def deliver(url: str, body: bytes, headers: dict[str, str]) -> int:
        sent.append((url, body, headers))
        return 200 if len(sent) > 1 else 502

    spark = SparkEmulator(deliver=deliver, background=False, retry_delay_s=0)
    transport = httpx.WSGITransport(app=spark)
    with httpx.Client(transport=transport, base_url="http://spark.sandbox") as client:
        client.headers["Authorization"] = f"Bearer {issue_token(client)}"
        webhook_id = webhook(client, "https://portal.example/webhooks/spark/acme")
        client.post(f"/webhooks/{webhook_id}/test")

    assert [url for url, _, _ in sent] == ["https://portal.example/webhooks/spark/acme"] * 2
    assert all(verify_signature(body, SECRET, headers) for _, body, headers in sent)
    assert spark.state["deliveries"][0]["attempt_statuses"] == [502, 200]


# --- reports --------------------------------------------------------------------------------------
def test_it_accepts_the_seeds_report(http: httpx.Client, spark: SparkEmulator) -> None:
    user_id = new_user(http)
    vehicle_id = "e0fb2731-dadb-41c5-80f2-5dfcbc22b2b5"
    http.post(f"/users/{user_id}/vehicles", json=vehicle(vehicle_id))
    report = {
        "eventId": "string",
        "name": "Vehicle Started Charging",
        "payloads": [charge(vehicle_id)],
    }

    response = http.post("/reports", json=report)

    assert response.status_code == 201
    body = response.json()
    assert body["eventId"] == "string"
    assert spark.state["reports"][body["id"]]["payloads"] == report["payloads"]


def test_it_validates_report_ranges_and_names_each_field(http: httpx.Client) -> None:
    user_id = new_user(http)
    http.post(f"/users/{user_id}/vehicles", json=vehicle("veh-1"))
    payloads = [
        charge("veh-1", stateOfCharge=1.5, power=-1, batteryCapacity=0, actionType="Pause"),
        charge("veh-unknown", location={"latitude": 63.1}, payloadType="EnergyUsage"),
        charge("veh-1", stateOfCharge=0, power=0, actionType="Stop"),
    ]

    errors = problem_errors(
        http.post("/reports", json={"eventId": "evt", "name": "n", "payloads": payloads})
    )

    assert errors == {
        "payloads[0].actionType": ["Must be one of: Start, Stop."],
        "payloads[0].power": ["Must be at least 0."],
        "payloads[0].stateOfCharge": ["Must be at most 1."],
        "payloads[0].batteryCapacity": ["Must be greater than 0."],
        "payloads[1].payloadType": ["Must be one of: VehicleChargeAction."],
        "payloads[1].resourceId": ["No vehicle with this id is registered."],
        "payloads[1].location.longitude": ["The longitude field is required."],
    }


def test_it_refuses_a_report_without_payloads(http: httpx.Client) -> None:
    errors = problem_errors(http.post("/reports", json={"eventId": "evt", "payloads": []}))

    assert errors == {
        "name": ["The name field is required."],
        "payloads": ["Must be a non-empty list."],
    }


# --- state ----------------------------------------------------------------------------------------
def test_it_keeps_its_state_as_json_across_a_restart(tmp_path: Path) -> None:
    state_path = tmp_path / "spark.json"
    first = SparkEmulator(state_path, background=False, deliver=lambda url, body, headers: 200)
    with httpx.Client(transport=httpx.WSGITransport(app=first), base_url="http://spark") as client:
        client.headers["Authorization"] = f"Bearer {issue_token(client)}"
        user_id = new_user(client)
        client.post(f"/users/{user_id}/vehicles", json=vehicle())
        webhook(client, "https://portal.example/hooks")
    first.emit_price_delta()

    restarted = SparkEmulator(state_path)

    assert json.loads(state_path.read_text()) == restarted.state
    assert restarted.state["users"][user_id]["vehicles"] == {"veh-1": vehicle()}
    assert restarted.state["deliveries"][0]["outcome"] == "delivered"
    assert restarted.state["events"][0]["eventType"] == "PriceDelta"
