"""Demo customers, homes and meters for `manage.py seed_demo` (idempotent)."""

from __future__ import annotations

from portal.models import Organization, User

from . import services
from .directory import DirectoryUnavailable, lookup_utilities
from .models import Customer, Home, Meter, RatePlan, Utility

DEMO_HOMES = [
    # customer, email, home name, street, zip, lat, lon, meter number
    (
        "Maria Alvarez",
        "maria@example.test",
        "Alvarez residence",
        "101 Orchard Ave",
        "95313",
        "37.4102",
        "-121.0830",
        "PGE-100234",
    ),
    (
        "James Okafor",
        "james@example.test",
        "Okafor residence",
        "42 Lakeview Dr",
        "60614",
        "41.9214",
        "-87.6513",
        "COM-884201",
    ),
    (
        "Chen Family Trust",
        "chen@example.test",
        "Chen duplex",
        "9 Harbor St",
        "02110",
        "",
        "",
        "EV-556120",
    ),
]


def _first_plan(
    organization: Organization, zip_code: str
) -> tuple[Utility | None, RatePlan | None]:
    """The first utility and rate plan the directory knows for the zip (none when it can't say)."""
    try:
        lookup = lookup_utilities(organization, zip_code)
    except DirectoryUnavailable:
        return None, None
    for utility in lookup.utilities:
        for plan in utility.rate_plans.all():
            return utility, plan
    return None, None


def seed(organization: Organization, user: User) -> None:
    for name, email, home_name, street, zip_code, lat, lon, meter_number in DEMO_HOMES:
        customer = Customer.objects.filter(organization=organization, email=email).first()
        if customer is None:
            customer = services.save_customer(
                Customer(organization=organization, name=name, email=email)
            )
        home = Home.objects.filter(organization=organization, name=home_name).first()
        if home is None:
            utility, rate_plan = _first_plan(organization, zip_code)
            home = services.save_home(
                Home(
                    organization=organization,
                    customer=customer,
                    name=home_name,
                    street=street,
                    zip_code=zip_code,
                    latitude=lat or None,
                    longitude=lon or None,
                    utility=utility,
                    rate_plan=rate_plan,
                    has_ev_charger=True,
                    has_ac=True,
                    ac_type="central",
                )
            )
        if not Meter.objects.filter(organization=organization, meter_number=meter_number).exists():
            services.save_meter(
                Meter(
                    organization=organization,
                    home=home,
                    meter_number=meter_number,
                    meter_point_id=f"MP-{meter_number}",
                )
            )
