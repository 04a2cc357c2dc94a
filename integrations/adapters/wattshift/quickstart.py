"""Homes and their solar on WattShift (docs/upstreams/wattshift.md): parents first, create only.

The quickstart contract has no update call for homes or solar, so once a home is there a later
change (a new rate plan, a renamed home) cannot be sent: the engine keeps the link synced and shows
it as out of date upstream, with each field's sent and current value (`Adapter.updates`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from devices.models import Device
from homes.models import Home

from ... import wattshift
from ...models import Platform, Profile, UpstreamLink
from ..base import Adapter, Parent, register


def wattshift_ids(home: Home) -> tuple[str, str]:
    """WattShift's ids of a home's utility and rate plan (the plan's `id`, never its `rateID`)."""
    utility, rate_plan = home.utility, home.rate_plan
    assert utility is not None and rate_plan is not None  # the adapters apply to homes with both
    # Only the home's own organization's reference data goes out on its connection
    # (Home.clean refuses the rest; this holds for rows written around it too).
    if utility.organization_id != home.organization_id:
        raise ValueError("the home's utility belongs to another organization")
    if rate_plan.utility_id != utility.pk:
        raise ValueError("the home's rate plan is not one of its utility's")
    return utility.ws_utility_id, rate_plan.ws_rate_plan_id


class WattShiftHome(Adapter[Home]):
    """A home with a utility and rate plan, as a WattShift home."""

    platform = Platform.WATTSHIFT
    model = Home
    label = "home"
    # The same home upstream as the current API's (integrations/adapters/wattshift/current.py).
    keeps_ids_from = frozenset({Profile.CURRENT})
    updates = False
    no_update_note = "changes not sent: WattShift has no update call for homes"

    def applies(self, record: Home) -> bool:
        return bool(record.utility_id and record.rate_plan_id)

    def payload(self, record: Home, parent_remote_id: str) -> dict[str, Any]:
        utility_id, rate_plan_id = wattshift_ids(record)
        return wattshift.home_payload(
            name=record.name,
            zipcode=record.zip_code,
            utility_id=utility_id,
            rate_plan_id=rate_plan_id,
            has_ev_charger=record.has_ev_charger,
            has_electric_heater=record.has_electric_heater,
            has_smart_water_heater=record.has_smart_water_heater,
            has_electric_water_heater=record.has_electric_water_heater,
            has_ac=record.has_ac,
            ac_type=record.ac_type or None,
        )

    def push(
        self,
        client: wattshift.WattShiftClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if link.remote_id:
            return link.remote_id  # no update call upstream (the engine does not ask for one)
        return client.create_home(payload)


class WattShiftSolar(Adapter[Device]):
    """A solar device of a WattShift home, as the home's solar system (after the home)."""

    platform = Platform.WATTSHIFT
    model = Device
    label = "solar"
    updates = False
    no_update_note = "changes not sent: WattShift has no update call for solar"

    def applies(self, record: Device) -> bool:
        return record.kind == "solar" and WattShiftHome().applies(record.home)

    def parent(self, record: Device) -> Parent:
        return Parent(record.home, Platform.WATTSHIFT, label=f"home {record.home.name}")

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        if isinstance(changed, Home):
            return changed.devices.filter(kind="solar")
        return ()

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        size = record.details.get("system_size_kw") or record.details.get("nameplate_capacity_kw")
        return wattshift.solar_payload(
            home_id=parent_remote_id,
            system_size_kw=size,
            net_metered=bool(record.details.get("net_metered", True)),
        )

    def push(
        self,
        client: wattshift.WattShiftClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if link.remote_id:
            return link.remote_id
        return client.create_solar(payload)


register(WattShiftHome())
register(WattShiftSolar())
