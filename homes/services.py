"""Write operations on customers, homes and meters, and on the utilities and rate plans the
utility directory answers (homes/directory.py)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import zipcodes
from django.db import transaction

from portal.models import Organization
from portal.records import delete_record, save_record

from .models import Customer, Home, Meter, RatePlan, Utility, ZipUtilities


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


@transaction.atomic
def _text(value: Any, limit: int) -> str:
    """An optional text field of the directory's answer (absent or null: empty)."""
    return "" if value is None else str(value).strip()[:limit]


def store_zip_utilities(
    organization: Organization, zip5: str, answer: list[dict[str, Any]], fetched_at: datetime
) -> list[Utility]:
    """Keep the directory's answer for `zip5` (WattShift's shape) as the organization's utilities,
    rate plans and zip cache; the utilities, in the answer's order."""
    utilities = []
    for item in answer:
        utility, _ = Utility.objects.update_or_create(
            organization=organization,
            ws_utility_id=item["utilityId"],
            defaults={"name": item["utilityName"], "fetched_at": fetched_at},
        )
        for plan in item.get("wsRatePlans") or []:
            name = plan.get("ratePlanName") or plan["id"]
            RatePlan.objects.update_or_create(
                utility=utility,
                ws_rate_plan_id=plan["id"],
                defaults={
                    "name": name,
                    # Today's answer adds these (`ratePlans`); the quickstart's has neither.
                    "rate_reference": _text(plan.get("rateID"), 100),
                    "supported_type": _text(plan.get("supportedType"), 100),
                    "is_time_of_use": "tou" in name.lower() or "time" in name.lower(),
                },
            )
        utilities.append(utility)
    cached, _ = ZipUtilities.objects.update_or_create(
        organization=organization, zip_code=zip5, defaults={"fetched_at": fetched_at}
    )
    cached.utilities.set(utilities)
    return utilities
