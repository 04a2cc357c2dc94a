"""The WattCarbon emulator enforces the contract in docs/upstreams/wattcarbon.md, over real HTTP."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattcarbon import (
    SANDBOX_API_KEY,
    SANDBOX_EMAIL,
    WattCarbonEmulator,
    is_night_hour,
)
from integrations.wattcarbon import DEFAULT_TOKEN_LIFETIME_S
from tests.integrations.vectors import vector_json

# The seed's two example bodies, verbatim (tests/integrations/vectors/).
SOLAR_SEED: dict[str, Any] = vector_json("wattcarbon", "device-solar.json")
ELECTRIFICATION_SEED: dict[str, Any] = vector_json("wattcarbon", "device-electrification.json")
RIVERSIDE_IA = {"latitude": 41.48, "longitude": -91.58}
OTHER_EMAIL = "other@gridfolio.test"
OTHER_API_KEY = "other-wattcarbon-key"


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    # One server per module: stopping a waitress server costs seconds, resetting it nothing.
    with RunningEmulator(WattCarbonEmulator()) as running:
        yield running


@pytest.fixture
def emulator(server: RunningEmulator) -> WattCarbonEmulator:
    app = server.app
    assert isinstance(app, WattCarbonEmulator)
    app.accounts = {SANDBOX_EMAIL: SANDBOX_API_KEY}
    app.token_lifetime_s = DEFAULT_TOKEN_LIFETIME_S
    app.send_expires_in = True
    app.clock = FakeClock()
    app.user_agents.clear()
    app.reset()
    return app


@pytest.fixture
def base_url(server: RunningEmulator, emulator: WattCarbonEmulator) -> str:
    return server.base_url


def grant(base_url: str, email: str = SANDBOX_EMAIL, api_key: str = SANDBOX_API_KEY) -> str:
    response = httpx.post(
        f"{base_url}/auth/token",
        data={"grant_type": "password", "username": email, "password": api_key},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


OPEN_CLIENTS: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def api(base_url: str, email: str = SANDBOX_EMAIL, api_key: str = SANDBOX_API_KEY) -> httpx.Client:
    """A client holding a bearer token of the account (closed after the test)."""
    token = grant(base_url, email, api_key)
    client = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"})
    OPEN_CLIENTS.append(client)
    return client


def solar(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SOLAR_SEED)
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def create(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/devices", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def upload(client: httpx.Client, device_id: str, csv_text: str) -> httpx.Response:
    files = {"file": ("data.csv", csv_text.encode(), "text/csv")}
    return client.post(f"/devices/{device_id}/timeseries", files=files)


def csv_of(*rows: str) -> str:
    return "datetime,value_kwh\n" + "".join(f"{row}\n" for row in rows)


def locs(response: httpx.Response) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


# --- auth -----------------------------------------------------------------------------------------
def test_it_issues_a_bearer_token_for_a_form_encoded_password_grant(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    response = httpx.post(
        f"{base_url}/auth/token",
        data={"grant_type": "password", "username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 24 * 3600
    assert emulator.state["tokens"][body["access_token"]]["email"] == SANDBOX_EMAIL


def test_it_rejects_a_json_token_request_with_a_fastapi_detail_list(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/auth/token",
        json={"grant_type": "password", "username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
    )

    assert response.status_code == 422
    assert locs(response) == [["body", "grant_type"], ["body", "username"], ["body", "password"]]
    assert {item["type"] for item in response.json()["detail"]} == {"missing"}


def test_it_rejects_a_grant_type_other_than_password(base_url: str) -> None:
    response = httpx.post(
        f"{base_url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "username": SANDBOX_EMAIL,
            "password": SANDBOX_API_KEY,
        },
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "grant_type"]
    assert response.json()["detail"][0]["type"] == "string_pattern_mismatch"


@pytest.mark.parametrize(
    ("email", "api_key"),
    [(SANDBOX_EMAIL, "not-the-key"), ("nobody@gridfolio.test", SANDBOX_API_KEY)],
    ids=["wrong key", "unknown account"],
)
def test_it_rejects_wrong_credentials(base_url: str, email: str, api_key: str) -> None:
    response = httpx.post(
        f"{base_url}/auth/token",
        data={"grant_type": "password", "username": email, "password": api_key},
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "Incorrect username or password"}


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "Not authenticated"),
        ("Basic c2FuZGJveDprZXk=", "Not authenticated"),
        ("Bearer not-a-token", "Could not validate credentials"),
    ],
)
def test_it_answers_401_without_a_valid_bearer_token(
    base_url: str, authorization: str | None, detail: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = httpx.post(f"{base_url}/devices", json=SOLAR_SEED, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_it_rejects_a_token_past_its_lifetime(base_url: str, emulator: WattCarbonEmulator) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)
    assert isinstance(emulator.clock, FakeClock)

    emulator.clock.advance(24 * 3600 - 1)
    assert client.get(f"/devices/{device_id}").status_code == 200
    emulator.clock.advance(1)
    response = client.get(f"/devices/{device_id}")

    assert response.status_code == 401
    assert response.json() == {"detail": "Token has expired"}


def test_it_honours_a_configured_token_lifetime(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    emulator.token_lifetime_s = 600
    response = httpx.post(
        f"{base_url}/auth/token",
        data={"grant_type": "password", "username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
    )
    assert response.json()["expires_in"] == 600
    headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
    assert isinstance(emulator.clock, FakeClock)

    emulator.clock.advance(600)

    assert httpx.post(f"{base_url}/devices", json=SOLAR_SEED, headers=headers).status_code == 401


def test_it_expires_every_issued_token_on_request(base_url: str) -> None:
    first, second = api(base_url), api(base_url)

    httpx.post(f"{base_url}/_sandbox/faults", json={"expire_tokens": True})

    assert first.post("/devices", json=SOLAR_SEED).status_code == 401
    assert second.post("/devices", json=SOLAR_SEED).status_code == 401
    assert api(base_url).post("/devices", json=SOLAR_SEED).status_code == 201


# --- devices --------------------------------------------------------------------------------------
def test_it_creates_the_seed_solar_device(base_url: str, emulator: WattCarbonEmulator) -> None:
    client = api(base_url)

    response = client.post("/devices", json=SOLAR_SEED)

    assert response.status_code == 201
    device = response.json()
    assert re.fullmatch(r"dev_[0-9a-f]{16}", device["id"])
    assert device["nameplateCapacityKw"] == 123.0  # the seed's numeric string, as a number
    assert client.get(f"/devices/{device['id']}").json() == device
    assert emulator.state["devices"][device["id"]]["account"] == SANDBOX_EMAIL


def test_it_creates_the_seed_electrification_device(base_url: str) -> None:
    client = api(base_url)

    response = client.post("/devices", json=ELECTRIFICATION_SEED)

    assert response.status_code == 201
    device = response.json()
    assert device["areaSqft"] == 123.0
    assert device["replacesFurnace"] is True
    assert device["effectiveUsefulLifeYears"] == 10


def test_it_defaults_the_effective_useful_life_to_15_years(base_url: str) -> None:
    body = {k: v for k, v in ELECTRIFICATION_SEED.items() if k != "effectiveUsefulLifeYears"}

    response = api(base_url).post("/devices", json=body)

    assert response.status_code == 201
    assert response.json()["effectiveUsefulLifeYears"] == 15


@pytest.mark.parametrize(
    "location",
    [
        "60 Greene St Riverside IA",
        {
            "street": "606 Ellis St",
            "city": "San Francisco",
            "state": "CA",
            "country": "US",
            "postalCode": "94109",
        },
        {"latitude": 41.48, "longitude": -91.58},
        {"latitude": "41.48", "longitude": "-91.58"},
    ],
    ids=["string", "address", "coordinates", "numeric strings"],
)
def test_it_accepts_each_documented_location_form(base_url: str, location: Any) -> None:
    response = api(base_url).post("/devices", json=solar(location=location))

    assert response.status_code == 201, response.text
    assert response.json()["location"] in (location, RIVERSIDE_IA)


INVALID_DEVICES = [
    ("missing name", solar(name=None), ["body", "name"], "missing"),
    ("unknown kind", solar(kind="wind"), ["body", "kind"], "enum"),
    ("no nameplate", solar(nameplateCapacityKw=None), ["body", "nameplateCapacityKw"], "missing"),
    (
        "text nameplate",
        solar(nameplateCapacityKw="12x"),
        ["body", "nameplateCapacityKw"],
        "float_parsing",
    ),
    (
        "big without EIA id",
        solar(nameplateCapacityKw="1500"),
        ["body", "eiaPlantId"],
        "value_error",
    ),
    (
        "string bool",
        {**ELECTRIFICATION_SEED, "replacesFurnace": "true"},
        ["body", "replacesFurnace"],
        "bool_type",
    ),
    (
        "text area",
        {**ELECTRIFICATION_SEED, "areaSqft": "big"},
        ["body", "areaSqft"],
        "float_parsing",
    ),
    (
        "US date",
        solar(commencedOperationDate="08/01/2022"),
        ["body", "commencedOperationDate"],
        "date_from_datetime_parsing",
    ),
    (
        "no such day",
        solar(commencedOperationDate="2022-02-30"),
        ["body", "commencedOperationDate"],
        "date_from_datetime_parsing",
    ),
    (
        "latitude out of range",
        solar(location={"latitude": 91, "longitude": 0}),
        ["body", "location", "latitude"],
        "less_than_equal",
    ),
    (
        "longitude out of range",
        solar(location={"latitude": 0, "longitude": -181}),
        ["body", "location", "longitude"],
        "greater_than_equal",
    ),
    (
        "address mixed with coordinates",
        solar(location={"street": "60 Greene St", "latitude": 41.0, "longitude": -91.0}),
        ["body", "location", "street"],
        "extra_forbidden",
    ),
    ("no location", solar(location=None), ["body", "location"], "missing"),
    ("unknown field", solar(colour="blue"), ["body", "colour"], "extra_forbidden"),
    (
        "other kind's field",
        {**ELECTRIFICATION_SEED, "nameplateCapacityKw": "5"},
        ["body", "nameplateCapacityKw"],
        "extra_forbidden",
    ),
    (
        "owner extra field",
        solar(deviceOwner={"name": "P", "phone": "1"}),
        ["body", "deviceOwner", "phone"],
        "extra_forbidden",
    ),
    ("numeric meter id", solar(meterId=123), ["body", "meterId"], "string_type"),
    (
        "unknown fuel",
        {**ELECTRIFICATION_SEED, "previousFuel": "coal"},
        ["body", "previousFuel"],
        "enum",
    ),
]


@pytest.mark.parametrize(
    ("body", "loc", "error_type"),
    [case[1:] for case in INVALID_DEVICES],
    ids=[case[0] for case in INVALID_DEVICES],
)
def test_it_rejects_an_invalid_device_with_a_422_naming_the_field(
    base_url: str,
    emulator: WattCarbonEmulator,
    body: dict[str, Any],
    loc: list[str],
    error_type: str,
) -> None:
    response = api(base_url).post("/devices", json=body)

    assert response.status_code == 422
    assert {"loc": loc, "type": error_type} in [
        {"loc": item["loc"], "type": item["type"]} for item in response.json()["detail"]
    ]
    assert all(item["msg"] for item in response.json()["detail"])
    assert emulator.state["devices"] == {}


# What the portal sent before the quickstart profile kept to documented kinds, and the names the
# platform uses for categories it has no quickstart `kind` for.
@pytest.mark.parametrize(
    "kind", ["battery", "storage", "demand_response", "ev_charging", "energy_efficiency"]
)
def test_it_refuses_an_undocumented_kind_with_a_422_naming_the_documented_ones(
    base_url: str, emulator: WattCarbonEmulator, kind: str
) -> None:
    response = api(base_url).post(
        "/devices", json={"name": "Powerwall", "location": "Riverside IA", "kind": kind}
    )

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "loc": ["body", "kind"],
            "msg": "Input should be 'solar' or 'electrification'",
            "type": "enum",
        }
    ]
    assert emulator.state["devices"] == {}


def test_it_accepts_a_large_solar_device_with_its_eia_plant_id(base_url: str) -> None:
    response = api(base_url).post(
        "/devices", json=solar(nameplateCapacityKw=1500, eiaPlantId="60123")
    )

    assert response.status_code == 201
    assert response.json()["eiaPlantId"] == "60123"


def test_it_rejects_a_duplicate_custom_id_on_create(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    client = api(base_url)
    create(client, SOLAR_SEED)

    response = client.post("/devices", json=solar(name="Another"))

    assert response.status_code == 409
    assert "SP123" in response.json()["detail"]
    assert len(emulator.state["devices"]) == 1


def test_it_scopes_custom_ids_to_the_account(base_url: str, emulator: WattCarbonEmulator) -> None:
    emulator.add_account(OTHER_EMAIL, OTHER_API_KEY)
    create(api(base_url), SOLAR_SEED)

    response = api(base_url, OTHER_EMAIL, OTHER_API_KEY).post("/devices", json=SOLAR_SEED)

    assert response.status_code == 201


def test_it_rejects_a_custom_id_clash_on_update(base_url: str) -> None:
    client = api(base_url)
    create(client, SOLAR_SEED)
    other_id = create(client, solar(customId="SP999", name="Other"))

    response = client.put(f"/devices/{other_id}", json=solar(name="Other"))

    assert response.status_code == 409
    assert "SP123" in response.json()["detail"]
    assert client.get(f"/devices/{other_id}").json()["customId"] == "SP999"


def test_it_replaces_the_whole_device_on_update(base_url: str) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)

    response = client.put(f"/devices/{device_id}", json=solar(name="Renamed", inverterDataId=None))

    assert response.status_code == 200, response.text
    device = client.get(f"/devices/{device_id}").json()
    assert device["name"] == "Renamed"
    assert device["customId"] == "SP123"  # keeping its own customId is no clash
    assert "inverterDataId" not in device


def test_it_validates_an_update_like_a_create(base_url: str) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)

    response = client.put(f"/devices/{device_id}", json=solar(nameplateCapacityKw="lots"))

    assert response.status_code == 422
    assert locs(response) == [["body", "nameplateCapacityKw"]]
    assert client.get(f"/devices/{device_id}").json()["nameplateCapacityKw"] == 123.0


def test_it_hides_another_accounts_device_behind_a_404(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    emulator.add_account(OTHER_EMAIL, OTHER_API_KEY)
    device_id = create(api(base_url), SOLAR_SEED)
    outsider = api(base_url, OTHER_EMAIL, OTHER_API_KEY)

    assert outsider.get(f"/devices/{device_id}").status_code == 404
    assert outsider.put(f"/devices/{device_id}", json=SOLAR_SEED).status_code == 404
    response = upload(outsider, device_id, csv_of("2022-08-01T00:00:00+00:00,1"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Device not found"}
    assert emulator.state["devices"][device_id]["device"]["name"] == "My device"


def test_it_answers_404_for_an_unknown_device(base_url: str) -> None:
    response = api(base_url).get("/devices/dev_0000000000000000")

    assert response.status_code == 404
    assert response.json() == {"detail": "Device not found"}


def test_it_answers_a_body_that_is_not_json_like_fastapi(base_url: str) -> None:
    client = api(base_url)

    broken = client.post(
        "/devices", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    form = client.post("/devices", data={"name": "x"})

    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    assert form.status_code == 422
    assert form.json()["detail"][0]["type"] == "model_attributes_type"


# --- timeseries -----------------------------------------------------------------------------------
def test_it_stores_an_hourly_upload_by_utc_instant(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)

    response = upload(
        client,
        device_id,
        csv_of(
            "2022-08-01T02:00:00+02:00,0.1",
            "2022-08-01T03:00:00+02:00,1.1",
            "2022-08-01T04:00:00+02:00,-2.3",
            "2022-08-01T03:00:00Z,1.4",
        ),
    )

    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == 4
    assert response.json()["ignored"] == 0
    assert emulator.state["timeseries"][device_id] == {
        "2022-08-01T00:00:00+00:00": 0.1,
        "2022-08-01T01:00:00+00:00": 1.1,
        "2022-08-01T02:00:00+00:00": -2.3,
        "2022-08-01T03:00:00+00:00": 1.4,
    }
    assert len(emulator.state["uploads"][device_id]) == 1


def test_it_overwrites_hours_on_a_reupload(base_url: str, emulator: WattCarbonEmulator) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)
    upload(client, device_id, csv_of("2022-08-01T00:00:00Z,1", "2022-08-01T01:00:00Z,2"))

    upload(client, device_id, csv_of("2022-08-01T01:00:00Z,5", "2022-08-01T02:00:00Z,6"))

    assert emulator.state["timeseries"][device_id] == {
        "2022-08-01T00:00:00+00:00": 1.0,
        "2022-08-01T01:00:00+00:00": 5.0,
        "2022-08-01T02:00:00+00:00": 6.0,
    }
    assert len(emulator.state["uploads"][device_id]) == 2


def test_it_ignores_but_counts_points_before_commenced_operation(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)  # commenced 2022-08-01

    response = upload(
        client,
        device_id,
        csv_of("2022-07-31T22:00:00Z,1", "2022-07-31T23:00:00Z,1", "2022-08-01T00:00:00Z,1"),
    )

    assert response.json()["accepted"] == 1
    assert response.json()["ignored"] == 2
    assert list(emulator.state["timeseries"][device_id]) == ["2022-08-01T00:00:00+00:00"]


def test_it_flags_solar_readings_above_nameplate_or_at_night(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    client = api(base_url)
    device_id = create(client, solar(nameplateCapacityKw="5", location=RIVERSIDE_IA))

    response = upload(
        client,
        device_id,
        csv_of(
            "2022-08-01T05:00:00Z,0",  # midnight in Iowa, but nothing produced: fine
            "2022-08-01T06:00:00Z,0.4",  # 1 am in Iowa
            "2022-08-01T17:00:00Z,4.9",  # noon, under nameplate
            "2022-08-01T18:00:00Z,5.5",  # 1 pm, more than 5 kW can make in an hour
        ),
    )

    assert response.json()["flagged"] == 2
    assert emulator.state["flags"][device_id] == {
        "2022-08-01T06:00:00+00:00": ["night"],
        "2022-08-01T18:00:00+00:00": ["above_nameplate"],
    }


def test_it_tells_night_from_day_by_the_sun() -> None:
    from datetime import UTC, datetime

    iowa = (RIVERSIDE_IA["latitude"], RIVERSIDE_IA["longitude"])
    assert is_night_hour(datetime(2022, 8, 1, 6, tzinfo=UTC), *iowa)
    assert not is_night_hour(datetime(2022, 8, 1, 17, tzinfo=UTC), *iowa)
    # The hour in which the sun rises (about 6 am CDT, 11:00 UTC) is not night.
    assert not is_night_hour(datetime(2022, 8, 1, 11, tzinfo=UTC), *iowa)


def test_it_does_not_flag_readings_of_other_kinds(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    client = api(base_url)
    device_id = create(client, {**ELECTRIFICATION_SEED, "location": RIVERSIDE_IA})

    response = upload(client, device_id, csv_of("2022-08-01T06:00:00Z,500"))

    assert response.json()["flagged"] == 0
    assert emulator.state["flags"][device_id] == {}


BAD_FILES = [
    (
        "no offset",
        csv_of("2022-08-01T00:00:00+00:00,1", "2022-08-01T01:00:00,1"),
        "line 3: timestamp '2022-08-01T01:00:00' has no UTC offset",
    ),
    (
        "not on the hour",
        csv_of("2022-08-01T00:30:00+00:00,1"),
        "line 2: timestamp '2022-08-01T00:30:00+00:00' is not on the hour",
    ),
    (
        "duplicate hour",
        csv_of("2022-08-01T00:00:00Z,1", "2022-08-01T02:00:00+02:00,1"),
        "line 3: duplicate hour 2022-08-01T00:00:00+00:00",
    ),
    (
        "out of order",
        csv_of("2022-08-01T01:00:00Z,1", "2022-08-01T00:00:00Z,1"),
        "line 3: timestamp '2022-08-01T00:00:00Z' is earlier than the row before it",
    ),
    (
        "bad header",
        "timestamp,kwh\n2022-08-01T00:00:00Z,1\n",
        "line 1: header must be 'datetime,value_kwh', found 'timestamp,kwh'",
    ),
    (
        "three columns",
        csv_of("2022-08-01T00:00:00Z,1", "2022-08-01T01:00:00Z,1,5"),
        "line 3: expected 2 columns, found 3",
    ),
    ("bad number", csv_of("2022-08-01T00:00:00Z,lots"), "line 2: value_kwh 'lots' is not a number"),
    ("not a date", csv_of("01/08/2022 00:00,1"), "line 2: '01/08/2022 00:00' is not an ISO 8601"),
    ("no rows", "datetime,value_kwh\n", "the file has no data rows"),
]


@pytest.mark.parametrize(
    ("csv_text", "message"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES]
)
def test_it_rejects_a_bad_timeseries_file_naming_the_line(
    base_url: str, emulator: WattCarbonEmulator, csv_text: str, message: str
) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)

    response = upload(client, device_id, csv_text)

    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", "file"]
    assert detail[0]["msg"].startswith(message)
    assert emulator.state["timeseries"].get(device_id, {}) == {}
    assert emulator.state["uploads"].get(device_id, []) == []


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"file": "datetime,value_kwh\n"}},
        {"files": {"data": ("data.csv", b"datetime,value_kwh\n2022-08-01T00:00:00Z,1\n")}},
    ],
    ids=["json body", "wrong part name"],
)
def test_it_requires_a_multipart_part_named_file(
    base_url: str, request_kwargs: dict[str, Any]
) -> None:
    client = api(base_url)
    device_id = create(client, SOLAR_SEED)

    response = client.post(f"/devices/{device_id}/timeseries", **request_kwargs)

    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body", "file"], "msg": "Field required", "type": "missing"}
    ]


# --- faults and state ---------------------------------------------------------------------------
def test_it_answers_an_injected_503_like_the_gateway_in_front_of_it(base_url: str) -> None:
    client = api(base_url)
    httpx.post(f"{base_url}/_sandbox/faults", json={"fail_next": 1, "status": 503})

    failed = client.post("/devices", json=SOLAR_SEED)
    retried = client.post("/devices", json=SOLAR_SEED)

    assert failed.status_code == 503
    assert failed.headers["content-type"] == "text/html"
    assert "<title>503 Service Unavailable</title>" in failed.text
    assert retried.status_code == 201


def test_it_answers_an_injected_429_with_retry_after(base_url: str) -> None:
    client = api(base_url)
    httpx.post(
        f"{base_url}/_sandbox/faults", json={"fail_next": 1, "status": 429, "retry_after": 3}
    )

    response = client.get("/devices/dev_0000000000000000")

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json() == {"detail": "Too Many Requests"}


def test_it_records_the_user_agent_of_each_call(
    base_url: str, emulator: WattCarbonEmulator
) -> None:
    httpx.get(f"{base_url}/devices/x", headers={"User-Agent": "probe/1.0"})

    assert emulator.user_agents == ["probe/1.0"]


def test_it_keeps_its_accounts_across_a_reset(base_url: str, emulator: WattCarbonEmulator) -> None:
    emulator.add_account(OTHER_EMAIL, OTHER_API_KEY)
    create(api(base_url), SOLAR_SEED)

    httpx.post(f"{base_url}/_sandbox/reset")

    assert emulator.state["devices"] == {}
    assert grant(base_url, OTHER_EMAIL, OTHER_API_KEY)


def test_it_persists_its_state_as_json(tmp_path: Path) -> None:
    state_path = tmp_path / "wattcarbon.json"
    first = WattCarbonEmulator(state_path)
    with httpx.Client(transport=httpx.WSGITransport(app=first), base_url="http://wc") as client:
        token = client.post(
            "/auth/token",
            data={"grant_type": "password", "username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        device_id = create(client, SOLAR_SEED)
        upload(client, device_id, csv_of("2022-08-01T00:00:00Z,1"))

    restarted = WattCarbonEmulator(state_path)

    assert json.loads(state_path.read_text()) == restarted.state
    assert restarted.state["devices"][device_id]["device"]["customId"] == "SP123"
    assert restarted.state["timeseries"][device_id] == {"2022-08-01T00:00:00+00:00": 1.0}
