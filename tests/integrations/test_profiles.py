"""Contract profiles: a connection speaks `quickstart` or `current`, adapters are chosen by
(platform, profile), and switching a connection's profile never loses a link."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from integrations import engine, services
from integrations.adapters import base
from integrations.adapters.wattcarbon import WattCarbonDevice
from integrations.models import Channel, Connection, LinkState, Profile, Unsent, UpstreamLink
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db


class CurrentDevice(WattCarbonDevice):
    """A stand-in for a current-profile adapter of the same records (created with the same call:
    the profile machinery is what is under test, not the payload)."""

    profiles = frozenset({Profile.CURRENT})
    keeps_ids_from: frozenset[str] = frozenset()

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        # Another record upstream: WattCarbon refuses a second device with the same custom id.
        return super().payload(record, parent_remote_id) | {"customId": f"{record.custom_id}-c"}


class CurrentDeviceSameRecord(WattCarbonDevice):
    profiles = frozenset({Profile.CURRENT})
    keeps_ids_from = frozenset({Profile.QUICKSTART})


@pytest.fixture
def without_current_wattcarbon() -> Iterator[None]:
    """WattCarbon's real current adapters set aside (they are tested in test_wattcarbon_current*):
    the framework is what is under test here."""
    real = [
        a for a in base.ADAPTERS if a.platform == "wattcarbon" and Profile.CURRENT in a.profiles
    ]
    for each in real:
        base.ADAPTERS.remove(each)
    yield
    base.ADAPTERS.extend(real)


@pytest.fixture
def current_adapter(request, without_current_wattcarbon) -> Iterator[base.Adapter[Any]]:
    adapter = getattr(request, "param", CurrentDevice)()
    base.ADAPTERS.append(adapter)
    yield adapter
    base.ADAPTERS.remove(adapter)


def link_of(record) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="wattcarbon",
        channel=Channel.RECORD,
    )


def synced_device(org, name="Roof array") -> tuple[Device, UpstreamLink]:
    device = DeviceFactory.build(
        organization=org,
        home=HomeFactory(organization=org),
        name=name,
        custom_id=name.replace(" ", "-"),
        commenced_operation_date=date(2024, 1, 1),
    )
    device = device_services.save_device(device)
    engine.run_link(link_of(device).pk, ignore_schedule=True)
    link = link_of(device)
    assert link.state == LinkState.SYNCED and link.profile == Profile.QUICKSTART
    return device, link


def switch(connection: Connection, profile: str) -> Connection:
    connection.profile = profile
    return services.save_connection(connection)


def test_a_new_connection_speaks_the_quickstart_contract(org, wattcarbon_connection):
    assert wattcarbon_connection.profile == Profile.QUICKSTART


@pytest.mark.parametrize("current_adapter", [CurrentDeviceSameRecord], indirect=True)
def test_a_switch_keeps_remote_ids_the_two_profiles_share(
    org, wattcarbon, wattcarbon_connection, current_adapter
):
    device, link = synced_device(org)
    plan = services.plan_profile_switch(wattcarbon_connection, Profile.CURRENT)
    assert [kept.pk for kept in plan.kept] == [link.pk] and not plan.recreated

    switch(wattcarbon_connection, Profile.CURRENT)
    moved = link_of(device)
    assert moved.profile == Profile.CURRENT and moved.remote_id == link.remote_id
    assert moved.state == LinkState.PENDING
    engine.run_link(moved.pk, ignore_schedule=True)
    moved.refresh_from_db()
    assert moved.state == LinkState.SYNCED and moved.remote_id == link.remote_id
    assert len(wattcarbon.app.state["devices"]) == 1  # updated, not created again


def test_a_switch_recreates_records_the_profiles_do_not_share_and_keeps_the_old_id(
    org, wattcarbon, wattcarbon_connection, current_adapter, admin_client_
):
    device, link = synced_device(org, name="Garage array")
    page = admin_client_.get(reverse("connection_edit", args=["wattcarbon"]))
    text = page.content.decode()
    assert "If you switch to the current profile" in text
    assert "1 record will be created again" in text and "Garage array" in text
    assert link.remote_id in text

    switch(wattcarbon_connection, Profile.CURRENT)
    moved = link_of(device)
    assert moved.remote_id == "" and moved.former_remote_ids == {"quickstart": link.remote_id}
    assert moved.state == LinkState.PENDING and moved.payload_hash == ""
    engine.run_link(moved.pk, ignore_schedule=True)
    moved.refresh_from_db()
    assert moved.state == LinkState.SYNCED and moved.remote_id not in ("", link.remote_id)

    # Back to quickstart: the record takes back the id it has there, and keeps the other aside.
    plan = services.plan_profile_switch(wattcarbon_connection, Profile.QUICKSTART)
    assert [restored.pk for restored in plan.restored] == [link.pk]
    switch(wattcarbon_connection, Profile.QUICKSTART)
    back = link_of(device)
    assert back.remote_id == link.remote_id
    assert back.former_remote_ids == {"current": moved.remote_id}


def test_a_record_with_no_place_in_the_new_profile_keeps_its_link(
    org, wattcarbon, wattcarbon_connection, without_current_wattcarbon
):
    device, link = synced_device(org)
    plan = services.plan_profile_switch(wattcarbon_connection, Profile.CURRENT)
    assert [unplaced.pk for unplaced in plan.unplaced] == [link.pk]
    switch(wattcarbon_connection, Profile.CURRENT)
    engine.run_link(link.pk, ignore_schedule=True)
    kept = link_of(device)  # not deleted
    assert kept.remote_id == link.remote_id and kept.profile == Profile.QUICKSTART
    assert kept.state == LinkState.SYNCED and kept.unsent == Unsent.NOT_ACCEPTED
    assert "current profile" in kept.unsent_note and "quickstart" in kept.unsent_note
    # A change made meanwhile is not sent under the current profile either.
    device.name = "Renamed"
    device_services.save_device(device)
    engine.run_link(link.pk, ignore_schedule=True)
    assert wattcarbon.app.state["devices"][link.remote_id]["device"]["name"] != "Renamed"


def test_a_profile_changed_outside_the_service_moves_the_link_when_it_runs(
    org, wattcarbon, wattcarbon_connection, current_adapter
):
    device, link = synced_device(org)
    Connection.objects.filter(pk=wattcarbon_connection.pk).update(profile=Profile.CURRENT)
    UpstreamLink.objects.filter(pk=link.pk).update(state=LinkState.PENDING)
    engine.run_link(link.pk, ignore_schedule=True)
    moved = link_of(device)
    assert moved.profile == Profile.CURRENT and moved.state == LinkState.SYNCED
    assert moved.former_remote_ids == {"quickstart": link.remote_id}
    assert moved.remote_id != link.remote_id


def test_the_form_and_the_page_name_the_profile(org, wattcarbon_connection, admin_client_):
    form = admin_client_.get(reverse("connection_edit", args=["wattcarbon"])).content.decode()
    assert 'name="profile" value="current"' in form
    assert "The API the platform publishes today" in form
    response = admin_client_.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {"profile": "current", "base_url": wattcarbon_connection.base_url, "enabled": "on"},
    )
    assert response.status_code == 302
    wattcarbon_connection.refresh_from_db()
    assert wattcarbon_connection.profile == Profile.CURRENT
    page = admin_client_.get(reverse("integrations")).content.decode()
    assert "Current profile" in page and "The API the platform publishes today" in page


def test_a_post_without_a_profile_keeps_the_connections(org, wattcarbon_connection, admin_client_):
    Connection.objects.filter(pk=wattcarbon_connection.pk).update(profile=Profile.CURRENT)
    admin_client_.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {"base_url": wattcarbon_connection.base_url, "enabled": "on"},
    )
    wattcarbon_connection.refresh_from_db()
    assert wattcarbon_connection.profile == Profile.CURRENT


def test_connect_sets_the_profile(org, wattcarbon_connection, capsys):
    call_command("connect", "--org", org.slug, "--platform", "wattcarbon", "--profile", "current")
    wattcarbon_connection.refresh_from_db()
    assert wattcarbon_connection.profile == Profile.CURRENT
    call_command("connect", "--org", org.slug, "--platform", "wattcarbon")
    wattcarbon_connection.refresh_from_db()
    assert wattcarbon_connection.profile == Profile.CURRENT  # not given: kept
