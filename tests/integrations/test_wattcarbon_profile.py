"""WattCarbon's quickstart profile: only the documented kinds go out (solar, electrification); a
battery, a demand-response or an EV-charger device is shown as not accepted, and nothing is sent.
An enum value that is our assumption and that the platform refuses is shown in its words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from integrations import engine
from integrations.models import Channel, LinkState, SyncAttempt, Unsent, UpstreamLink
from integrations.sandbox import wattcarbon as emulator_module
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db

UNDOCUMENTED = {
    "battery": {"capacity_kwh": "13.5", "power_kw": "5"},
    "demand_response": {"program_name": "Peak saver", "max_reduction_kw": "2"},
    "ev_charger": {"power_kw": "7.2"},
}


def new_device(org, kind: str = "solar", **kwargs) -> Device:
    device = DeviceFactory.build(
        organization=org, home=HomeFactory(organization=org), kind=kind, **kwargs
    )
    if kind in UNDOCUMENTED:
        device.details = dict(UNDOCUMENTED[kind])
    elif kind == "electrification" and "details" not in kwargs:
        device.details = {"area_sqft": 1800, "previous_fuel": "natural_gas"}
    return device_services.save_device(device)


def wattcarbon_links(record) -> list[UpstreamLink]:
    return list(
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
            platform="wattcarbon",
        )
    )


@pytest.mark.parametrize("kind", sorted(UNDOCUMENTED))
def test_it_sends_nothing_for_a_kind_the_quickstart_does_not_document(
    org, wattcarbon, wattcarbon_connection, kind
):
    device = new_device(org, kind)

    engine.sync_now(org.pk)

    [link] = wattcarbon_links(device)  # the record link only: no timeseries without a device
    assert link.channel == Channel.RECORD
    assert link.state == LinkState.SYNCED and link.unsent == Unsent.NOT_ACCEPTED
    assert link.unsent_note.startswith("not accepted by WattCarbon in this profile")
    assert not link.remote_id and not link.last_error and link.synced_at is None
    assert wattcarbon.app.calls == []  # not even a token
    assert not SyncAttempt.objects.filter(link=link).exists()


def test_it_marks_no_readings_of_an_undocumented_kind_for_wattcarbon(
    org, wattcarbon, wattcarbon_connection
):
    battery = new_device(org, "battery")

    marked = engine.mark_readings_changed(
        battery, datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)
    )

    assert marked == []
    assert not UpstreamLink.objects.filter(channel=Channel.TIMESERIES).exists()


def test_it_still_sends_the_documented_kinds(org, wattcarbon, wattcarbon_connection):
    solar, heat_pump = new_device(org, "solar"), new_device(org, "electrification")
    new_device(org, "battery")

    engine.sync_now(org.pk)

    kinds = sorted(entry["device"]["kind"] for entry in wattcarbon.app.state["devices"].values())
    assert kinds == ["electrification", "solar"]
    for device in (solar, heat_pump):
        link = next(link for link in wattcarbon_links(device) if link.channel == Channel.RECORD)
        assert link.state == LinkState.SYNCED and link.remote_id and not link.unsent


def test_it_shows_the_device_as_not_sent_on_its_page(
    org, wattcarbon, wattcarbon_connection, member_client
):
    battery = new_device(org, "battery")
    engine.sync_now(org.pk)

    page = member_client.get(reverse("device_detail", args=[battery.pk])).content.decode()

    assert "Not sent" in page
    assert "Not accepted by WattCarbon in this profile" in page
    assert "Synced</span>" not in page and "Rejected" not in page and "Failed" not in page


def test_it_counts_not_sent_devices_apart_on_the_integrations_board(
    org, wattcarbon, wattcarbon_connection, owner_client
):
    new_device(org, "solar")
    new_device(org, "battery")
    new_device(org, "ev_charger")
    engine.sync_now(org.pk)

    response = owner_client.get(reverse("integrations"))

    [row] = [row for row in response.context["rows"] if row["platform"] == "wattcarbon"]
    assert row["counts"]["not_accepted"] == 2
    assert row["counts"]["synced"] == 1  # the solar device; its timeseries has nothing yet
    assert row["counts"]["rejected"] == row["counts"]["failed"] == 0
    assert "Not sent" in response.content.decode()


def test_it_sends_the_device_and_drops_the_note_once_it_is_a_documented_kind(
    org, wattcarbon, wattcarbon_connection
):
    device = new_device(org, "battery")
    engine.sync_now(org.pk)
    Device.objects.filter(pk=device.pk).update(kind="solar", details={"nameplate_capacity_kw": 5.0})

    engine.retry_links([link.pk for link in wattcarbon_links(device)])
    engine.sync_now(org.pk)

    [link] = [link for link in wattcarbon_links(device) if link.channel == Channel.RECORD]
    assert link.state == LinkState.SYNCED and link.remote_id
    assert link.unsent == "" and link.unsent_note == ""


def test_it_shows_an_assumed_value_the_platform_refuses_in_its_words(
    org, wattcarbon, wattcarbon_connection, member_client, monkeypatch
):
    # The seed shows one inverter source, `enphase`; `solaredge` is our assumption. A platform
    # that does not take it answers 422 naming the field and the values it takes.
    monkeypatch.setitem(emulator_module.ENUM_FIELDS, "inverterDataSource", ("enphase",))
    device = new_device(
        org, "solar", details={"nameplate_capacity_kw": 7.6, "inverter_data_source": "solaredge"}
    )

    engine.sync_now(org.pk)

    [link] = [link for link in wattcarbon_links(device) if link.channel == Channel.RECORD]
    assert link.state == LinkState.REJECTED and link.last_status_code == 422
    assert link.last_error == "inverterDataSource: Input should be 'enphase'"
    page = member_client.get(reverse("device_detail", args=[device.pk])).content.decode()
    assert (
        "WattCarbon refused it (422): inverterDataSource: Input should be &#x27;enphase&#x27;"
        in page
    )
