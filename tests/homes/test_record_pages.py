"""Customers, homes, meters and devices: the pages every record type shares."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devices.models import Device
from homes.models import Customer, Home, Meter
from tests.factories import CustomerFactory, DeviceFactory, HomeFactory, MeterFactory

RECORDS = {
    "customer": CustomerFactory,
    "home": HomeFactory,
    "meter": MeterFactory,
    "device": DeviceFactory,
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", RECORDS)
@pytest.mark.parametrize("page", ["detail", "edit", "delete"])
def test_it_gives_an_outsider_404_on_every_record_page(name, page, org, outsider_client):
    record = RECORDS[name](organization=org)
    response = outsider_client.get(reverse(f"{name}_{page}", args=[record.pk]))
    assert response.status_code == 404
    if page == "delete":
        assert outsider_client.post(reverse(f"{name}_{page}", args=[record.pk])).status_code == 404
        assert type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", RECORDS)
def test_it_keeps_other_organizations_out_of_lists(name, org, other_org, owner_client):
    mine = RECORDS[name](organization=org)
    theirs = RECORDS[name](organization=other_org)
    page = owner_client.get(reverse(f"{name}_list"))
    assert page.status_code == 200
    listed = list(page.context["object_list"])
    assert mine in listed and theirs not in listed


@pytest.mark.django_db
@pytest.mark.parametrize("name", RECORDS)
def test_it_lets_a_viewer_read_but_not_edit(name, org, viewer_client):
    record = RECORDS[name](organization=org)
    assert viewer_client.get(reverse(f"{name}_detail", args=[record.pk])).status_code == 200
    assert viewer_client.get(reverse(f"{name}_edit", args=[record.pk])).status_code == 403
    assert viewer_client.post(reverse(f"{name}_delete", args=[record.pk])).status_code == 403
    assert (
        reverse(f"{name}_edit", args=[record.pk])
        not in viewer_client.get(reverse(f"{name}_detail", args=[record.pk])).content.decode()
    )
    assert type(record).objects.filter(pk=record.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", RECORDS)
def test_it_lists_with_a_bounded_number_of_queries(
    name, org, owner_client, django_assert_max_num_queries
):
    factory = RECORDS[name]
    factory.create_batch(3, organization=org)
    with django_assert_max_num_queries(14) as few:
        owner_client.get(reverse(f"{name}_list"))
    factory.create_batch(40, organization=org)
    with django_assert_max_num_queries(len(few.captured_queries)):
        owner_client.get(reverse(f"{name}_list"))


@pytest.mark.django_db
def test_it_creates_edits_and_finds_a_customer_home_and_meter(org, member_client):
    response = member_client.post(
        reverse("customer_create"), {"name": "Pat Jones", "email": "pat@example.test"}
    )
    customer = Customer.objects.get(organization=org, name="Pat Jones")
    assert response["Location"] == customer.get_absolute_url()

    response = member_client.post(
        reverse("home_create"),
        {
            "customer": customer.pk,
            "name": "Jones residence",
            "street": "1 Main St",
            "zip_code": "95313",
            "country": "US",
            "has_ac": "on",
            "ac_type": "central",
        },
    )
    home = Home.objects.get(organization=org)
    assert response.status_code == 302
    assert home.timezone == "America/Los_Angeles"  # derived from the zip code
    assert home.state == "CA"

    member_client.post(
        reverse("meter_create"),
        {
            "home": home.pk,
            "meter_number": "E-1001",
            "location_type": "residential",
            "wattics_format": "value",
        },
    )
    meter = Meter.objects.get(organization=org)
    member_client.post(
        reverse("meter_edit", args=[meter.pk]),
        {
            "home": home.pk,
            "meter_number": "E-1002",
            "location_type": "commercial",
            "wattics_format": "value",
        },
    )
    meter.refresh_from_db()
    assert (meter.meter_number, meter.location_type) == ("E-1002", "commercial")

    found = member_client.get(reverse("home_list"), {"q": "jones"})
    assert list(found.context["object_list"]) == [home]
    tree = member_client.get(customer.get_absolute_url()).content.decode()
    assert home.get_absolute_url() in tree


@pytest.mark.django_db
def test_it_refuses_a_rate_plan_of_another_utility_and_a_bad_zip(org, member_client):
    from homes.models import RatePlan, Utility

    customer = CustomerFactory(organization=org)
    a = Utility.objects.create(organization=org, ws_utility_id="u1", name="A Power")
    b = Utility.objects.create(organization=org, ws_utility_id="u2", name="B Power")
    plan_b = RatePlan.objects.create(utility=b, ws_rate_plan_id="p", name="Flat")
    response = member_client.post(
        reverse("home_create"),
        {
            "customer": customer.pk,
            "name": "H",
            "zip_code": "9531",
            "country": "US",
            "utility": a.pk,
            "rate_plan": plan_b.pk,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "rate_plan" in errors and "zip_code" in errors
    assert not Home.objects.exists()


@pytest.mark.django_db
def test_it_refuses_to_delete_a_customer_with_homes(org, member_client):
    home = HomeFactory(organization=org)
    page = member_client.get(reverse("customer_delete", args=[home.customer.pk]))
    assert "It has 1 home" in page.content.decode()
    member_client.post(reverse("customer_delete", args=[home.customer.pk]))
    assert Customer.objects.filter(pk=home.customer.pk).exists()


@pytest.mark.django_db
def test_it_deletes_after_confirmation(org, member_client):
    meter = MeterFactory(organization=org)
    response = member_client.post(reverse("meter_delete", args=[meter.pk]))
    assert response.status_code == 302
    assert not Meter.objects.filter(pk=meter.pk).exists()


@pytest.mark.django_db
def test_it_shows_only_the_chosen_kinds_fields_and_creates_a_device_of_each_kind(
    org, member_client
):
    home = HomeFactory(organization=org)
    form = member_client.get(reverse("device_create_kind", args=["battery"]))
    fields = set(form.context["form"].fields)
    assert {"capacity_kwh", "power_kw"} <= fields and "nameplate_capacity_kw" not in fields

    specimens = {
        "solar": {"nameplate_capacity_kw": "7.2", "inverter_data_source": "enphase"},
        "electrification": {
            "area_sqft": "1800",
            "previous_fuel": "natural_gas",
            "effective_useful_life_years": "15",
        },
        "battery": {"capacity_kwh": "13.5", "power_kw": "5"},
        "vehicle": {
            "brand": "Tesla",
            "model": "Model 3",
            "year": "2019",
            "vin": "5YJ3E1EA2KF317000",
        },
        "hot_water_tank": {
            "brand": "OSO",
            "model": "Saga",
            "capacity_l": "200",
            "heating_elements_w": "2000, 1000",
        },
        "ev_charger": {"power_kw": "11"},
        "demand_response": {"program_name": "Summer peak"},
    }
    for n, (kind, details) in enumerate(specimens.items()):
        data = {
            "home": home.pk,
            "name": f"{kind} device",
            "custom_id": f"D-{n}",
            "status": "active",
            **details,
        }
        response = member_client.post(reverse("device_create_kind", args=[kind]), data)
        assert response.status_code == 302, (
            kind,
            response.context and response.context["form"].errors,
        )
    assert Device.objects.filter(organization=org).count() == 7
    tank = Device.objects.get(kind="hot_water_tank")
    assert tank.details["heating_elements_w"] == [2000, 1000]

    vehicle = Device.objects.get(kind="vehicle")
    edit = {
        "home": home.pk,
        "name": "Family car",
        "custom_id": "D-3",
        "status": "active",
        **specimens["vehicle"],
        "vin": "5YJ3E1EA3KF317000",
    }
    response = member_client.post(reverse("device_edit", args=[vehicle.pk]), edit)
    assert response.status_code == 200
    assert "check digit" in str(response.context["form"].errors["vin"])
    vehicle.refresh_from_db()
    assert vehicle.name == "vehicle device"  # nothing saved


@pytest.mark.django_db
def test_it_shows_a_duplicate_custom_id_on_the_field(org, member_client):
    existing = DeviceFactory(organization=org, custom_id="SP1")
    data = {
        "home": existing.home.pk,
        "name": "Second",
        "custom_id": "sp1",
        "status": "active",
        "nameplate_capacity_kw": "5",
    }
    response = member_client.post(reverse("device_create_kind", args=["solar"]), data)
    assert "custom id" in str(response.context["form"].errors["custom_id"])
