from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from devices.kinds import KINDS, validate_details, vin_error
from devices.services import save_device
from tests.factories import DeviceFactory, HomeFactory


def test_it_requires_the_nameplate_capacity_of_a_solar_device():
    _, errors = validate_details("solar", {"inverter_data_source": "enphase"})
    assert "nameplate_capacity_kw" in errors


def test_it_requires_an_eia_plant_id_above_1000_kw():
    _, errors = validate_details("solar", {"nameplate_capacity_kw": "2000"})
    assert errors == {"eia_plant_id": "An EIA plant id is required above 1,000 kW."}
    cleaned, errors = validate_details(
        "solar", {"nameplate_capacity_kw": "2000", "eia_plant_id": "65432"}
    )
    assert not errors and cleaned["nameplate_capacity_kw"] == 2000.0


def test_it_accepts_numeric_strings_as_the_seed_sends_them():
    cleaned, errors = validate_details(
        "electrification", {"area_sqft": "123", "replaces_furnace": "true"}
    )
    assert not errors
    assert cleaned["area_sqft"] == 123.0 and cleaned["replaces_furnace"] is True
    assert cleaned["effective_useful_life_years"] == 15  # the default


@pytest.mark.parametrize(
    ("vin", "ok"),
    [
        ("1M8GDM9AXKP042788", True),
        ("5YJ3E1EA2KF317000", True),
        ("1M8GDM9A1KP042788", False),
        ("1M8GDM9AXKP04278", False),
        ("IM8GDM9AXKP042788", False),
    ],
)
def test_it_checks_the_vin_check_digit(vin, ok):
    assert (vin_error(vin) is None) is ok


def test_it_refuses_a_bad_vin_on_a_vehicle():
    _, errors = validate_details(
        "vehicle", {"brand": "Tesla", "model": "3", "year": "2019", "vin": "5YJ3E1EA7KF317000"}
    )
    assert "check digit" in errors["vin"]


def test_it_parses_heating_element_powers():
    cleaned, errors = validate_details(
        "hot_water_tank",
        {"brand": "OSO", "model": "Saga", "capacity_l": "200", "heating_elements_w": "2000; 1000"},
    )
    assert not errors and cleaned["heating_elements_w"] == [2000, 1000]
    _, errors = validate_details(
        "hot_water_tank",
        {"brand": "OSO", "model": "Saga", "capacity_l": "200", "heating_elements_w": "lots"},
    )
    assert "heating_elements_w" in errors


def test_it_refuses_fields_of_another_kind():
    _, errors = validate_details("battery", {"capacity_kwh": 13.5, "power_kw": 5, "vin": "x"})
    assert "vin" in errors


def test_it_names_every_kind_in_one_place():
    assert set(KINDS) == {
        "solar",
        "electrification",
        "battery",
        "vehicle",
        "hot_water_tank",
        "ev_charger",
        "demand_response",
    }


@pytest.mark.django_db
def test_it_refuses_a_duplicate_custom_id_in_one_organization_but_not_across(org, other_org):
    DeviceFactory(organization=org, custom_id="SP123")
    clash = DeviceFactory.build(
        organization=org, custom_id="sp123", home=HomeFactory(organization=org)
    )
    with pytest.raises(ValidationError, match="custom id"):
        save_device(clash)
    elsewhere = DeviceFactory.build(
        organization=other_org, custom_id="SP123", home=HomeFactory(organization=other_org)
    )
    save_device(elsewhere)
    assert elsewhere.pk


@pytest.mark.django_db
def test_it_validates_kind_details_on_every_save(org):
    device = DeviceFactory.build(organization=org, home=HomeFactory(organization=org), details={})
    with pytest.raises(ValidationError, match="Nameplate capacity"):
        save_device(device)
