"""WattCarbon's current profile through the sync engine, against the current emulator over real HTTP:
per device a meter, its intervals, an asset on it and, for demand response, the events document;
every kind mapped or shown as not accepted; the lost answer of each create; a profile switch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType

from devices import services as device_services
from devices.models import Device
from integrations import engine, services
from integrations.models import (
    Channel,
    Connection,
    LinkState,
    Profile,
    SyncAttempt,
    SyncChunk,
    Unsent,
    UpstreamLink,
)
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
from portal.signals import readings_changed
from readings.models import Reading, Series
from tests.factories import DeviceFactory, HomeFactory
from tests.integrations.test_exactly_once import settle_all as settle

pytestmark = pytest.mark.django_db

DETAILS = {
    "solar": {"nameplate_capacity_kw": "7.2", "external_registry_device_id": "45678"},
    "electrification": {"area_sqft": 1800, "previous_fuel": "natural_gas"},
    "battery": {"capacity_kwh": "13.5", "power_kw": "5"},
    "demand_response": {"program_name": "Peak saver"},
    "ev_charger": {"power_kw": "7.2"},
}
EVENTS = "2025-07-01T17:00-05:00/2025-07-01T20:00-05:00"


def new_device(org, kind: str = "solar", **kwargs) -> Device:
    device = DeviceFactory.build(
        organization=org, home=HomeFactory(organization=org), kind=kind, **kwargs
    )
    device.details = dict(kwargs.get("details") or DETAILS.get(kind, device.details))
    return device_services.save_device(device)


def link_of(record, channel: str = Channel.RECORD) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="wattcarbon",
        channel=channel,
    )


def links_of(record) -> dict[str, UpstreamLink]:
    return {
        link.channel: link
        for link in UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
            platform="wattcarbon",
        )
    }


def store_readings(device: Device, start: datetime, hours: int, value_kwh: float = 1.5) -> None:
    series, _ = Series.objects.get_or_create(
        organization=device.organization, device=device, defaults={"quantity": "generation"}
    )
    for h in range(hours):
        Reading.objects.update_or_create(
            series=series, instant=start + timedelta(hours=h), defaults={"value_kwh": value_kwh}
        )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=hours - 1)
    )


def calls_of(link: UpstreamLink) -> list[str]:
    return [
        f"{a.method} {a.path} {a.status_code}"
        for a in SyncAttempt.objects.filter(link=link).order_by("started_at", "pk")
        if a.path != "/auth/token"
    ]


def test_it_makes_the_meter_then_uploads_intervals_and_makes_the_asset_on_it(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org, commenced_operation_date=date(2025, 2, 1))
    store_readings(device, datetime(2025, 1, 31, 20, tzinfo=UTC), 30)  # two months
    settle(org)

    links = links_of(device)
    assert set(links) == {Channel.METER, Channel.TIMESERIES, Channel.RECORD}
    meter, intervals, asset = links[Channel.METER], links[Channel.TIMESERIES], links[Channel.RECORD]
    assert all(link.state == LinkState.SYNCED for link in links.values())
    assert all(link.profile == Profile.CURRENT for link in links.values())
    state = wattcarbon_current.app.state
    assert state["meters"][meter.remote_id]["meter"] == {
        "apiProvider": "manual",
        "meterType": "electricity",
        "location": {
            "street": "60 Greene St",
            "city": "Riverside",
            "state": "IA",
            "country": "US",
            "postalCode": "52327",
        },
    }
    remote = state["assets"][asset.remote_id]["asset"]
    assert remote["meterIds"] == [int(meter.remote_id)]
    assert remote["kind"] == "solar_direct" and remote["customId"] == device.custom_id
    assert remote["commencedOperationDate"] == "2025-02-01"
    assert remote["externalRegistryAssetId"] == "45678"
    # Every reading goes, the baseline before the commenced operation date too.
    assert len(state["intervals"][meter.remote_id]) == 30
    assert intervals.remote_id == meter.remote_id
    assert calls_of(meter) == ["POST /meters 201"]
    assert calls_of(asset) == ["POST /assets 201"]
    assert calls_of(intervals) == [f"POST /meters/{meter.remote_id}/intervals 201"] * 2


def test_it_sends_only_the_months_that_changed(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org)
    store_readings(device, datetime(2025, 1, 1, tzinfo=UTC), 24 * 59)  # January and February
    settle(org)
    intervals = link_of(device, Channel.TIMESERIES)
    assert len(calls_of(intervals)) == 2
    store_readings(device, datetime(2025, 2, 10, tzinfo=UTC), 2, value_kwh=9.0)
    settle(org)
    assert calls_of(intervals)[2:] == [f"POST /meters/{intervals.remote_id}/intervals 201"]
    held = wattcarbon_current.app.state["intervals"][intervals.remote_id]
    assert held["2025-02-10T00:00:00+00:00"] == 9.0 and len(held) == 24 * 59
    # Stored again unchanged: nothing is sent.
    store_readings(device, datetime(2025, 2, 10, tzinfo=UTC), 2, value_kwh=9.0)
    settle(org)
    assert len(calls_of(intervals)) == 3


@pytest.mark.parametrize(
    ("kind", "asset_kind", "fields"),
    [
        ("solar", "solar_direct", {"nameplateCapacityKw": 7.2}),
        ("electrification", "electrification_eemetered", {"areaSqft": 1800.0}),
        ("battery", "storage_direct", {}),
        ("demand_response", "demand_response_eemetered", {}),
    ],
)
def test_it_maps_each_kind_to_its_asset_kind(
    org, wattcarbon_current, wattcarbon_current_connection, kind, asset_kind, fields
):
    device = new_device(org, kind)
    settle(org)
    asset = link_of(device)
    assert asset.state == LinkState.SYNCED and not asset.unsent
    remote = wattcarbon_current.app.state["assets"][asset.remote_id]["asset"]
    assert remote["kind"] == asset_kind
    assert {key: remote[key] for key in fields} == fields
    # Battery capacity and a DR program are not published asset fields: not sent.
    assert not {"capacityKwh", "powerKw", "programName"} & set(remote)


def test_it_shows_an_ev_charger_as_not_accepted_and_links_no_vehicle(
    org, wattcarbon_current, wattcarbon_current_connection
):
    charger = new_device(org, "ev_charger")
    vehicle = new_device(
        org,
        "vehicle",
        details={"brand": "Kia", "model": "EV6", "year": 2023, "vin": "1HGCM82633A004352"},
    )
    settle(org)
    assert set(links_of(charger)) == {Channel.RECORD}
    link = link_of(charger)
    assert link.state == LinkState.SYNCED and link.unsent == Unsent.NOT_ACCEPTED
    assert "none of the asset kinds" in link.unsent_note and "EV chargers" in link.unsent_note
    assert links_of(vehicle) == {}
    assert wattcarbon_current.app.state["meters"] == {}
    assert not SyncAttempt.objects.filter(link__organization=org).exists()


def test_it_uploads_a_demand_response_devices_events_to_its_asset(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org, "demand_response")
    settle(org)
    document = link_of(device, Channel.DOCUMENT)
    assert document.state == LinkState.SYNCED and document.unsent == Unsent.NOT_ACCEPTED
    assert "no demand-response events" in document.unsent_note

    device.details = {**device.details, "events": EVENTS}
    device_services.save_device(device)
    settle(org)
    document.refresh_from_db()
    asset = link_of(device)
    assert document.state == LinkState.SYNCED and not document.unsent
    [held] = wattcarbon_current.app.state["documents"][asset.remote_id]
    assert document.remote_id == held["id"]
    assert held["events"] == [["2025-07-01T17:00:00-05:00", "2025-07-01T20:00:00-05:00"]]
    assert calls_of(document) == [f"POST /assets/{asset.remote_id}/documents 201"]

    # A new event: the whole list goes again as the asset's newest document.
    device.details = {**device.details, "events": f"{EVENTS}\n2025-07-08T17:00Z/2025-07-08T19:00Z"}
    device_services.save_device(device)
    settle(org)
    documents = wattcarbon_current.app.state["documents"][asset.remote_id]
    assert [len(held["events"]) for held in documents] == [1, 2]


# --- lost answers -----------------------------------------------------------------------------------
def test_a_lost_meter_create_waits_in_doubt_and_nothing_is_made_twice(
    org, wattcarbon_current, wattcarbon_current_connection
):
    wattcarbon_current.app.drop_answers(1, path="/meters")
    device = new_device(org)
    settle(org)
    meter = link_of(device, Channel.METER)
    assert meter.state == LinkState.IN_DOUBT and meter.remote_id == ""
    assert meter.create_payload["apiProvider"] == "manual"
    assert len(wattcarbon_current.app.state["meters"]) == 1  # made once, id unknown to us
    asset = link_of(device)
    assert asset.state == LinkState.PENDING and "meter" in asset.waiting_for
    # A person finds it on WattCarbon: the asset follows on it.
    [made] = wattcarbon_current.app.state["meters"]
    assert services.adopt_remote_id(meter, made)
    settle(org)
    asset.refresh_from_db()
    assert asset.state == LinkState.SYNCED
    assert wattcarbon_current.app.state["assets"][asset.remote_id]["asset"]["meterIds"] == [
        int(made)
    ]
    assert len(wattcarbon_current.app.state["meters"]) == 1


def test_a_lost_asset_create_is_sent_again_once_and_a_refusal_waits_in_doubt(
    org, wattcarbon_current, wattcarbon_current_connection
):
    wattcarbon_current.app.drop_answers(1, path="/assets")
    device = new_device(org)
    settle(org)
    asset = link_of(device)
    # Sent again with the same customId: refused as a duplicate, so a person gives the id.
    assert asset.state == LinkState.IN_DOUBT
    assert "customId" in asset.last_error and "no way to look an asset up" in asset.last_error
    assert len(wattcarbon_current.app.state["assets"]) == 1
    assert calls_of(asset)[-1] == "POST /assets 409"


def test_a_lost_asset_create_that_never_arrived_is_made_once(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org)
    meter = link_of(device, Channel.METER)
    engine.run_link(meter.pk, ignore_schedule=True)
    asset = link_of(device)
    # The create was noted as sent and its answer never read (a worker killed before the call).
    UpstreamLink.objects.filter(pk=asset.pk).update(
        create_sent_at=datetime.now(UTC),
        create_payload=_asset_payload(device, link_of(device, Channel.METER).remote_id),
    )
    settle(org)
    asset.refresh_from_db()
    assert asset.state == LinkState.SYNCED and asset.remote_id.startswith("ast_")
    assert len(wattcarbon_current.app.state["assets"]) == 1


def _asset_payload(device: Device, meter_id: str) -> dict:
    from integrations.adapters.wattcarbon.current import WattCarbonAsset
    from integrations.outcomes import as_json

    return as_json(WattCarbonAsset().payload(device, meter_id))


def test_a_lost_intervals_upload_is_sent_again_and_holds_each_hour_once(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org)
    store_readings(device, datetime(2025, 3, 1, tzinfo=UTC), 24)
    wattcarbon_current.app.drop_answers(1, path=r"/meters/\d+/intervals")
    settle(org)
    intervals = link_of(device, Channel.TIMESERIES)
    assert intervals.state == LinkState.SYNCED
    assert [call.split()[-1] for call in calls_of(intervals)] == ["None", "201"]
    assert len(wattcarbon_current.app.state["intervals"][intervals.remote_id]) == 24


def test_a_lost_events_document_upload_waits_in_doubt(
    org, wattcarbon_current, wattcarbon_current_connection
):
    wattcarbon_current.app.drop_answers(1, path=r"/assets/[^/]+/documents")
    device = new_device(org, "demand_response", details={"events": EVENTS})
    settle(org)
    document = link_of(device, Channel.DOCUMENT)
    assert document.state == LinkState.IN_DOUBT
    [held] = wattcarbon_current.app.state["documents"].values()
    assert len(held) == 1


def test_a_change_to_a_synced_asset_is_shown_out_of_date_upstream(
    org, wattcarbon_current, wattcarbon_current_connection
):
    device = new_device(org)
    settle(org)
    device.name = "Renamed array"
    device_services.save_device(device)
    settle(org)
    asset = link_of(device)
    assert asset.state == LinkState.SYNCED and asset.unsent == Unsent.OUT_OF_DATE
    assert "no" in asset.unsent_note and "assets" in asset.unsent_note
    assert [(c["field"], c["current"]) for c in asset.unsent_changes] == [("name", "Renamed array")]
    assert calls_of(asset) == ["POST /assets 201"]


def test_a_home_without_an_address_or_coordinates_is_not_sent(
    org, wattcarbon_current, wattcarbon_current_connection
):
    home = HomeFactory(organization=org, street="", city="", state="", zip_code="", country="")
    device = device_services.save_device(
        DeviceFactory.build(organization=org, home=home, details=DETAILS["solar"])
    )
    settle(org)
    meter = link_of(device, Channel.METER)
    assert meter.state == LinkState.REJECTED and "requires a location" in meter.last_error
    assert wattcarbon_current.app.state["meters"] == {}


# --- a switch of profile -------------------------------------------------------------------------
def test_a_switch_from_quickstart_creates_meter_and_asset_and_sends_every_month_again(
    org, wattcarbon, wattcarbon_current
):
    connection = services.save_connection(
        Connection(organization=org, platform="wattcarbon", base_url=wattcarbon.base_url),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    device = new_device(org, commenced_operation_date=date(2025, 1, 1))
    store_readings(device, datetime(2025, 1, 1, tzinfo=UTC), 24 * 40)
    settle(org)
    quickstart = links_of(device)
    assert set(quickstart) == {Channel.RECORD, Channel.TIMESERIES}
    device_id = quickstart[Channel.RECORD].remote_id
    assert SyncChunk.objects.filter(link=quickstart[Channel.TIMESERIES]).count() == 2

    plan = services.plan_profile_switch(connection, Profile.CURRENT)
    assert {link.channel for link in plan.recreated} == {Channel.RECORD, Channel.TIMESERIES}
    assert not plan.kept

    connection.profile = Profile.CURRENT
    connection.base_url = wattcarbon_current.base_url
    services.save_connection(connection, username=SANDBOX_EMAIL, password=SANDBOX_API_KEY)
    settle(org)

    links = links_of(device)
    asset, meter, intervals = links[Channel.RECORD], links[Channel.METER], links[Channel.TIMESERIES]
    assert all(link.state == LinkState.SYNCED for link in links.values())
    assert asset.former_remote_ids == {"quickstart": device_id}
    assert asset.remote_id.startswith("ast_") and intervals.remote_id == meter.remote_id
    # The quickstart's chunks did not carry over: every stored month went to the new meter.
    assert len(wattcarbon_current.app.state["intervals"][meter.remote_id]) == 24 * 40
    assert sorted(SyncChunk.objects.filter(link=intervals).values_list("key", flat=True)) == [
        "2025-01",
        "2025-02",
    ]
    assert len(wattcarbon.app.state["devices"]) == 1  # the quickstart device is left as it was


def test_connecting_under_the_current_profile_sends_readings_stored_before(org, wattcarbon_current):
    device = new_device(org)
    store_readings(device, datetime(2025, 5, 1, tzinfo=UTC), 10)
    services.save_connection(
        Connection(
            organization=org,
            platform="wattcarbon",
            base_url=wattcarbon_current.base_url,
            profile=Profile.CURRENT,
        ),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    settle(org)
    intervals = link_of(device, Channel.TIMESERIES)
    assert intervals.state == LinkState.SYNCED
    assert len(wattcarbon_current.app.state["intervals"][intervals.remote_id]) == 10


@pytest.mark.django_db(transaction=True)
def test_in_process_tasks_finish_a_new_device_without_waiting_for_the_sweep(
    org, wattcarbon_current, wattcarbon_current_connection, settings
):
    # In-process tasks (make run) run the meter inside the asset's run, which waited for it: the
    # asset must run at once, not 30 s later when the sweep comes by.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    device = new_device(org)
    links = links_of(device)
    assert {link.channel: link.state for link in links.values()} == {
        Channel.METER: LinkState.SYNCED,
        Channel.RECORD: LinkState.SYNCED,
        Channel.TIMESERIES: LinkState.SYNCED,
    }
