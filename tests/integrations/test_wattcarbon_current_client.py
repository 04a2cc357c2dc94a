"""WattCarbon's current API through our client, against the current emulator over real HTTP: every
call, the strictness of the emulator, ids read as integers or strings, errors in the platform's
words, and the unpublished paths as validated settings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from integrations import wattcarbon
from integrations.http import UpstreamError
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
from integrations.wattcarbon import WattCarbonClient

ADDRESS = {
    "street": "606 Ellis St",
    "city": "San Francisco",
    "state": "CA",
    "country": "US",
    "postalCode": "94109",
}


@pytest.fixture
def client(wattcarbon_current) -> Iterator[WattCarbonClient]:
    with WattCarbonClient(
        wattcarbon_current.base_url, email=SANDBOX_EMAIL, api_key=SANDBOX_API_KEY
    ) as made:
        yield made


def hours(count: int, start: datetime = datetime(2025, 3, 1, tzinfo=UTC)):
    return [(start + timedelta(hours=h), 0.5 + h / 100) for h in range(count)]


def solar_asset(meter_id: str, **overrides) -> dict:
    payload = wattcarbon.asset_payload(
        name="Roof array",
        custom_id="SP123",
        kind="solar_direct",
        location=ADDRESS,
        utility="ABC Utility",
        meter_ids=[meter_id],
        commenced_operation_date=None,
        details={"nameplate_capacity_kw": 7.2, "external_registry_device_id": "45678"},
    )
    return payload | overrides


def test_it_makes_a_meter_uploads_its_intervals_then_makes_the_asset(client, wattcarbon_current):
    meter = client.create_meter(wattcarbon.meter_payload(ADDRESS))
    meter_id = meter["id"]
    assert meter_id.isdigit()  # an integer on the wire, read as text
    client.upload_meter_intervals_csv(
        meter_id, wattcarbon.timeseries_csv(hours(48), wattcarbon.INTERVALS_HEADER)
    )
    client.upload_meter_bills_csv(
        meter_id, b"start_date,end_date,energy_kwh\n2025-01-01,2025-01-31,412.5\n"
    )
    asset = client.create_asset(solar_asset(meter_id))

    state = wattcarbon_current.app.state
    assert state["meters"][meter_id]["meter"] == {
        "apiProvider": "manual",
        "meterType": "electricity",
        "location": ADDRESS,
    }
    assert len(state["intervals"][meter_id]) == 48
    assert state["bills"][meter_id] == [
        {"start_date": "2025-01-01", "end_date": "2025-01-31", "energy_kwh": 412.5}
    ]
    stored = state["assets"][asset["id"]]["asset"]
    assert stored["meterIds"] == [int(meter_id)] and stored["kind"] == "solar_direct"
    assert stored["externalRegistryAssetId"] == "45678"
    assert "externalRegistryDeviceId" not in stored


def test_it_uploads_a_demand_response_events_document(client, wattcarbon_current):
    meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    asset = client.create_asset(
        wattcarbon.asset_payload(
            name="Thermostats",
            custom_id="DR1",
            kind="demand_response_eemetered",
            location={"latitude": 37.78, "longitude": -122.41},
            utility=None,
            meter_ids=[meter_id],
            commenced_operation_date=None,
            details={},
        )
    )
    start = datetime.fromisoformat("2025-07-01 17:00:00-05:00")
    content = wattcarbon.dr_events_csv([(start, start + timedelta(hours=3))])
    assert content == (
        b"Event Start Time,Event End Time\n2025-07-01 17:00:00-05:00,2025-07-01 20:00:00-05:00\n"
    )
    answer = client.upload_asset_document(asset["id"], content, "demand_response_events")
    assert wattcarbon.created_id(answer).startswith("doc_")
    [document] = wattcarbon_current.app.state["documents"][asset["id"]]
    assert document["type"] == "demand_response_events"
    assert document["events"] == [["2025-07-01T17:00:00-05:00", "2025-07-01T20:00:00-05:00"]]


def refused(call) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        call()
    assert caught.value.permanent
    return caught.value


def test_the_emulator_refuses_an_unknown_kind_a_missing_location_and_extra_fields(client):
    meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    error = refused(lambda: client.create_asset(solar_asset(meter_id) | {"kind": "solar"}))
    assert error.status_code == 422 and "kind: Input should be 'solar_direct'" in error.message
    body = solar_asset(meter_id)
    del body["location"]
    assert "location: Field required" in refused(lambda: client.create_asset(body)).message
    error = refused(lambda: client.create_asset(solar_asset(meter_id) | {"deviceOwner": {}}))
    assert "deviceOwner: Extra inputs are not permitted" in error.message
    error = refused(
        lambda: client.create_meter(wattcarbon.meter_payload(ADDRESS) | {"meterId": "M1"})
    )
    assert "meterId: Extra inputs are not permitted" in error.message
    error = refused(lambda: client.create_meter({"apiProvider": "manual", "meterType": "water"}))
    assert "meterType" in error.message and "location: Field required" in error.message


def test_the_emulator_refuses_meter_ids_the_account_does_not_hold(client, wattcarbon_current):
    wattcarbon_current.app.add_account("other@example.com", "other-key")
    with WattCarbonClient(
        wattcarbon_current.base_url, email="other@example.com", api_key="other-key"
    ) as other:
        theirs = other.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    error = refused(lambda: client.create_asset(solar_asset(theirs)))
    assert f"meterIds.0: Meter {theirs} not found in this account" in error.message
    error = refused(lambda: client.create_asset(solar_asset("1") | {"meterIds": ["1"]}))
    assert "meterIds.0: Input should be a valid integer" in error.message
    assert wattcarbon_current.app.state["assets"] == {}


def test_the_emulator_refuses_a_duplicate_custom_id_with_a_409(client, wattcarbon_current):
    meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    client.create_asset(solar_asset(meter_id))
    error = refused(lambda: client.create_asset(solar_asset(meter_id)))
    assert error.status_code == 409 and "customId 'SP123' already exists" in error.message
    assert len(wattcarbon_current.app.state["assets"]) == 1


def test_the_emulator_takes_only_the_published_csv_headers(client):
    meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    quickstart_csv = wattcarbon.timeseries_csv(hours(2))  # datetime,value_kwh
    error = refused(lambda: client.upload_meter_intervals_csv(meter_id, quickstart_csv))
    assert "header must be 'start_datetime,energy_kwh'" in error.message
    error = refused(
        lambda: client.upload_meter_intervals_csv(
            meter_id, b"start_datetime,energy_kwh\n2025-03-01T00:00:00,1\n"
        )
    )
    assert "line 2" in error.message and "UTC offset" in error.message
    error = refused(
        lambda: client.upload_meter_intervals_csv(
            "999999", wattcarbon.timeseries_csv(hours(1), wattcarbon.INTERVALS_HEADER)
        )
    )
    assert error.status_code == 404 and error.message == "Meter not found"


def test_the_emulator_refuses_a_call_without_a_token(wattcarbon_current):
    response = httpx.post(f"{wattcarbon_current.base_url}/meters", json={})
    assert response.status_code == 401 and response.json() == {"detail": "Not authenticated"}
    response = httpx.post(f"{wattcarbon_current.base_url}/devices", json={})
    assert response.status_code == 404  # the quickstart's devices are not the current API


def test_it_reads_an_id_as_an_integer_or_a_string_and_a_missing_one_as_a_lost_answer():
    answers = iter([{"id": 999}, {"id": " ast_7 "}, {"name": "no id"}, {"id": True}])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t"})
        return httpx.Response(201, json=next(answers))

    with WattCarbonClient(
        "https://api.wattcarbon.com", email="e", api_key="k", transport=httpx.MockTransport(handler)
    ) as client:
        assert client.create_meter({})["id"] == "999"
        assert client.create_asset({})["id"] == "ast_7"
        for _ in range(2):
            with pytest.raises(UpstreamError) as caught:
                client.create_asset({})
            assert caught.value.answer_lost and not caught.value.permanent


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (422, {"detail": [{"loc": ["body", "kind"], "msg": "bad kind"}]}, "kind: bad kind"),
        (409, {"detail": "customId taken"}, "customId taken"),
        (400, {"detail": ["first problem", "second"]}, "first problem; second"),
        (418, {"message": "short and stout"}, "short and stout"),
        (404, "<html>no</html>", "Not Found"),
    ],
)
def test_it_shows_any_4xx_as_a_failure_in_the_platforms_words(status, body, message):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(200, json={"access_token": "t"})
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with WattCarbonClient(
        "https://api.wattcarbon.com", email="e", api_key="k", transport=httpx.MockTransport(handler)
    ) as client:
        error = refused(lambda: client.create_meter({}))
    assert error.status_code == status and error.message == message


# --- the unpublished paths: settings, checked ------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("meters", "//evil.example/meters"),
        ("meters", "https://evil.example/meters"),
        ("meters", "meters"),
        ("meters", "/meters?x=1"),
        ("meters", "/meters#frag"),
        ("meters", "/a/../meters"),
        ("meters", "/me%2fters"),
        ("meters", "/@evil.example"),
        ("meters", "/meters/{id}"),
        ("intervals", "/meters/intervals"),
        ("intervals", "/meters/{id}/{id}"),
        ("documents", "/assets/{ID}/documents"),
        ("documents", "/assets/{id}/docs\\x"),
        ("documents", "/" + "a" * 250 + "/{id}"),
    ],
)
def test_a_path_setting_is_a_path_template_never_an_address(name, template):
    with pytest.raises(ValueError):
        wattcarbon.check_path_template(name, template)


def test_a_path_setting_takes_a_template_and_blank_means_the_default():
    assert wattcarbon.check_path_template("intervals", " /v2/meters/{id}/reads ") == (
        "/v2/meters/{id}/reads"
    )
    assert wattcarbon.check_path_template("meters", "") == "/meters"
    assert wattcarbon.paths_from({"documents": "/assets/{id}/files"}) == {
        **wattcarbon.PATH_DEFAULTS,
        "documents": "/assets/{id}/files",
    }


def recording_client(emulator, paths: dict[str, str], calls: list[str]) -> WattCarbonClient:
    """A client with these path settings that notes the path of every call it makes."""
    return WattCarbonClient(
        emulator.base_url,
        email=SANDBOX_EMAIL,
        api_key=SANDBOX_API_KEY,
        paths=paths,
        on_call=lambda call: calls.append(call.path),
    )


def test_the_client_calls_the_paths_the_connection_sets(wattcarbon_current):
    calls: list[str] = []
    paths = {"intervals": "/meters/{id}/readings"}
    with recording_client(wattcarbon_current, paths, calls) as client:
        meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
        error = refused(
            lambda: client.upload_meter_intervals_csv(
                meter_id, wattcarbon.timeseries_csv(hours(1), wattcarbon.INTERVALS_HEADER)
            )
        )
    assert error.status_code == 404  # the emulator serves the inferred default only
    assert calls[-1] == f"/meters/{meter_id}/readings"


def test_a_stored_path_that_is_not_a_template_is_refused_before_anything_is_sent(
    wattcarbon_current,
):
    calls: list[str] = []
    paths = {"meters": "//169.254.169.254/latest"}
    with recording_client(wattcarbon_current, paths, calls) as client:
        error = refused(lambda: client.create_meter(wattcarbon.meter_payload(ADDRESS)))
    assert error.message.startswith("Not sent: the connection's Meter create path")
    assert not error.answer_lost and calls == []


def test_the_emulator_takes_an_events_document_only_as_published_and_for_a_dr_asset(client):
    meter_id = client.create_meter(wattcarbon.meter_payload(ADDRESS))["id"]
    solar = client.create_asset(solar_asset(meter_id))["id"]
    events = (
        b"Event Start Time,Event End Time\n2025-07-01 17:00:00-05:00,2025-07-01 20:00:00-05:00\n"
    )
    error = refused(lambda: client.upload_asset_document(solar, events, "demand_response_events"))
    assert "belong to a demand_response_eemetered asset" in error.message
    dr = client.create_asset(
        wattcarbon.asset_payload(
            name="Thermostats",
            custom_id="DR2",
            kind="demand_response_eemetered",
            location=ADDRESS,
            utility=None,
            meter_ids=[meter_id],
            commenced_operation_date=None,
            details={},
        )
    )["id"]
    error = refused(lambda: client.upload_asset_document(dr, events, "invoice"))
    assert "type: Input should be 'demand_response_events'" in error.message
    error = refused(
        lambda: client.upload_asset_document(
            dr,
            b"start,end\n2025-07-01 17:00:00-05:00,2025-07-01 20:00:00-05:00\n",
            "demand_response_events",
        )
    )
    assert "header must be 'Event Start Time,Event End Time'" in error.message
    error = refused(
        lambda: client.upload_asset_document(
            dr,
            b"Event Start Time,Event End Time\n2025-07-01 17:00:00,2025-07-01 20:00:00\n",
            "demand_response_events",
        )
    )
    assert "line 2" in error.message and "with the offset" in error.message
