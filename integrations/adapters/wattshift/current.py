"""Homes on WattShift's current published API (docs/upstreams/wattshift.md, "Calls (current)").

One record upstream, the home, created with `POST /v1/homes/create` and changed with
`POST /v1/homes/{homeId}/update`: its solar is two fields of it (`solarSystemSizeKw`,
`isNonNetMetered`), so a solar array added, changed or resized later is an update of its home,
and nothing is ever "out of date upstream" here.

The home is the same upstream record under both profiles (WattShift's home id): a switch from
the quickstart keeps its id, and its next run sends an update in the current shape. The
quickstart's separate solar link has no place here (no adapter of solar devices serves this
profile): on a switch it is kept for the quickstart with its id, and shown as not sent under
this profile, its array going with the home.

WattShift chooses home ids and its current API offers no lookup by anything of ours, so a create
whose answer was lost waits in doubt for a person (`Adapter.recover`), as under the quickstart.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from devices.models import Device
from homes.models import Home

from ... import wattshift
from ...http import UpstreamError
from ...models import Platform, Profile, UpstreamLink
from ..base import Adapter, FailurePlan, register
from .quickstart import wattshift_ids


def solar_of(home: Home) -> tuple[Decimal | None, bool | None]:
    """(system size in kW, net metered) of a home's solar arrays, as WattShift's one solar system
    of a home: the sizes added up (each array's AC size, else its nameplate), net metered when
    any array is; (None, None) when the home has no array with a size."""
    total = Decimal(0)
    sized = False
    net_metered = False
    for device in home.devices.filter(kind="solar").order_by("pk"):
        size = device.details.get("system_size_kw") or device.details.get("nameplate_capacity_kw")
        try:
            size_kw = Decimal(str(size)) if size not in (None, "") else None
        except InvalidOperation:
            size_kw = None
        if size_kw is None or not size_kw.is_finite() or size_kw <= 0:
            continue
        total += size_kw
        sized = True
        net_metered = net_metered or bool(device.details.get("net_metered", True))
    return (total, net_metered) if sized else (None, None)


class WattShiftCurrentHome(Adapter[Home]):
    """A home with a utility and rate plan (and its solar) as a WattShift home, created once and
    updated on every change."""

    platform = Platform.WATTSHIFT
    model = Home
    label = "home"
    profiles = frozenset({Profile.CURRENT})
    keeps_ids_from = frozenset({Profile.QUICKSTART})  # one home upstream, two API versions

    def applies(self, record: Home) -> bool:
        return bool(record.utility_id and record.rate_plan_id)

    def dependents(self, changed: Any) -> Iterable[Home]:
        # A solar array is part of its home's body: its change is the home's.
        if isinstance(changed, Device) and changed.kind == "solar" and changed.home_id:
            return [changed.home]
        return ()

    def payload(self, record: Home, parent_remote_id: str) -> dict[str, Any]:
        utility_id, rate_plan_id = wattshift_ids(record)
        size_kw, net_metered = solar_of(record)
        return wattshift.current_home_payload(
            name=record.name,
            zipcode=record.zip_code,
            utility_id=utility_id,
            rate_plan_id=rate_plan_id,
            solar_system_size_kw=size_kw,
            net_metered=net_metered,
        )

    def push(
        self,
        client: wattshift.WattShiftClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if link.remote_id:
            # Every field again: a partial body may hold them all, and what WattShift holds then
            # is the home as it is here, whatever an earlier profile sent.
            client.update_home(link.remote_id, payload)
            return link.remote_id
        return client.create_home_current(payload)

    def on_failure(
        self, link: UpstreamLink, error: UpstreamError, failed_runs: int
    ) -> FailurePlan | None:
        """Refused credentials (missing, invalid, expired or revoked key, too little scope, no
        production access) pause the home until the connection is saved again; everything else
        follows the engine's rule (FORBIDDEN, a home of another client, is rejected)."""
        if isinstance(error, wattshift.WattShiftError) and error.refuses_credentials:
            return FailurePlan(
                pause_reason=(
                    f"WattShift refused the credentials ({error.message}): paused until the "
                    "WattShift connection is saved again."
                )
            )
        return None


register(WattShiftCurrentHome())
