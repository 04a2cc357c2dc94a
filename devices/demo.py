"""Demo devices, one of each kind, for `manage.py seed_demo` (idempotent)."""

from __future__ import annotations

from datetime import date

from homes.models import Home
from portal.models import Organization, User

from . import services
from .models import Device

DEMO_DEVICES = [
    # home, custom id, name, kind, details
    (
        "Alvarez residence",
        "SP-ALV-01",
        "Rooftop array",
        "solar",
        {
            "nameplate_capacity_kw": "7.6",
            "inverter_data_source": "enphase",
            "inverter_data_id": "121934001",
        },
    ),
    (
        "Alvarez residence",
        "HP-ALV-01",
        "Heat pump",
        "electrification",
        {
            "area_sqft": "1850",
            "previous_fuel": "natural_gas",
            "replaces_furnace": True,
            "building_type": "single_family_detached",
            "heat_pump_hspf": "9.5",
        },
    ),
    (
        "Okafor residence",
        "BAT-OKA-01",
        "Powerwall",
        "battery",
        {"capacity_kwh": "13.5", "power_kw": "5"},
    ),
    (
        "Okafor residence",
        "EV-OKA-01",
        "Family car",
        "vehicle",
        {"brand": "Tesla", "model": "Model 3", "year": "2019", "vin": "5YJ3E1EA2KF317000"},
    ),
    ("Okafor residence", "EVC-OKA-01", "Garage charger", "ev_charger", {"power_kw": "11"}),
    (
        "Chen duplex",
        "HWT-CHE-01",
        "Hot water tank",
        "hot_water_tank",
        {
            "brand": "OSO",
            "model": "Saga S200",
            "capacity_l": "200",
            "heating_elements_w": "2000, 1000",
        },
    ),
    (
        "Chen duplex",
        "DR-CHE-01",
        "Thermostat program",
        "demand_response",
        {
            "program_name": "Summer peak rewards",
            "max_reduction_kw": "1.5",
            "events": "2025-07-14T17:00-04:00/2025-07-14T20:00-04:00\n"
            "2025-08-05T16:00-04:00/2025-08-05T19:00-04:00",
        },
    ),
]


def seed(organization: Organization, user: User) -> None:
    for home_name, custom_id, name, kind, details in DEMO_DEVICES:
        if Device.objects.filter(organization=organization, custom_id=custom_id).exists():
            continue
        home = Home.objects.filter(organization=organization, name=home_name).first()
        if home is None:
            continue
        services.save_device(
            Device(
                organization=organization,
                home=home,
                meter=home.meters.first(),
                name=name,
                custom_id=custom_id,
                kind=kind,
                details=details,
                commenced_operation_date=date(2025, 1, 1),
            )
        )
