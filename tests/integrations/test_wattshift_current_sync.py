"""Homes to WattShift's current API through the engine, in the in-process sandbox: solar with the
home, changes as updates, a switch from the quickstart, a lost create, refused credentials, the
utility directory in both answer shapes."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.directory import lookup_utilities
from homes.forms import HomeForm
from homes.models import Home, RatePlan
from integrations import engine, services
from integrations.models import Connection, LinkState, Profile, Unsent, UpstreamLink
from integrations.profiles import plan_switch
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def new_home(org, zip_code: str = "95313", name: str = "Sunny home") -> Home:
    utility = lookup_utilities(org, zip_code).utilities[0]
    return home_services.save_home(
        Home(
            organization=org,
            customer=CustomerFactory(organization=org),
            name=name,
            zip_code=zip_code,
            utility=utility,
            rate_plan=utility.rate_plans.first(),
            has_ac=True,
            ac_type="central",
        )
    )


def add_solar(home: Home, size_kw: str = "7.6", *, net_metered: bool = True) -> Device:
    return device_services.save_device(
        Device(
            organization=home.organization,
            home=home,
            kind="solar",
            name="Array",
            custom_id=f"S-{home.pk}",
            details={"nameplate_capacity_kw": size_kw, "net_metered": net_metered},
        )
    )


def links_of(record) -> list[UpstreamLink]:
    return list(
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record),
            object_id=record.pk,
            platform="wattshift",
        )
    )


def link(record) -> UpstreamLink:
    (only,) = links_of(record)
    return only


def posts(emulator) -> list[str]:
    return [path for method, path, status in emulator.calls if method == "POST"]


def switch(org, profile: str) -> Connection:
    connection = Connection.objects.get(organization=org, platform="wattshift")
    connection.profile = profile
    return services.save_connection(connection)


def test_it_creates_a_home_with_its_solar_in_one_call(org, wattshift_current):
    home = new_home(org)
    solar = add_solar(home, "7.6", net_metered=False)
    engine.sync_now(org.pk)
    home_link = link(home)
    assert home_link.state == LinkState.SYNCED and home_link.profile == Profile.CURRENT
    assert posts(wattshift_current)[-1] == "/v1/homes/create"
    assert "/v1/homes/solar/create" not in posts(wattshift_current)
    stored = wattshift_current.state["homes"][home_link.remote_id]
    assert "hasAC" not in stored and "acType" not in stored
    solar_info = wattshift_current.state["solar"][home_link.remote_id]
    assert solar_info["solarSystemSizeKw"] == 7.6 and solar_info["isNonNetMetered"] is True
    assert links_of(solar) == []  # solar is fields of its home here, not a record of its own


def test_it_sends_changes_and_solar_added_later_as_updates(org, wattshift_current):
    home = new_home(org)
    engine.sync_now(org.pk)
    home_link = link(home)
    home_id = home_link.remote_id
    assert home_id not in wattshift_current.state["solar"]

    home.name = "Renamed home"
    home_services.save_home(home)
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    assert posts(wattshift_current)[-1] == f"/v1/homes/{home_id}/update"
    assert home_link.state == LinkState.SYNCED and home_link.unsent == ""
    assert wattshift_current.state["homes"][home_id]["name"] == "Renamed home"

    solar = add_solar(home, "5")
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    assert home_link.state == LinkState.SYNCED and home_link.remote_id == home_id
    assert wattshift_current.state["solar"][home_id]["solarSystemSizeKw"] == 5
    assert wattshift_current.state["solar"][home_id]["isNonNetMetered"] is False

    solar.details = {**solar.details, "nameplate_capacity_kw": "6.5"}
    device_services.save_device(solar)
    engine.sync_now(org.pk)
    assert wattshift_current.state["solar"][home_id]["solarSystemSizeKw"] == 6.5
    assert posts(wattshift_current).count("/v1/homes/create") == 1


def test_a_switch_keeps_the_home_sends_an_update_and_keeps_the_solar_link_aside(
    org, wattshift, sandbox, owner_client
):
    home = new_home(org)
    solar = add_solar(home, "7.6")
    engine.sync_now(org.pk)
    home_link, solar_link = link(home), link(solar)
    home_id = home_link.remote_id
    assert home_link.state == solar_link.state == LinkState.SYNCED
    assert solar_link.remote_id == home_id  # the quickstart's solar call answers the home id

    connection = Connection.objects.get(organization=org, platform="wattshift")
    plan = plan_switch(connection, Profile.CURRENT)
    assert plan.kept == [home_link] and plan.unplaced == [solar_link] and not plan.recreated

    switch(org, Profile.CURRENT)
    current = sandbox.emulator("wattshift", Profile.CURRENT)
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    solar_link.refresh_from_db()
    assert home_link.remote_id == home_id and home_link.profile == Profile.CURRENT
    assert home_link.state == LinkState.SYNCED and home_link.unsent == ""
    assert posts(current) == [f"/v1/homes/{home_id}/update"]  # the same home, no create
    assert "hasAC" in current.state["homes"][home_id]  # made through the quickstart API
    # Kept for the quickstart with its id, and said to be sent no more under this profile.
    assert solar_link.profile == Profile.QUICKSTART and solar_link.remote_id == home_id
    assert solar_link.state == LinkState.SYNCED and solar_link.unsent == Unsent.NOT_ACCEPTED
    assert "kept for the quickstart profile" in solar_link.unsent_note
    page = owner_client.get(solar.get_absolute_url()).content.decode()
    assert "(kept for the quickstart profile).<" in page  # one full stop, not two

    switch(org, Profile.QUICKSTART)  # and back: nothing is created again
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    solar_link.refresh_from_db()
    assert home_link.remote_id == solar_link.remote_id == home_id
    assert solar_link.unsent == "" and solar_link.state == LinkState.SYNCED
    assert posts(wattshift).count("/v1/homes/create") == 1


def test_a_lost_create_answer_waits_in_doubt_and_never_creates_twice(org, wattshift_current):
    home = new_home(org)
    wattshift_current.drop_answers(1, path="/v1/homes/create")
    engine.sync_now(org.pk)
    home_link = link(home)
    assert home_link.state == LinkState.IN_DOUBT and home_link.remote_id == ""
    assert home_link.create_payload["name"] == "Sunny home"
    engine.sync_now(org.pk)
    assert len(wattshift_current.state["homes"]) == 1
    assert posts(wattshift_current).count("/v1/homes/create") == 1


@pytest.mark.parametrize(
    "status", ["expired", "revoked", "insufficient_scope", "production_denied"]
)
def test_refused_credentials_pause_the_home_until_the_connection_is_saved(
    org, wattshift_current, status
):
    home = new_home(org)
    wattshift_current.set_key_status("sandbox-wattshift-key", status)
    engine.sync_now(org.pk)
    home_link = link(home)
    assert home_link.state == LinkState.PENDING
    assert home_link.paused and home_link.paused_for_credentials
    assert "saved again" in home_link.last_error and "WattShift suggests" in home_link.last_error
    assert engine.sync_now(org.pk) and not wattshift_current.state["homes"]  # nothing retried

    wattshift_current.set_key_status("sandbox-wattshift-key", "")
    services.save_connection(Connection.objects.get(organization=org, platform="wattshift"))
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    assert home_link.state == LinkState.SYNCED and not home_link.paused


def test_a_home_of_another_client_is_rejected_not_paused(org, wattshift_current):
    home = new_home(org)
    engine.sync_now(org.pk)
    home_link = link(home)
    wattshift_current.state["homes"][home_link.remote_id]["owner"] = "someone-else"
    home.name = "Renamed"
    home_services.save_home(home)
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    assert home_link.state == LinkState.REJECTED and not home_link.paused
    assert home_link.last_status_code == 403 and "another client" in home_link.last_error


def test_it_honours_retry_after_seconds(org, wattshift_current):
    home = new_home(org)
    wattshift_current.faults.fail_next, wattshift_current.faults.status = 1, 429
    outcome = engine.run_link(link(home).pk)
    assert outcome.state == LinkState.PENDING and outcome.retry_in_s == 1


def test_both_answer_shapes_store_the_plans_and_the_current_one_their_references(
    org, wattshift, sandbox
):
    older = lookup_utilities(org, "95313").utilities[0]
    plans: dict[str, Any] = {p.ws_rate_plan_id: p.rate_reference for p in older.rate_plans.all()}
    assert plans and set(plans.values()) == {""}  # `wsRatePlans`: no rateID to keep

    switch(org, Profile.CURRENT)
    current = lookup_utilities(org, "95313", refresh=True).utilities[0]
    assert current.pk == older.pk
    references = {p.ws_rate_plan_id: p.rate_reference for p in current.rate_plans.all()}
    assert references.keys() == plans.keys() and all(references.values())
    tou_c = RatePlan.objects.get(ws_rate_plan_id="ws_rp_ca_pge_tou_c")
    assert tou_c.rate_reference == "TOU-C" and tou_c.supported_type == "RESIDENTIAL"


def test_the_home_form_shows_each_plans_rate_reference(org, wattshift_current):
    home = new_home(org, zip_code="10001")  # Con Edison: plan names without their codes
    form = HomeForm(instance=home, organization=org)
    labels = [label for value, label in form.fields["rate_plan"].choices if value]
    plan = home.rate_plan
    assert plan is not None and plan.rate_reference
    assert f"{plan.name} (rate {plan.rate_reference})" in labels


def test_the_home_page_draws_prices_imports_and_exports(org, wattshift_current, owner_client):
    home = new_home(org)
    add_solar(home, "6", net_metered=False)
    engine.sync_now(org.pk)
    response = owner_client.get(reverse("home_prices", args=[home.pk]))
    chart = response.context["chart"]
    assert len(chart["price"]) == len(chart["exports"]) == 96
    assert any(e < p for e, p in zip(chart["exports"], chart["price"], strict=True))
    # The sandbox imports at the retail price: said, not drawn over the price line.
    assert chart["imports"] == [] and response.context["same_as_price"] == ["import"]
    page = response.content.decode()
    assert "export rate: what a kWh sent to the grid earns" in page
    assert "The import rate is the price all day" in page


def test_the_price_chart_reads_the_segments_when_the_arrays_are_missing(
    org, wattshift_current, owner_client
):
    home = new_home(org)
    engine.sync_now(org.pk)
    wattshift_current.price_array_names = ("unused_imports", "unused_exports")
    response = owner_client.get(reverse("home_prices", args=[home.pk]))
    chart = response.context["chart"]
    assert chart["imports"] == chart["exports"] == []  # read from the segments, and said:
    assert response.context["same_as_price"] == ["import"]
    assert response.context["zero_all_day"] == ["export"]  # no solar: nothing earned
    assert "The export rate is 0 all day." in response.content.decode()


def test_the_wizard_plan_step_shows_each_plans_rate_reference(
    org, wattshift_current, member_client
):
    response = member_client.post(
        "/homes/new/",
        {"home_wizard-current_step": "zip", "zip-zip_code": "10001"},
        follow=True,
    )
    page = response.content.decode()
    assert "SC1 Rate III Time-of-Use" in page
    assert 'rate <span class="mono">SC1-TOU</span>' in page
