"""A Spark connection switched from quickstart to current and back, end to end in the sandbox
(`make run`'s in-process emulators, one per profile): which records keep their ids (none: the
quickstart's users and meters have ids Spark made), which are registered again, which stay linked
for the quickstart only (meters, charge reports), and that both report pages keep working."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from integrations import engine, services
from integrations.models import Connection, LinkState, Profile, UpstreamLink
from integrations.sandbox.registry import SANDBOX_CREDENTIALS
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db


def link(record) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="spark",
    )


def switch(connection: Connection, profile: str) -> None:
    connection.profile = profile
    services.save_connection(connection)
    engine.sync_now(connection.organization_id)


def test_a_switch_registers_every_record_again_under_our_ids_and_back_restores_the_old_ones(
    org, sandbox, admin_client_, member_client
):
    home = HomeFactory(organization=org, latitude="59.91", longitude="10.75")
    meter = MeterFactory(organization=org, home=home, meter_number="M-1", meter_point_id="707-9")
    vehicle = DeviceFactory(
        organization=org,
        home=home,
        kind="vehicle",
        name="Family car",
        details={"brand": "Tesla", "model": "Model 3", "year": 2022, "vin": "5YJ3E1EA2KF317000"},
    )
    tank = DeviceFactory(
        organization=org,
        home=home,
        kind="hot_water_tank",
        name="Tank",
        details={
            "brand": "OSO",
            "model": "Saga",
            "capacity_l": 200,
            "heating_elements_w": [2000, 1000],
        },
    )
    connection = services.save_connection(
        Connection(organization=org, platform="spark"), **SANDBOX_CREDENTIALS["spark"]
    )
    engine.sync_now(org.pk)
    quickstart = sandbox.emulator("spark")
    before = {record: link(record).remote_id for record in (home.customer, meter, vehicle, tank)}
    assert all(before.values()), [link(r).last_error for r in before]
    assert len(quickstart.state["users"]) == 1
    report = services.create_charge_report(
        vehicle=vehicle,
        event=None,
        name="Start",
        action="Start",
        power_w=7400,
        state_of_charge=0.4,
        battery_capacity_wh=75000,
    )
    engine.sync_now(org.pk)
    assert link(report).state == LinkState.SYNCED

    # What the connection page says a switch will do: nothing keeps its id.
    plan = services.plan_profile_switch(connection, Profile.CURRENT)
    assert not plan.kept
    assert {moved.pk for moved in plan.recreated} == {
        link(r).pk for r in (home.customer, vehicle, tank)
    }
    assert {kept.pk for kept in plan.unplaced} == {link(meter).pk, link(report).pk}
    page = admin_client_.get(reverse("connection_edit", args=["spark"])).content.decode()
    assert "3 records will be created again" in page

    switch(connection, Profile.CURRENT)
    current = sandbox.emulator("spark", "current")
    user_id = f"gridfolio-{org.pk}-customer-{home.customer.pk}"
    assert list(current.state["users"]) == [user_id]
    assert link(home.customer).remote_id == user_id
    assert link(home.customer).former_remote_ids == {"quickstart": before[home.customer]}
    location = current.state["locations"][link(home).remote_id]
    assert location["meterPointIds"] == ["707-9"] and location["userId"] == user_id
    assert current.state["resources"][link(tank).remote_id]["resourceType"] == "HotWaterTank"
    assert current.state["resources"][link(vehicle).remote_id]["resourceType"] == "Vehicle"
    for record in (home.customer, home, vehicle, tank):
        assert link(record).state == LinkState.SYNCED and link(record).profile == "current"
    # Kept, with the quickstart's ids, and shown as not sent under this profile.
    for record in (meter, report):
        kept = link(record)
        assert kept.remote_id == before.get(record, kept.remote_id) and kept.remote_id
        assert kept.unsent == "not_accepted" and "kept for the quickstart" in kept.unsent_note
    assert len(quickstart.state["users"]) == 1  # nothing sent to the quickstart meanwhile

    # Both report pages: charge reports stay on the vehicle, energy usage reports appear.
    vehicle_page = member_client.get(vehicle.get_absolute_url()).content.decode()
    assert "Charge reports to Spark" in vehicle_page
    assert "Energy usage reports to Spark" in vehicle_page
    charge_url = reverse("charge_report", args=[vehicle.pk])
    assert charge_url not in vehicle_page  # not offered: the current profile cannot send one

    # Back: every record takes back its quickstart id; nothing is created there again.
    switch(connection, Profile.QUICKSTART)
    for record in (home.customer, meter, vehicle, tank):
        assert link(record).remote_id == before[record]
        assert link(record).state == LinkState.SYNCED, link(record).last_error
    assert link(home.customer).former_remote_ids == {"current": user_id}
    assert len(quickstart.state["users"]) == 1
    assert charge_url in member_client.get(vehicle.get_absolute_url()).content.decode()
    assert member_client.get(charge_url).status_code == 200
    tank_page = member_client.get(tank.get_absolute_url()).content.decode()
    assert "Energy usage reports to Spark" not in tank_page  # none sent, not the profile's


def test_the_sandbox_emit_button_runs_the_price_curve_simulation_under_current(
    org, sandbox, admin_client_
):
    home = HomeFactory(organization=org)
    charger = DeviceFactory(organization=org, home=home, kind="ev_charger", details={"power_kw": 7})
    services.save_connection(
        Connection(organization=org, platform="spark", profile="current"),
        **SANDBOX_CREDENTIALS["spark"],
    )
    engine.sync_now(org.pk)
    current = sandbox.emulator("spark", "current")
    delivered: list[bytes] = []
    current.deliver = lambda url, body, headers: delivered.append(body) or 200
    current.background = False
    services.register_spark_webhook(org, notification_types=["PriceCurveCreated"])
    answer = admin_client_.post(reverse("sandbox_emit_price_event"))
    assert answer.status_code == 302
    [event] = current.state["events"]
    assert event["payload"]["targets"] == [
        {"resourceId": link(charger).remote_id, "locationId": link(home).remote_id}
    ]
    assert event["tenant"] == f"org-{org.pk}" and len(delivered) == 1
