"""Write operations on customers, homes and meters."""

from __future__ import annotations

from functools import lru_cache

import zipcodes

from portal.records import delete_record, save_record

from .models import Customer, Home, Meter


@lru_cache(maxsize=4096)
def zip_facts(zip_code: str) -> dict[str, str]:
    """What the offline `zipcodes` table knows of a zip: city, state, timezone (or {})."""
    five = (zip_code or "").strip()[:5]
    try:
        matches = zipcodes.matching(five)
    except (TypeError, ValueError):
        return {}
    if not matches:
        return {}
    match = matches[0]
    return {
        "city": match.get("city", ""),
        "state": match.get("state", ""),
        "timezone": match.get("timezone", ""),
        "lat": match.get("lat", ""),
        "long": match.get("long", ""),
    }


def timezone_for_zip(zip_code: str) -> str:
    return zip_facts(zip_code).get("timezone", "")


def save_customer(customer: Customer) -> Customer:
    return save_record(customer)


def delete_customer(customer: Customer) -> None:
    delete_record(customer)


def save_home(home: Home) -> Home:
    """Save a home, filling timezone (and city and state, when empty) from its zip code."""
    facts = zip_facts(home.zip_code)
    if not home.timezone:
        home.timezone = facts.get("timezone", "") or home.organization.timezone
    if not home.city and facts.get("city"):
        home.city = facts["city"].title()
    if not home.state and facts.get("state"):
        home.state = facts["state"]
    if not home.has_ac:
        home.ac_type = ""
    return save_record(home)


def delete_home(home: Home) -> None:
    delete_record(home)


def save_meter(meter: Meter) -> Meter:
    return save_record(meter)


def delete_meter(meter: Meter) -> None:
    delete_record(meter)
