"""SANDBOX DATA: the utilities and rate plans the WattShift emulator answers with.

Nothing here is a real tariff or a real service territory. The utility names are real-sounding so
that the onboarding wizard looks plausible in a demo, but every entry is tagged `sandbox=True`, the
rates are round numbers picked by hand, and which utility "serves" a zip code is decided by a hash
(or, for California, by 3-digit zip prefix so that the seed's example, 95313 Crows Landing ->
Pacific Gas & Electric, holds). Never show these numbers to a customer as a price.

The table is deterministic: the same zip code always gets the same utilities, in the same order,
with the same ids, on every machine and every run (sha256, never Python's salted `hash()`).

- Every zip code the `zipcodes` package knows is served: each US state, DC and PR has 1-3
  utilities; the other territories and the military APO/FPO codes have one each.
- About one zip in eight (in states with more than one utility) is also served by a second
  utility, so the wizard has to let the user choose.
- Ids: `ws_util_<state>_<slug>` and `ws_rp_<state>_<slug>_<plan code>`, readable on purpose so a
  sandbox id is never mistaken for a production one (WattShift's own ids are opaque strings; the
  client treats ours as opaque too).

The table itself is data: `data/wattshift_utilities.json`, `plan_sets` (name -> [code, name, kind]
with kind one of `tou`, `flat`, `ev`) and `utilities` (state -> [slug, name, base $/kWh, plan set,
optional `zip3_ranges`, inclusive]). California is split by zip prefix, roughly north (PG&E, with
the seed's example plans and a flat one added so both kinds exist there) / south (SCE) / San Diego
(SDG&E); New York City (prefixes 100-104, 110-114) is Con Edison's and the rest of the state is
hashed between the other two. The territories, freely associated states and military post codes
the `zipcodes` package also knows get one utility each, so that every known zip gets an answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import zipcodes

TOU = "tou"  # time-of-use: a marked evening peak
FLAT = "flat"  # one rate all day: the signal still follows the grid, but gently
EV = "ev"  # time-of-use with a deep overnight trough for EV charging

ZIP_RE = re.compile(r"^(\d{5})(?:-\d{4})?$")

# Share of zip codes (in multi-utility states) that a second utility also serves, in percent.
OVERLAP_PERCENT = 12


@dataclass(frozen=True)
class SandboxRatePlan:
    """One sandbox rate plan (not a real tariff)."""

    id: str
    name: str
    kind: str  # TOU | FLAT | EV
    sandbox: bool = True


@dataclass(frozen=True)
class SandboxUtility:
    """One sandbox utility of one state (not a real service territory)."""

    id: str
    name: str
    state: str
    base_rate_usd_per_kwh: float
    rate_plans: tuple[SandboxRatePlan, ...]
    zip3: frozenset[str] = frozenset()  # territory by zip prefix; empty: assigned by hash
    sandbox: bool = True
    note: str = "sandbox data, not a real utility territory or tariff"

    def as_api(self) -> dict[str, Any]:
        """The shape of one entry of `POST /v1/utility/get` (seed 003, step 1)."""
        return {
            "utilityId": self.id,
            "utilityName": self.name,
            "wsRatePlans": [{"id": plan.id, "ratePlanName": plan.name} for plan in self.rate_plans],
        }


# Where the `zipcodes` data has no usable IANA zone (military codes, one odd Alaskan entry).
_FALLBACK_TIMEZONE = {"AK": "America/Anchorage"}

TABLE_PATH = Path(__file__).resolve().parent / "data" / "wattshift_utilities.json"


def _zip3(ranges: list[list[int]]) -> frozenset[str]:
    """Zip prefixes from inclusive ranges, e.g. [[919, 921]] -> {"919", "920", "921"}."""
    return frozenset(f"{prefix:03d}" for first, last in ranges for prefix in range(first, last + 1))


def _build(
    table: dict[str, Any],
) -> tuple[dict[str, tuple[SandboxUtility, ...]], dict[str, SandboxUtility]]:
    by_state: dict[str, tuple[SandboxUtility, ...]] = {}
    by_id: dict[str, SandboxUtility] = {}
    plan_sets: dict[str, list[list[str]]] = table["plan_sets"]
    for state, rows in table["utilities"].items():
        utilities = []
        for row in rows:
            prefix = f"{state.lower()}_{row['slug']}"
            plans = tuple(
                SandboxRatePlan(id=f"ws_rp_{prefix}_{code}", name=plan_name, kind=kind)
                for code, plan_name, kind in plan_sets[row["plans"]]
            )
            utility = SandboxUtility(
                id=f"ws_util_{prefix}",
                name=row["name"],
                state=state,
                base_rate_usd_per_kwh=row["base_rate_usd_per_kwh"],
                rate_plans=plans,
                zip3=_zip3(row.get("zip3_ranges", [])),
            )
            if utility.id in by_id:
                raise ValueError(f"duplicate sandbox utility id {utility.id} in {TABLE_PATH}")
            by_id[utility.id] = utility
            utilities.append(utility)
        by_state[state] = tuple(utilities)
    return by_state, by_id


UTILITIES_BY_STATE, UTILITIES_BY_ID = _build(json.loads(TABLE_PATH.read_text()))
RATE_PLANS_BY_ID: dict[str, tuple[SandboxUtility, SandboxRatePlan]] = {
    plan.id: (utility, plan) for utility in UTILITIES_BY_ID.values() for plan in utility.rate_plans
}


def stable_hash(*parts: str) -> int:
    """A hash that is the same on every run and machine (Python's `hash()` is salted)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def normalize_zip(zipcode: str) -> str | None:
    """The 5-digit zip of `12345` or `12345-6789`; None when malformed."""
    match = ZIP_RE.match(zipcode.strip()) if isinstance(zipcode, str) else None
    return match.group(1) if match else None


@cache
def zip_info(zip5: str) -> dict[str, Any] | None:
    """What the `zipcodes` package knows of a 5-digit zip, None when it does not know it."""
    try:
        matches = zipcodes.matching(zip5)
    except (TypeError, ValueError):
        return None
    return dict(matches[0]) if matches else None


def utilities_for_info(info: dict[str, Any]) -> list[SandboxUtility]:
    """The sandbox utilities serving one `zipcodes` entry, the primary one first."""
    state_utilities = UTILITIES_BY_STATE.get(info.get("state", ""), ())
    if not state_utilities:
        return []
    zip5 = info["zip_code"]
    territorial = [u for u in state_utilities if zip5[:3] in u.zip3]
    if territorial:
        primary = territorial[0]
    else:
        pool = [u for u in state_utilities if not u.zip3] or list(state_utilities)
        # Hash the county, not the zip, so that neighbouring zips share a utility, as they do.
        area = info.get("county") or zip5[:3]
        primary = pool[stable_hash("primary", info["state"], area) % len(pool)]
    served = [primary]
    if len(state_utilities) > 1 and stable_hash("overlap", zip5) % 100 < OVERLAP_PERCENT:
        index = state_utilities.index(primary)
        served.append(state_utilities[(index + 1) % len(state_utilities)])
    return served


def utilities_for_zip(zipcode: str) -> list[SandboxUtility]:
    """The sandbox utilities serving a zip (`12345` or `12345-6789`); [] for an unknown zip."""
    zip5 = normalize_zip(zipcode)
    info = zip_info(zip5) if zip5 else None
    return utilities_for_info(info) if info else []


def timezone_for_zip(zipcode: str) -> ZoneInfo:
    """The IANA zone of a zip, for local-time price shapes; UTC where the data has none."""
    zip5 = normalize_zip(zipcode)
    info = (zip_info(zip5) if zip5 else None) or {}
    for name in (info.get("timezone"), _FALLBACK_TIMEZONE.get(info.get("state", ""))):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
