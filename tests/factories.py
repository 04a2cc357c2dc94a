"""factory-boy factories for the portfolio records (every one needs an `organization`)."""

from __future__ import annotations

import factory

from devices.models import Device
from homes.models import Customer, Home, Meter


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.test")


class HomeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Home

    customer = factory.SubFactory(
        CustomerFactory, organization=factory.SelfAttribute("..organization")
    )
    name = factory.Sequence(lambda n: f"Home {n}")
    street = "60 Greene St"
    city = "Riverside"
    state = "IA"
    zip_code = "52327"
    timezone = "America/Chicago"


class MeterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Meter

    home = factory.SubFactory(HomeFactory, organization=factory.SelfAttribute("..organization"))
    meter_number = factory.Sequence(lambda n: f"M{n:05d}")
    meter_point_id = factory.Sequence(lambda n: f"MP-{n}")


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    home = factory.SubFactory(HomeFactory, organization=factory.SelfAttribute("..organization"))
    name = factory.Sequence(lambda n: f"Array {n}")
    custom_id = factory.Sequence(lambda n: f"SP{n:05d}")
    kind = "solar"
    details = factory.LazyFunction(
        lambda: {"nameplate_capacity_kw": 7.2, "inverter_data_source": "enphase"}
    )
