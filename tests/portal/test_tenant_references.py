"""A record never points at another organization's record, whatever path saves it (full_clean)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.factories import CustomerFactory, DeviceFactory, HomeFactory, MeterFactory


def test_it_refuses_a_home_of_another_organizations_customer(org, other_org) -> None:
    home = HomeFactory.build(organization=org, customer=CustomerFactory(organization=other_org))
    with pytest.raises(ValidationError) as caught:
        home.full_clean()
    assert caught.value.message_dict["customer"] == ["This belongs to another organization."]


def test_it_refuses_a_device_at_another_organizations_home(org, other_org) -> None:
    device = DeviceFactory.build(organization=org, home=HomeFactory(organization=other_org))
    with pytest.raises(ValidationError) as caught:
        device.full_clean()
    assert "home" in caught.value.message_dict


def test_it_refuses_a_meter_of_another_organizations_home(org, other_org) -> None:
    meter = MeterFactory.build(organization=org, home=HomeFactory(organization=other_org))
    with pytest.raises(ValidationError):
        meter.full_clean()


def test_it_accepts_the_organizations_own_records(org) -> None:
    home = HomeFactory(organization=org)
    DeviceFactory.build(organization=org, home=home).full_clean()
    MeterFactory.build(organization=org, home=home).full_clean()
