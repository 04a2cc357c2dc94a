"""The WattCarbon client and payload builders, against the seed and the emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from integrations.http import USER_AGENT, CallRecord, UpstreamError
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL, WattCarbonEmulator
from integrations.wattcarbon import (
    DEFAULT_TOKEN_LIFETIME_S,
    WattCarbonClient,
    device_payload,
    location_payload,
    month_chunks,
    timeseries_csv,
)
from tests.integrations.vectors import vector_bytes, vector_json

# The seed's two example bodies and its example file, verbatim (tests/integrations/vectors/).
SOLAR_SEED: dict[str, Any] = vector_json("wattcarbon", "device-solar.json")
ELECTRIFICATION_SEED: dict[str, Any] = vector_json("wattcarbon", "device-electrification.json")
SEED_CSV = vector_bytes("wattcarbon", "timeseries.csv")
OTHER_EMAIL = "other@gridfolio.test"
OTHER_API_KEY = "other-wattcarbon-key"
CDT = timezone(timedelta(hours=-5))


class FakeClock:
    """Seconds that only move when a test says so (shared by the client and the emulator)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seed_solar_payload(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "My device",
        "custom_id": "SP123",
        "kind": "solar",
        "location": location_payload(street="60 Greene St", city="Riverside", state="IA"),
        "utility": "ABC Utility",
        "owner_name": "Person Person",
        "meter_id": "M123",
        "commenced_operation_date": date(2022, 8, 1),
        "details": {
            "nameplate_capacity_kw": Decimal("123"),
            "inverter_data_id": "1234",
            "inverter_data_source": "enphase",
            "external_registry_name": "GATS",
            "external_registry_device_id": "45678",
            "eia_plant_id": None,
        },
    }
    fields.update(overrides)
    return device_payload(**fields)


def hours(start: datetime, count: int, value_kwh: float = 1.0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(hours=n), value_kwh) for n in range(count)]


# --- payload builders -------------------------------------------------------------------------------
def test_it_builds_the_seed_solar_body() -> None:
    assert seed_solar_payload() == SOLAR_SEED


def test_it_builds_the_seed_electrification_body() -> None:
    payload = device_payload(
        name="My device",
        custom_id="HP123",
        kind="electrification",
        location=location_payload(street="60 Greene St", city="Riverside", state="IA"),
        utility="ABC Utility",
        owner_name="Person Person",
        meter_id="M123",
        commenced_operation_date=date(2022, 8, 1),
        details={
            "area_sqft": Decimal("123"),
            "previous_fuel": "natural_gas",
            "replaces_furnace": True,
            "replaces_water_heater": False,
            "cold_climate": False,
            "effective_useful_life_years": 10,
            "building_type": "single_family_attached",
            "heating_backup_system": "electric_resistance",
            "heat_pump_hspf": 5,
            "water_heater_uef": 3,
        },
    )

    assert payload == ELECTRIFICATION_SEED


def test_it_leaves_out_what_we_do_not_know() -> None:
    payload = device_payload(
        name="Heat pump",
        custom_id="",
        kind="electrification",
        location="Riverside IA",
        utility=None,
        owner_name="",
        meter_id=None,
        commenced_operation_date=None,
        details={},
    )

    assert payload == {"name": "Heat pump", "location": "Riverside IA", "kind": "electrification"}


@pytest.mark.parametrize(
    ("kind", "details"),
    [
        ("solar", {"area_sqft": 100}),
        ("wind", {}),
        # Categories WattCarbon names without a quickstart kind (sent as invented kinds before).
        ("storage", {}),
        ("demand_response", {}),
        ("ev_charging", {}),
        ("energy_efficiency", {}),
    ],
)
def test_it_refuses_a_kind_or_field_the_platform_would_reject(
    kind: str, details: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        seed_solar_payload(kind=kind, details=details)


def test_it_prefers_coordinates_for_the_location() -> None:
    assert location_payload(
        street="60 Greene St", latitude=Decimal("41.48"), longitude=Decimal("-91.58")
    ) == {"latitude": 41.48, "longitude": -91.58}
    assert (
        location_payload(
            street="606 Ellis St",
            city="San Francisco",
            state="CA",
            postal_code="94109",
            country="US",
            latitude=37.78,
        )
        == "606 Ellis St San Francisco CA 94109 US"
    )
    assert location_payload(street="", city=None) is None


def test_it_writes_the_seed_timeseries_csv() -> None:
    values = [0.1, 1.1, 2.3, 1.4, 1.6]
    rows = [
        (datetime(2022, 7, 31, 19, tzinfo=CDT) + timedelta(hours=n), v)
        for n, v in enumerate(values)
    ]

    assert timeseries_csv(rows) == SEED_CSV


@pytest.mark.parametrize(
    "rows",
    [
        [(datetime(2022, 8, 1, 0), 1.0)],
        [(datetime(2022, 8, 1, 0, 30, tzinfo=UTC), 1.0)],
        [(datetime(2022, 8, 1, 1, tzinfo=UTC), 1.0), (datetime(2022, 8, 1, 1, tzinfo=UTC), 2.0)],
        [(datetime(2022, 8, 1, 1, tzinfo=UTC), float("nan"))],
    ],
    ids=["naive", "not on the hour", "duplicate hour", "not a number"],
)
def test_it_refuses_rows_the_platform_would_reject(rows: list[tuple[datetime, float]]) -> None:
    with pytest.raises(ValueError):
        timeseries_csv(rows)


def test_it_splits_a_year_into_calendar_months() -> None:
    year = hours(datetime(2023, 1, 1, tzinfo=UTC), 8760)

    chunks = month_chunks(reversed(year))

    assert [len(chunk) for chunk in chunks] == [
        744,
        672,
        744,
        720,
        744,
        720,
        744,
        744,
        720,
        744,
        720,
        744,
    ]
    assert [chunk[0][0] for chunk in chunks] == [
        datetime(2023, m, 1, tzinfo=UTC) for m in range(1, 13)
    ]


def test_it_splits_by_the_utc_month() -> None:
    # 23:00 on 31 January in Iowa is already February in UTC.
    rows = [
        (datetime(2023, 1, 31, 17, tzinfo=CDT), 1.0),
        (datetime(2023, 1, 31, 23, tzinfo=CDT), 2.0),
    ]

    assert [len(chunk) for chunk in month_chunks(rows)] == [1, 1]


# --- client over HTTP ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[RunningEmulator]:
    # One server per module: stopping a waitress server costs seconds, resetting it nothing.
    with RunningEmulator(WattCarbonEmulator()) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(server: RunningEmulator, clock: FakeClock) -> WattCarbonEmulator:
    app = server.app
    assert isinstance(app, WattCarbonEmulator)
    app.accounts = {SANDBOX_EMAIL: SANDBOX_API_KEY}
    app.token_lifetime_s = DEFAULT_TOKEN_LIFETIME_S
    app.send_expires_in = True
    app.clock = clock
    app.user_agents.clear()
    app.reset()
    return app


@pytest.fixture
def calls() -> list[CallRecord]:
    return []


@pytest.fixture
def client(
    server: RunningEmulator, emulator: WattCarbonEmulator, clock: FakeClock, calls: list[CallRecord]
) -> Iterator[WattCarbonClient]:
    with WattCarbonClient(
        server.base_url,
        email=SANDBOX_EMAIL,
        api_key=SANDBOX_API_KEY,
        on_call=calls.append,
        clock=clock,
    ) as wattcarbon:
        yield wattcarbon


def faults(server: RunningEmulator, **settings: Any) -> None:
    httpx.post(f"{server.base_url}/_sandbox/faults", json=settings).raise_for_status()


def trail(calls: list[CallRecord]) -> list[tuple[str, str, int | None]]:
    return [(call.method, call.path, call.status_code) for call in calls]


def token_calls(calls: list[CallRecord]) -> int:
    return sum(call.path == "/auth/token" for call in calls)


def test_it_fetches_one_token_and_reuses_it(
    client: WattCarbonClient, calls: list[CallRecord]
) -> None:
    device = client.create_device(SOLAR_SEED)
    client.get_device(device["id"])
    client.get_device(device["id"])

    assert token_calls(calls) == 1
    assert trail(calls)[0] == ("POST", "/auth/token", 200)


def test_it_renews_the_token_a_minute_before_it_expires(
    client: WattCarbonClient, calls: list[CallRecord], clock: FakeClock
) -> None:
    device = client.create_device(SOLAR_SEED)

    clock.advance(DEFAULT_TOKEN_LIFETIME_S - 61)
    client.get_device(device["id"])
    assert token_calls(calls) == 1
    clock.advance(1)
    client.get_device(device["id"])

    assert token_calls(calls) == 2
    assert [status for _, _, status in trail(calls)] == [200, 201, 200, 200, 200]  # no 401


def test_it_renews_a_short_lived_token_halfway_through_its_life(
    client: WattCarbonClient,
    emulator: WattCarbonEmulator,
    calls: list[CallRecord],
    clock: FakeClock,
) -> None:
    emulator.token_lifetime_s = 100  # shorter than twice the one-minute margin

    client.create_device(SOLAR_SEED)
    clock.advance(49)
    client.create_device({**SOLAR_SEED, "customId": "SP124"})
    assert token_calls(calls) == 1
    clock.advance(1)
    client.create_device({**SOLAR_SEED, "customId": "SP125"})

    assert token_calls(calls) == 2


def test_it_fetches_a_new_token_for_every_call_when_expires_in_is_zero(
    client: WattCarbonClient,
    emulator: WattCarbonEmulator,
    calls: list[CallRecord],
    clock: FakeClock,
) -> None:
    client.create_token()
    emulator.token_lifetime_s = 0
    client.create_token()  # the platform now hands out tokens that are already stale
    emulator.token_lifetime_s = 3600

    client.create_device(SOLAR_SEED)

    # Not a 401 and a retry: the client knew the token was stale and asked for a new one.
    assert trail(calls)[-2:] == [("POST", "/auth/token", 200), ("POST", "/devices", 201)]
    assert 401 not in [call.status_code for call in calls]


def test_it_assumes_a_day_when_the_token_has_no_expires_in(
    client: WattCarbonClient,
    emulator: WattCarbonEmulator,
    calls: list[CallRecord],
    clock: FakeClock,
) -> None:
    emulator.send_expires_in = False
    assert "expires_in" not in client.create_token()

    clock.advance(24 * 3600 - 61)
    client.create_device(SOLAR_SEED)
    assert token_calls(calls) == 1
    clock.advance(1)
    client.create_device({**SOLAR_SEED, "customId": "SP124"})

    assert token_calls(calls) == 2


def test_it_creates_updates_and_reads_a_device(
    client: WattCarbonClient, emulator: WattCarbonEmulator
) -> None:
    created = client.create_device(seed_solar_payload())

    updated = client.update_device(created["id"], seed_solar_payload(name="Barn roof"))
    fetched = client.get_device(created["id"])

    assert created["id"].startswith("dev_")
    assert updated["name"] == "Barn roof"
    assert fetched == updated
    assert emulator.state["devices"][created["id"]]["device"]["name"] == "Barn roof"


def test_it_reports_a_duplicate_custom_id_on_create(client: WattCarbonClient) -> None:
    client.create_device(SOLAR_SEED)

    with pytest.raises(UpstreamError) as error:
        client.create_device({**SOLAR_SEED, "name": "Second"})

    assert error.value.status_code == 409
    assert error.value.permanent is True
    assert error.value.message == "A device with customId 'SP123' already exists in this account"


def test_it_reports_a_duplicate_custom_id_on_update(client: WattCarbonClient) -> None:
    client.create_device(SOLAR_SEED)
    second = client.create_device({**SOLAR_SEED, "customId": "SP124"})

    with pytest.raises(UpstreamError) as error:
        client.update_device(second["id"], SOLAR_SEED)

    assert error.value.status_code == 409
    assert error.value.permanent is True
    assert "SP123" in error.value.message


def test_it_turns_a_422_detail_list_into_field_messages(client: WattCarbonClient) -> None:
    with pytest.raises(UpstreamError) as error:
        client.create_device(
            {"name": "x", "kind": "solar", "location": {"latitude": 91, "longitude": 0}}
        )

    assert error.value.status_code == 422
    assert error.value.permanent is True
    assert error.value.message == (
        "location.latitude: Input should be less than or equal to 90; "
        "nameplateCapacityKw: Field required"
    )


def test_it_gives_a_refused_enum_value_in_the_platforms_words(client: WattCarbonClient) -> None:
    # Every value but the seed's is our assumption: the platform may refuse one.
    with pytest.raises(UpstreamError) as error:
        client.create_device({**seed_solar_payload(), "inverterDataSource": "sunpower"})

    assert error.value.status_code == 422
    assert error.value.message == (
        "inverterDataSource: Input should be 'enphase', 'solaredge', 'tesla', 'sma', 'fronius', "
        "'generac', 'apsystems' or 'other'"
    )


def test_it_gets_a_404_for_another_accounts_device(
    client: WattCarbonClient, server: RunningEmulator, emulator: WattCarbonEmulator
) -> None:
    emulator.add_account(OTHER_EMAIL, OTHER_API_KEY)
    device = client.create_device(SOLAR_SEED)
    with (
        WattCarbonClient(server.base_url, email=OTHER_EMAIL, api_key=OTHER_API_KEY) as outsider,
        pytest.raises(UpstreamError) as error,
    ):
        outsider.get_device(device["id"])

    assert error.value.status_code == 404
    assert error.value.permanent is True
    assert error.value.message == "Device not found"


def test_it_reauthenticates_once_when_the_token_expires_mid_run(
    client: WattCarbonClient, server: RunningEmulator, calls: list[CallRecord]
) -> None:
    device = client.create_device(SOLAR_SEED)
    faults(server, expire_tokens=True)

    fetched = client.get_device(device["id"])

    assert fetched["id"] == device["id"]
    path = f"/devices/{device['id']}"
    assert trail(calls) == [
        ("POST", "/auth/token", 200),
        ("POST", "/devices", 201),
        ("GET", path, 401),
        ("POST", "/auth/token", 200),
        ("GET", path, 200),
    ]


def test_it_gives_up_after_one_reauthentication(
    client: WattCarbonClient, emulator: WattCarbonEmulator, calls: list[CallRecord]
) -> None:
    emulator.token_lifetime_s = 0  # every token is dead on arrival

    with pytest.raises(UpstreamError) as error:
        client.create_device(SOLAR_SEED)

    assert error.value.status_code == 401
    assert error.value.permanent is True
    assert error.value.message == "Token has expired"
    assert token_calls(calls) == 2
    assert len(calls) == 4


def test_it_reports_wrong_credentials_as_permanent(
    server: RunningEmulator, emulator: WattCarbonEmulator, calls: list[CallRecord]
) -> None:
    with (
        WattCarbonClient(
            server.base_url, email=SANDBOX_EMAIL, api_key="revoked-key", on_call=calls.append
        ) as wattcarbon,
        pytest.raises(UpstreamError) as error,
    ):
        wattcarbon.create_device(SOLAR_SEED)

    assert error.value.status_code == 401
    assert error.value.permanent is True
    assert error.value.message == "Incorrect username or password"
    assert trail(calls) == [("POST", "/auth/token", 401)]


def test_it_maps_an_injected_503_to_a_transient_error(
    client: WattCarbonClient, server: RunningEmulator
) -> None:
    client.create_token()
    faults(server, fail_next=1, status=503)

    with pytest.raises(UpstreamError) as error:
        client.create_device(SOLAR_SEED)

    assert error.value.status_code == 503
    assert error.value.permanent is False
    assert error.value.message.startswith("Service Unavailable")  # the status, not the body
    assert client.create_device(SOLAR_SEED)["customId"] == "SP123"


def test_it_reads_retry_after_from_a_429(client: WattCarbonClient, server: RunningEmulator) -> None:
    client.create_token()
    faults(server, fail_next=1, status=429, retry_after=7)

    with pytest.raises(UpstreamError) as error:
        client.create_device(SOLAR_SEED)

    assert error.value.status_code == 429
    assert error.value.permanent is False
    assert error.value.retry_after_s == 7.0


def test_it_maps_a_dropped_connection_to_a_transient_error(
    client: WattCarbonClient, server: RunningEmulator
) -> None:
    client.create_token()
    faults(server, drop_next=1)

    with pytest.raises(UpstreamError) as error:
        client.create_device(SOLAR_SEED)

    assert error.value.permanent is False
    assert error.value.status_code is None


def test_it_uploads_a_timeseries(client: WattCarbonClient, emulator: WattCarbonEmulator) -> None:
    device = client.create_device(SOLAR_SEED)

    summary = client.upload_timeseries(
        device["id"], hours(datetime(2022, 8, 1, tzinfo=CDT), 24, 2.5)
    )

    assert summary["accepted"] == 24
    stored = emulator.state["timeseries"][device["id"]]
    assert len(stored) == 24
    assert stored["2022-08-01T05:00:00+00:00"] == 2.5  # midnight CDT, keyed in UTC


def test_it_sends_the_file_again_after_a_reauthentication(
    client: WattCarbonClient, server: RunningEmulator, emulator: WattCarbonEmulator
) -> None:
    device = client.create_device(SOLAR_SEED)
    faults(server, expire_tokens=True)

    summary = client.upload_timeseries(device["id"], hours(datetime(2022, 8, 1, tzinfo=UTC), 3))

    assert summary["accepted"] == 3
    assert len(emulator.state["uploads"][device["id"]]) == 1


def test_it_uploads_a_year_as_twelve_monthly_files(
    client: WattCarbonClient, emulator: WattCarbonEmulator
) -> None:
    device = client.create_device({**SOLAR_SEED, "commencedOperationDate": "2023-01-01"})
    year = hours(datetime(2023, 1, 1, tzinfo=UTC), 8760, 0.5)

    summaries = [client.upload_timeseries(device["id"], chunk) for chunk in month_chunks(year)]

    uploads = emulator.state["uploads"][device["id"]]
    assert len(uploads) == 12
    assert [upload["start"][:7] for upload in uploads] == [f"2023-{m:02d}" for m in range(1, 13)]
    assert sum(summary["accepted"] for summary in summaries) == 8760
    assert len(emulator.state["timeseries"][device["id"]]) == 8760


def test_it_maps_a_timeseries_rejection_to_its_line(client: WattCarbonClient) -> None:
    device = client.create_device(SOLAR_SEED)
    csv_text = b"datetime,value_kwh\n2022-08-01T00:00:00,1\n"

    with pytest.raises(UpstreamError) as error:
        client.request(
            "POST",
            f"/devices/{device['id']}/timeseries",
            files={"file": ("data.csv", csv_text, "text/csv")},
        )

    assert error.value.status_code == 422
    assert error.value.message == "file: line 2: timestamp '2022-08-01T00:00:00' has no UTC offset"


def test_it_sends_its_user_agent(client: WattCarbonClient, emulator: WattCarbonEmulator) -> None:
    device = client.create_device(SOLAR_SEED)
    client.upload_timeseries(device["id"], hours(datetime(2022, 8, 1, tzinfo=UTC), 2))

    assert emulator.user_agents == [USER_AGENT] * 3


def test_it_keeps_secrets_out_of_the_call_records(
    client: WattCarbonClient, emulator: WattCarbonEmulator, calls: list[CallRecord]
) -> None:
    client.create_device(SOLAR_SEED)
    token = next(iter(emulator.state["tokens"]))

    recorded = repr(calls)

    assert SANDBOX_API_KEY not in recorded
    assert token not in recorded
