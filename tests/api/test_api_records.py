"""Customers, homes, meters and devices through /api/v1/: the forms' rules and words, the
services' writes, lists with the list pages' filters, cursors, ETags and updated_since."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from devices.models import Device
from homes.models import Customer, Home
from tests.factories import CustomerFactory, DeviceFactory, HomeFactory


def _customer(api, **fields):
    response = api.post("/api/v1/customers", {"name": "Ada Lovelace", **fields})
    assert response.status_code == 201, response.content
    return response.json()


def _home(api, customer_id, **fields):
    body = {"customer": customer_id, "name": "Elm St", "zip_code": "10001", **fields}
    response = api.post("/api/v1/homes", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_it_creates_a_home_and_a_solar_device_through_the_services(api, org):
    customer = _customer(api, email="ada@example.com")
    home = _home(api, customer["id"])
    assert home["timezone"] == "America/New_York"  # filled from the zip code by save_home
    assert home["city"] == "New York"
    response = api.post(
        "/api/v1/devices",
        {
            "kind": "solar",
            "home": home["id"],
            "name": "Roof",
            "custom_id": "SOL-1",
            "details": {"nameplate_capacity_kw": 7.2, "inverter_data_source": "enphase"},
        },
    )
    assert response.status_code == 201, response.content
    device = response.json()
    assert device["kind"] == "solar"
    assert device["details"]["nameplate_capacity_kw"] == 7.2
    assert device["details"]["net_metered"] is True  # the kind's default
    stored = Device.objects.get(pk=device["id"])
    assert stored.organization == org


def test_it_answers_the_forms_words_field_by_field(api, org):
    response = api.post("/api/v1/homes", {"name": "No zip"})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"]["zip_code"] == ["This field is required."]
    assert body["errors"]["customer"] == ["This field is required."]
    assert body["detail"]
    customer = _customer(api)
    response = api.post(
        "/api/v1/homes", {"customer": customer["id"], "name": "X", "zip_code": "1234"}
    )
    assert response.json()["errors"]["zip_code"] == [
        "Enter a US zip code: 5 digits, optionally followed by -NNNN."
    ]


def test_it_checks_a_kinds_own_fields_as_the_form_does(api, org):
    home = HomeFactory(organization=org)
    response = api.post(
        "/api/v1/devices",
        {"kind": "solar", "home": home.pk, "name": "Roof", "custom_id": "S-2", "details": {}},
    )
    assert response.status_code == 422
    assert response.json()["errors"]["details.nameplate_capacity_kw"] == ["This field is required."]
    response = api.post(
        "/api/v1/devices",
        {
            "kind": "solar",
            "home": home.pk,
            "name": "Roof",
            "custom_id": "S-2",
            "details": {"nameplate_capacity_kw": 5, "heat_output": 3},
        },
    )
    assert response.json()["errors"] == {
        "details.heat_output": ["Solar devices have no field 'heat_output'."]
    }
    response = api.post(
        "/api/v1/devices",
        {
            "kind": "solar",
            "home": home.pk,
            "name": "Big",
            "custom_id": "S-3",
            "details": {"nameplate_capacity_kw": 2000},
        },
    )
    assert response.json()["errors"] == {
        "details.eia_plant_id": ["An EIA plant id is required above 1,000 kW."]
    }
    response = api.post("/api/v1/devices", {"kind": "toaster", "home": home.pk})
    assert response.status_code == 422 and "kind" in response.json()["errors"]


def test_it_refuses_a_custom_id_another_device_has(api, org):
    existing = DeviceFactory(organization=org, custom_id="DUP-1")
    response = api.post(
        "/api/v1/devices",
        {"kind": "battery", "home": existing.home_id, "name": "B", "custom_id": "dup-1"},
    )
    assert response.status_code == 422
    assert response.json()["errors"]["custom_id"] == [
        "Another device in your organization has this custom id."
    ]


def test_it_refuses_another_organizations_home_as_an_invalid_choice(api, other_org):
    foreign = HomeFactory(organization=other_org)
    response = api.post(
        "/api/v1/devices",
        {"kind": "battery", "home": foreign.pk, "name": "B", "custom_id": "B-1"},
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.json()["errors"]["home"][0]


def test_it_patches_only_the_fields_sent(api, org):
    device = DeviceFactory(
        organization=org, kind="solar", details={"nameplate_capacity_kw": 5.0}, name="Old"
    )
    response = api.patch(f"/api/v1/devices/{device.pk}", {"name": "New"})
    assert response.status_code == 200, response.content
    device.refresh_from_db()
    assert device.name == "New"
    assert device.details["nameplate_capacity_kw"] == 5.0
    response = api.patch(f"/api/v1/devices/{device.pk}", {"details": {"net_metered": False}})
    device.refresh_from_db()
    assert device.details["net_metered"] is False and device.details["nameplate_capacity_kw"] == 5.0
    response = api.patch(f"/api/v1/devices/{device.pk}", {"kind": "battery"})
    assert response.status_code == 422 and "kind" in response.json()["errors"]


def test_it_refuses_to_delete_a_home_that_still_has_devices(api, org):
    device = DeviceFactory(organization=org)
    response = api.delete(f"/api/v1/homes/{device.home_id}")
    assert response.status_code == 409
    assert "device" in response.json()["detail"]
    assert Home.objects.filter(pk=device.home_id).exists()
    assert api.delete(f"/api/v1/devices/{device.pk}").status_code == 204
    assert not Device.objects.filter(pk=device.pk).exists()


def test_it_pages_with_a_cursor_and_filters_like_the_list_page(api, org, other_org):
    home = HomeFactory(organization=org)
    for n in range(5):
        DeviceFactory(organization=org, home=home, kind="battery", name=f"Battery {n}")
    DeviceFactory(organization=org, kind="vehicle", name="Car")
    DeviceFactory(organization=other_org, kind="battery", name="Theirs")
    seen, cursor = [], None
    while True:
        params = {"kind": "battery", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/devices", params).json()
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"Battery {n}" for n in range(5)]
    assert [d["name"] for d in api.get("/api/v1/devices", {"q": "car"}).json()["items"]] == ["Car"]
    assert api.get("/api/v1/devices", {"home": home.pk}).json()["items"][0]["home"] == home.pk
    response = api.get("/api/v1/devices", {"cursor": "not-ours"})
    assert response.status_code == 422 and "cursor" in response.json()["errors"]
    response = api.get("/api/v1/devices", {"kind": "toaster"})
    assert response.status_code == 422 and "kind" in response.json()["errors"]


def test_it_answers_304_to_an_unchanged_etag_and_lists_what_changed_since(api, org):
    customer = CustomerFactory(organization=org)
    first = api.get(f"/api/v1/customers/{customer.pk}")
    etag = first["ETag"]
    assert api.get(f"/api/v1/customers/{customer.pk}", HTTP_IF_NONE_MATCH=etag).status_code == 304
    api.patch(f"/api/v1/customers/{customer.pk}", {"phone": "555-0100"})
    again = api.get(f"/api/v1/customers/{customer.pk}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 200 and again.json()["phone"] == "555-0100"
    later = timezone.now() + timedelta(seconds=1)
    Customer.objects.filter(pk=customer.pk).update(updated_at=later + timedelta(minutes=1))
    CustomerFactory(organization=org)  # older than `later`
    changed = api.get("/api/v1/customers", {"updated_since": later.isoformat()}).json()["items"]
    assert [c["id"] for c in changed] == [customer.pk]


def test_it_refuses_unknown_fields_and_wrong_json_types(api, org):
    response = api.post("/api/v1/customers", {"name": "A", "organization": 9})
    assert response.status_code == 422 and "organization" in response.json()["errors"]
    response = api.post("/api/v1/customers", {"name": ["A"]})
    assert response.status_code == 422 and "name" in response.json()["errors"]
    response = api.client.post("/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code in {400, 422}
    assert "detail" in response.json()
