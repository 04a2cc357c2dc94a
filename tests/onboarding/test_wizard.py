"""The new-home wizard (/homes/new/): each step's server-side validation, the whole run to a home
with solar and a heat pump, what reaches WattShift and WattCarbon (the in-process sandbox
emulators), WattShift down during Create, and who may use it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from devices.models import Device
from homes.models import Customer, Home, RatePlan, Utility, ZipUtilities
from integrations import engine
from integrations.clients import forget_clients
from integrations.models import Connection, LinkState, UpstreamLink
from integrations.sandbox import registry
from integrations.services import save_connection
from tests.factories import CustomerFactory, DeviceFactory

pytestmark = pytest.mark.django_db

URL = "/homes/new/"
CURRENT_STEP = "home_wizard-current_step"  # formtools' management form, prefixed by the view name
AMBIGUOUS_ZIP = "01040"  # Holyoke, MA: the sandbox has National Grid and Eversource serve it


# --- fixtures and helpers -------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def sandbox(settings, tmp_path) -> Iterator[None]:
    """Fresh in-process emulators whose state file lives in tmp_path."""
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    yield
    registry.reset_all()
    forget_clients()


@pytest.fixture
def connected(org) -> list[Connection]:
    """The organization's WattShift and WattCarbon connections, to the in-process sandbox."""
    return [
        save_connection(
            Connection(organization=org, platform=platform, base_url=""),
            **registry.SANDBOX_CREDENTIALS[platform],
        )
        for platform in ("wattshift", "wattcarbon")
    ]


def wattshift() -> Any:
    return registry.emulator("wattshift")


def wattcarbon() -> Any:
    return registry.emulator("wattcarbon")


def submit(client: Client, step: str, data: dict[str, Any] | None = None, **extra: Any):
    """POST one step as the browser would (fields prefixed with the step name) and follow."""
    payload = {CURRENT_STEP: step, **extra}
    for name, value in (data or {}).items():
        if value is True:
            value = "on"
        if value is False or value is None:
            continue
        payload[f"{step}-{name}"] = value
    return client.post(URL, payload, follow=True)


def current_step(response) -> str:
    return response.context["wizard"]["steps"].current


def errors(response) -> dict[str, list[str]]:
    form = response.context["wizard"]["form"]
    return {name: list(messages) for name, messages in form.errors.items()}


def plans_of(zip_code: str) -> list[Utility]:
    return list(ZipUtilities.objects.get(zip_code=zip_code).utilities.all())


HOME = {
    "customer_mode": "new",
    "customer_name": "Maria Rivera",
    "customer_email": "maria@example.test",
    "customer_phone": "+1 209 555 0100",
    "name": "Rivera residence",
    "street": "12 Main St",
    "city": "Crows Landing",
    "state": "ca",
    "has_ev_charger": True,
    "has_electric_water_heater": "true",
    "has_ac": True,
    "ac_type": "central",
}
SOLAR = {
    "has_solar": True,
    "system_size_kw": "7.5",
    "net_metered": True,
    "inverter_data_source": "enphase",
    "inverter_data_id": "ENV-1234",
    "external_registry_name": "WREGIS",
    "external_registry_device_id": "W5678",
    "commenced_operation_date": "2024-05-01",
    "device_name": "Roof array",
    "custom_id": "SOLAR-RIVERA",
}
HEAT_PUMP = {
    "has_heat_pump": True,
    "area_sqft": "1800",
    "previous_fuel": "natural_gas",
    "replaces_furnace": True,
    "effective_useful_life_years": "18",
    "building_type": "single_family_detached",
    "heating_backup_system": "electric_resistance",
    "heat_pump_hspf": "9.5",
    "commenced_operation_date": "2024-06-01",
    "custom_id": "HP-RIVERA",
}


def run_to(client: Client, last: str, *, zip_code: str = "95313", **overrides: dict) -> Any:
    """Fill the steps in order up to and including `last` (with PG&E's TOU-D for 95313)."""
    response = submit(client, "zip", {"zip_code": zip_code})
    if last == "zip":
        return response
    utility = plans_of(zip_code[:5])[0]
    plan = utility.rate_plans.order_by("pk").first()
    steps = [
        ("plan", overrides.get("plan", {"utility": utility.pk, "rate_plan": plan.pk})),
        ("home", overrides.get("home", HOME)),
        ("solar", overrides.get("solar", SOLAR)),
        ("heat_pump", overrides.get("heat_pump", HEAT_PUMP)),
    ]
    for step, data in steps:
        response = submit(client, step, data)
        assert errors(response) == {}, (step, errors(response))
        if step == last:
            break
    return response


# --- step 1: zip code -----------------------------------------------------------------------------
def test_it_starts_at_the_zip_code_step(member_client, connected):
    response = member_client.get(URL)
    assert response.status_code == 200
    assert current_step(response) == "zip"
    assert b"Step 1 of 6" in response.content


@pytest.mark.parametrize("bad", ["9531", "95313-12", "ABCDE", ""])
def test_it_refuses_a_malformed_zip_code(member_client, connected, bad):
    response = submit(member_client, "zip", {"zip_code": bad})
    assert current_step(response) == "zip"
    assert "zip_code" in errors(response)
    assert ("POST", "/v1/utility/get", 200) not in wattshift().calls


def test_it_accepts_zip_plus_four_and_nine_digits(member_client, connected):
    response = submit(member_client, "zip", {"zip_code": "953131234"})
    assert current_step(response) == "plan"
    assert b"95313-1234" in response.content


def test_it_refuses_a_zip_code_no_utility_serves(member_client, connected):
    response = submit(member_client, "zip", {"zip_code": "00000"})
    assert current_step(response) == "zip"
    assert errors(response)["zip_code"] == [
        "WattShift knows no utility serving 00000. Check the zip code."
    ]


def test_it_says_so_when_wattshift_is_not_connected_and_nothing_is_cached(member_client):
    response = submit(member_client, "zip", {"zip_code": "95313"})
    assert current_step(response) == "zip"
    [message] = errors(response)["zip_code"]
    assert "WattShift is not connected" in message
    assert "No earlier answer for 95313 is saved" in message


def test_it_says_so_when_wattshift_is_down_and_nothing_is_cached(member_client, connected):
    wattshift().faults.fail_next = 1
    response = submit(member_client, "zip", {"zip_code": "95313"})
    [message] = errors(response)["zip_code"]
    assert "WattShift did not answer" in message


def test_it_uses_a_stale_answer_with_a_notice_while_wattshift_is_down(
    member_client, connected, settings
):
    submit(member_client, "zip", {"zip_code": "95313"})
    ZipUtilities.objects.filter(zip_code="95313").update(
        fetched_at=timezone.now() - timedelta(seconds=settings.UTILITY_CACHE_MAX_AGE_S + 60)
    )
    wattshift().faults.fail_next = 1
    response = submit(member_client, "zip", {"zip_code": "95313"})
    assert current_step(response) == "plan"
    assert b"WattShift did not answer" in response.content
    assert b"Showing what it said on" in response.content
    assert b"Pacific Gas &amp; Electric" in response.content


def _member(client: Client):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


def test_it_shows_the_place_and_time_zone_of_the_zip(member_client, connected):
    response = submit(member_client, "zip", {"zip_code": "95313"})
    content = response.content.decode()
    assert "Crows Landing, CA" in content
    assert "America/Los_Angeles" in content


# --- step 2: utility and rate plan ----------------------------------------------------------------
def test_it_lists_the_rate_plans_of_the_only_utility_preselected(member_client, connected):
    response = submit(member_client, "zip", {"zip_code": "95313"})
    form = response.context["wizard"]["form"]
    [card] = form.cards()
    assert card.utility.name == "Pacific Gas & Electric" and card.checked
    assert [option.plan.name for option in card.plans] == ["E-1 (flat)", "E-6", "TOU-C", "TOU-D"]


def test_it_shows_every_utility_of_an_ambiguous_zip(member_client, connected):
    response = submit(member_client, "zip", {"zip_code": AMBIGUOUS_ZIP})
    lookup = response.context["place"]["lookup"]
    assert lookup.is_ambiguous
    cards = response.context["wizard"]["form"].cards()
    assert {card.utility.name for card in cards} == {"National Grid", "Eversource Energy"}
    assert not any(card.checked for card in cards)  # the user must choose
    assert b"2 utilities serve 01040" in response.content


def test_it_refuses_a_rate_plan_of_another_utility(member_client, connected):
    submit(member_client, "zip", {"zip_code": AMBIGUOUS_ZIP})
    grid, eversource = sorted(plans_of(AMBIGUOUS_ZIP), key=lambda u: u.name != "National Grid")
    eversource_plan = eversource.rate_plans.first()
    response = submit(member_client, "plan", {"utility": grid.pk, "rate_plan": eversource_plan.pk})
    assert current_step(response) == "plan"
    [message] = errors(response)["rate_plan"]
    assert f"{eversource_plan.name} is a plan of Eversource Energy, not of National Grid" in message


def test_it_refuses_a_rate_plan_of_a_utility_that_does_not_serve_the_zip(
    member_client, connected, org
):
    submit(member_client, "zip", {"zip_code": AMBIGUOUS_ZIP})
    elsewhere = Utility.objects.create(
        organization=org, ws_utility_id="ws_util_elsewhere", name="Elsewhere Power"
    )
    foreign_plan = RatePlan.objects.create(utility=elsewhere, ws_rate_plan_id="x", name="X")
    grid = plans_of(AMBIGUOUS_ZIP)[0]
    response = submit(member_client, "plan", {"utility": grid.pk, "rate_plan": foreign_plan.pk})
    assert "not one of these utilities" in errors(response)["rate_plan"][0]
    response = submit(member_client, "plan", {"utility": elsewhere.pk})
    assert "does not serve this zip code" in errors(response)["utility"][0]


def test_it_forgets_the_chosen_plan_when_the_zip_code_changes(member_client, connected):
    run_to(member_client, "plan")
    response = submit(member_client, "zip", {"zip_code": AMBIGUOUS_ZIP})
    assert current_step(response) == "plan"
    assert errors(response) == {}  # an unbound form: nothing chosen yet, no stale PG&E plan
    assert not any(card.checked for card in response.context["wizard"]["form"].cards())


# --- step 3: customer and home --------------------------------------------------------------------
def test_it_prefills_city_and_state_from_the_zip(member_client, connected):
    response = run_to(member_client, "plan")
    form = response.context["wizard"]["form"]
    assert current_step(response) == "home"
    assert form["city"].value() == "Crows Landing" and form["state"].value() == "CA"


def test_it_requires_the_ac_type_when_ac_is_ticked(member_client, connected):
    run_to(member_client, "plan")
    response = submit(member_client, "home", {**HOME, "ac_type": ""})
    assert current_step(response) == "home"
    assert errors(response) == {
        "ac_type": ["Choose the AC type: WattShift needs it when there is AC."]
    }


def test_it_drops_the_ac_type_when_ac_is_not_ticked(member_client, connected):
    run_to(member_client, "plan")
    response = submit(member_client, "home", {**HOME, "has_ac": False, "ac_type": "window"})
    assert current_step(response) == "solar"


def test_it_requires_a_name_for_a_new_customer_and_a_choice_for_an_existing_one(
    member_client, connected, org
):
    CustomerFactory(organization=org)
    run_to(member_client, "plan")
    response = submit(member_client, "home", {**HOME, "customer_name": ""})
    assert errors(response) == {"customer_name": ["Enter the new customer's name."]}
    response = submit(member_client, "home", {**HOME, "customer_mode": "existing"})
    assert errors(response) == {"customer": ["Choose the customer, or pick “A new customer”."]}


def test_it_starts_with_the_customer_it_was_opened_for(member_client, connected, org, other_org):
    ours = CustomerFactory(organization=org)
    member_client.get(URL, {"customer": ours.pk})
    form = run_to(member_client, "plan").context["wizard"]["form"]
    assert form["customer_mode"].value() == "existing" and form["customer"].value() == ours.pk
    # Another organization's customer id is ignored.
    member_client.post(URL, {"wizard_restart": "1"})
    member_client.get(URL, {"customer": CustomerFactory(organization=other_org).pk})
    form = run_to(member_client, "plan").context["wizard"]["form"]
    assert form["customer"].value() is None


def test_it_offers_only_the_organizations_own_customers(
    member_client, outsider_client, connected, org, other_org
):
    ours = CustomerFactory(organization=org, name="Our customer")
    theirs = CustomerFactory(organization=other_org, name="Their customer")
    save_connection(
        Connection(organization=other_org, platform="wattshift", base_url=""),
        **registry.SANDBOX_CREDENTIALS["wattshift"],
    )
    response = run_to(outsider_client, "plan")
    choices = list(response.context["wizard"]["form"].fields["customer"].queryset)
    assert choices == [theirs]
    assert b"Our customer" not in response.content
    # Posting the other organization's customer by id is refused too.
    response = submit(
        outsider_client, "home", {**HOME, "customer_mode": "existing", "customer": ours.pk}
    )
    assert current_step(response) == "home"
    assert "customer" in errors(response)


# --- steps 4 and 5: solar and heat pump -----------------------------------------------------------
def test_it_requires_the_system_size_when_solar_is_ticked(member_client, connected):
    run_to(member_client, "home")
    response = submit(member_client, "solar", {"has_solar": True})
    assert current_step(response) == "solar"
    assert errors(response) == {
        "system_size_kw": ["Enter the system size: WattShift needs it for solar."]
    }


def test_it_ignores_the_solar_fields_when_solar_is_not_ticked(member_client, connected):
    run_to(member_client, "home")
    response = submit(member_client, "solar", {**SOLAR, "has_solar": False, "system_size_kw": "x"})
    assert current_step(response) == "heat_pump"


def test_it_refuses_a_custom_id_another_device_has(member_client, connected, org):
    DeviceFactory(organization=org, custom_id="solar-rivera")
    run_to(member_client, "home")
    response = submit(member_client, "solar", SOLAR)
    assert errors(response) == {
        "custom_id": ["Another device in your organization has this custom id."]
    }


def test_it_refuses_the_same_custom_id_for_the_heat_pump_and_the_solar(member_client, connected):
    run_to(member_client, "solar")
    response = submit(member_client, "heat_pump", {**HEAT_PUMP, "custom_id": "Solar-Rivera"})
    assert errors(response) == {
        "custom_id": ["The solar array of this home already has this custom id."]
    }


def test_it_checks_the_heat_pump_fields(member_client, connected):
    run_to(member_client, "solar")
    response = submit(
        member_client, "heat_pump", {**HEAT_PUMP, "heat_pump_hspf": "40", "custom_id": "bad id!"}
    )
    assert set(errors(response)) == {"heat_pump_hspf", "custom_id"}


# --- navigation: back, refresh, skipping ahead ----------------------------------------------------
def test_it_keeps_what_was_typed_when_going_back(member_client, connected):
    run_to(member_client, "home")
    # Typed on the solar step (not yet valid), then Back: nothing is lost.
    response = submit(
        member_client,
        "solar",
        {"has_solar": True, "inverter_data_id": "ENV-9"},
        wizard_goto_step="home",
    )
    assert current_step(response) == "home"
    assert response.context["wizard"]["form"]["name"].value() == "Rivera residence"
    response = submit(member_client, "home", HOME)
    form = response.context["wizard"]["form"]
    assert current_step(response) == "solar"
    assert form["inverter_data_id"].value() == "ENV-9" and form["has_solar"].value() is True


def test_it_shows_the_same_step_with_its_data_after_a_refresh(member_client, connected):
    run_to(member_client, "home")
    response = member_client.get(URL)  # the bare URL resumes where the draft is
    assert current_step(response) == "solar"
    assert response.context["resuming"]
    response = member_client.get(URL, {"step": "home"})  # the browser's back button
    assert current_step(response) == "home"
    assert response.context["wizard"]["form"]["customer_name"].value() == "Maria Rivera"
    assert not response.context["resuming"]


def test_it_does_not_let_a_step_be_reached_before_the_earlier_ones(member_client, connected):
    submit(member_client, "zip", {"zip_code": "95313"})
    response = member_client.get(URL, {"step": "review"}, follow=True)
    assert current_step(response) == "plan"
    response = submit(member_client, "heat_pump", HEAT_PUMP)
    assert current_step(response) == "plan"
    response = submit(member_client, "plan", {}, wizard_goto_step="review")
    assert current_step(response) == "plan"


def test_it_starts_over_on_request(member_client, connected):
    run_to(member_client, "home")
    response = member_client.post(URL, {"wizard_restart": "1"}, follow=True)
    assert current_step(response) == "zip"
    assert response.context["wizard"]["form"]["zip_code"].value() in (None, "")


# --- review and Create ----------------------------------------------------------------------------
def test_it_reviews_everything_with_an_edit_button_per_step(member_client, connected):
    response = run_to(member_client, "heat_pump")
    assert current_step(response) == "review"
    content = response.content.decode()
    for step in ("zip", "plan", "home", "solar", "heat_pump"):
        assert f'name="wizard_goto_step" value="{step}"' in content
    for text in ("Crows Landing, CA", "TOU-D", "Maria Rivera (new)", "Roof array", "HP-RIVERA"):
        assert text in content
    # Edit, then straight back to the review.
    response = submit(member_client, "review", wizard_goto_step="solar")
    assert current_step(response) == "solar"
    response = submit(
        member_client, "solar", {**SOLAR, "system_size_kw": "8"}, wizard_to_review="1"
    )
    assert current_step(response) == "review"
    [solar] = [s for s in response.context["sections"] if s["step"] == "solar"]
    assert ("System size (kW AC)", 8) in solar["rows"]
    assert ("Nameplate capacity (kW DC)", 8) in solar["rows"]


def test_it_creates_the_home_with_solar_and_heat_pump_and_syncs_them_parents_first(
    member_client, connected, org, django_capture_on_commit_callbacks
):
    run_to(member_client, "heat_pump")
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(member_client, "review")
    home = Home.objects.get(organization=org)
    assert response.redirect_chain[-1][0] == home.get_absolute_url()
    assert b"Rivera residence was created with its solar array and heat pump" in response.content
    # What is next is said: the new home has no meter yet.
    assert b"<strong>Next:</strong> add its meter" in response.content
    assert f'href="/meters/new/?home={home.pk}">Add its meter'.encode() in response.content

    assert home.customer.name == "Maria Rivera" and home.customer.email == "maria@example.test"
    assert (home.city, home.state, home.zip_code) == ("Crows Landing", "CA", "95313")
    assert home.timezone == "America/Los_Angeles"
    assert home.utility.name == "Pacific Gas & Electric" and home.rate_plan.name == "TOU-D"
    assert home.has_ev_charger and home.has_electric_water_heater is True
    assert home.has_ac and home.ac_type == "central"
    solar = Device.objects.get(home=home, kind="solar")
    assert solar.name == "Roof array" and solar.custom_id == "SOLAR-RIVERA"
    assert solar.commenced_operation_date == date(2024, 5, 1)
    assert solar.details["nameplate_capacity_kw"] == 7.5  # defaulted to the system size
    assert solar.details["system_size_kw"] == 7.5 and solar.details["net_metered"] is True
    heat_pump = Device.objects.get(home=home, kind="electrification")
    assert heat_pump.name == "Heat pump" and heat_pump.custom_id == "HP-RIVERA"
    assert heat_pump.details["effective_useful_life_years"] == 18
    assert heat_pump.details["replaces_furnace"] is True
    assert heat_pump.details["replaces_water_heater"] is False

    # WattShift: the home, then its solar (parent first), with the documented bodies.
    calls = [call for call in wattshift().calls if call[1] != "/v1/utility/get"]
    assert calls == [("POST", "/v1/homes/create", 200), ("POST", "/v1/homes/solar/create", 200)]
    [(ws_home_id, ws_home)] = wattshift().state["homes"].items()
    assert {key: ws_home[key] for key in ws_home if key not in ("id", "timezone", "createdAt")} == {
        "name": "Rivera residence",
        "zipcode": "95313",
        "utilityId": "ws_util_ca_pge",
        "ratePlanId": home.rate_plan.ws_rate_plan_id,
        "hasEvCharger": True,
        "hasElectricHeater": False,
        "hasSmartWaterHeater": False,
        "hasElectricWaterHeater": True,
        "hasAC": True,
        "acType": "central",
    }
    ws_solar = wattshift().state["solar"][ws_home_id]
    assert ws_solar["solarSystemSizeKw"] == 7.5 and ws_solar["isNonNetMetered"] is False

    # WattCarbon: both devices.
    sent = {
        entry["device"]["customId"]: entry["device"]
        for entry in wattcarbon().state["devices"].values()
    }
    assert sent["SOLAR-RIVERA"]["kind"] == "solar"
    assert float(sent["SOLAR-RIVERA"]["nameplateCapacityKw"]) == 7.5
    assert sent["SOLAR-RIVERA"]["inverterDataSource"] == "enphase"
    assert sent["SOLAR-RIVERA"]["externalRegistryName"] == "WREGIS"
    assert sent["SOLAR-RIVERA"]["commencedOperationDate"] == "2024-05-01"
    assert sent["SOLAR-RIVERA"]["deviceOwner"] == {"name": "Maria Rivera"}
    assert sent["HP-RIVERA"]["kind"] == "electrification"
    assert sent["HP-RIVERA"]["previousFuel"] == "natural_gas"
    assert sent["HP-RIVERA"]["effectiveUsefulLifeYears"] == 18
    assert set(UpstreamLink.objects.values_list("state", flat=True)) == {LinkState.SYNCED}

    # The wizard is reset: a new visit starts from the zip code.
    assert current_step(member_client.get(URL)) == "zip"


def test_it_creates_a_home_for_an_existing_customer_without_devices(member_client, connected, org):
    customer = CustomerFactory(organization=org)
    run_to(
        member_client,
        "heat_pump",
        home={**HOME, "customer_mode": "existing", "customer": customer.pk, "has_ac": False},
        solar={"has_solar": False},
        heat_pump={"has_heat_pump": False},
    )
    response = submit(member_client, "review")
    home = Home.objects.get(organization=org)
    assert response.redirect_chain[-1][0] == home.get_absolute_url()
    assert home.customer == customer and Customer.objects.count() == 1
    assert not home.devices.exists() and home.ac_type == ""


def test_it_creates_the_home_while_wattshift_is_down_and_syncs_it_later(
    member_client, connected, org, django_capture_on_commit_callbacks
):
    run_to(member_client, "heat_pump")
    wattshift().faults.fail_next = 5
    wattshift().faults.status = 503
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(member_client, "review")
    home = Home.objects.get(organization=org)
    assert response.redirect_chain[-1][0] == home.get_absolute_url()
    assert home.devices.count() == 2

    home_link = UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(Home), object_id=home.pk
    )
    assert home_link.state == LinkState.PENDING and home_link.last_status_code == 503
    solar_link = UpstreamLink.objects.get(
        platform="wattshift", content_type=ContentType.objects.get_for_model(Device)
    )
    assert solar_link.state == LinkState.PENDING and solar_link.waiting_for
    assert wattshift().state["homes"] == {}
    # WattCarbon was up: its devices went through regardless.
    assert len(wattcarbon().state["devices"]) == 2
    page = member_client.get(home.get_absolute_url()).content.decode()
    assert "Injected failure (503)" in page and "Pending" in page

    # Later: WattShift is back, the backoff has run out, and the sweep syncs home then solar.
    wattshift().faults.fail_next = 0
    UpstreamLink.objects.filter(state=LinkState.PENDING).update(next_attempt_at=timezone.now())
    engine.sync_now(org.pk)
    home_link.refresh_from_db()
    solar_link.refresh_from_db()
    assert home_link.state == LinkState.SYNCED and solar_link.state == LinkState.SYNCED
    assert solar_link.remote_id == home_link.remote_id
    assert list(wattshift().state["solar"]) == [home_link.remote_id]


def test_it_falls_back_to_the_organizations_time_zone_when_the_zip_has_no_real_one(
    member_client, connected, org
):
    # The zip table gives 99634 (Napakiak, AK) the zone "Napakiak", which does not exist.
    response = run_to(member_client, "zip", zip_code="99634")
    assert "the organization's) will be used" in response.content.decode()
    run_to(member_client, "heat_pump", zip_code="99634")
    submit(member_client, "review")
    assert Home.objects.get(organization=org).timezone == org.timezone


def test_it_sends_a_custom_id_taken_since_back_to_its_step(
    member_client, connected, org, django_capture_on_commit_callbacks
):
    run_to(member_client, "heat_pump")
    # Someone else creates a device with the heat pump's custom id before Create is pressed.
    DeviceFactory(organization=org, custom_id="HP-RIVERA")
    devices_before = Device.objects.count()
    response = submit(member_client, "review")
    assert response.status_code == 200
    assert current_step(response) == "heat_pump"
    assert errors(response) == {
        "custom_id": ["Another device in your organization has this custom id."]
    }
    assert Device.objects.count() == devices_before
    assert not Home.objects.filter(name="Rivera residence").exists()
    # The draft is kept: a new custom id, then Create.
    submit(member_client, "heat_pump", {**HEAT_PUMP, "custom_id": "HP-RIVERA-2"})
    response = submit(member_client, "review")
    assert Home.objects.filter(name="Rivera residence").exists()
    assert Device.objects.filter(custom_id="HP-RIVERA-2").exists()
    assert response.redirect_chain


def test_it_writes_nothing_when_the_wizard_is_abandoned(member_client, connected, org):
    records = (Customer, Home, Device, UpstreamLink)
    before = {model: model.objects.count() for model in records}
    run_to(member_client, "heat_pump")  # up to the review, then walk away
    assert {model: model.objects.count() for model in records} == before
    assert not [call for call in wattshift().calls if call[1] != "/v1/utility/get"]
    assert wattcarbon().calls == []


# --- who may use it -------------------------------------------------------------------------------
def test_it_is_for_members_and_above(member_client, owner_client, viewer_client, connected):
    assert member_client.get(URL).status_code == 200
    assert owner_client.get(URL).status_code == 200
    assert viewer_client.get(URL).status_code == 403
    assert submit(viewer_client, "zip", {"zip_code": "95313"}).status_code == 403


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_keeps_each_organizations_draft_apart(member_client, connected, org, other_org):
    from portal.models import Membership, Role

    run_to(member_client, "home")
    member = _member(member_client)
    Membership.objects.create(user=member, organization=other_org, role=Role.MEMBER)
    member_client.post(reverse("switch_organization"), {"organization": other_org.pk})
    response = member_client.get(URL)
    assert current_step(response) == "zip"
    assert not response.context["resuming"]
