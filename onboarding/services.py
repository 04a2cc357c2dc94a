"""Onboarding a home in one step: its customer, the home, and its solar and heat-pump devices.

It lives in `onboarding`, above `homes` and `devices` in the layers, because it writes both (through
their services); neither of them imports it.
Everything is written in one transaction, so an error leaves nothing behind; the records announce
themselves, and the sync engine sends them after commit, parents first (WattShift home, then its
solar; WattCarbon devices).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.models import Customer, Home
from portal.models import Organization


def _custom_id(organization: Organization, prefix: str, home: Home) -> str:
    base = f"{prefix}-{home.pk:05d}"
    candidate, n = base, 1
    while Device.objects.filter(organization=organization, custom_id__iexact=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@transaction.atomic
def onboard_home(
    organization: Organization,
    *,
    customer: Customer | None,
    new_customer: dict[str, Any] | None,
    home: dict[str, Any],
    solar: dict[str, Any] | None = None,
    heat_pump: dict[str, Any] | None = None,
) -> Home:
    """Create the home (and a new customer, and the optional devices); all or nothing."""
    if customer is None:
        customer = home_services.save_customer(
            Customer(organization=organization, **(new_customer or {}))
        )
    record = home_services.save_home(Home(organization=organization, customer=customer, **home))
    for prefix, kind, data in (("SOLAR", "solar", solar), ("HP", "electrification", heat_pump)):
        if not data:
            continue
        data = dict(data)
        details = data.pop("details", {})
        device = Device(
            organization=organization,
            home=record,
            kind=kind,
            name=data.pop("name", "") or ("Solar array" if kind == "solar" else "Heat pump"),
            custom_id=data.pop("custom_id", "") or _custom_id(organization, prefix, record),
            details=details,
            **data,
        )
        device_services.save_device(device)
    return record
