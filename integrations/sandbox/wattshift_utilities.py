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
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
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


# --- plan sets: (code, name, kind) ---------------------------------------------------------------
PlanSet = tuple[tuple[str, str, str], ...]
_STANDARD = (
    ("res", "Residential Service (flat)", FLAT),
    ("rtou", "Residential Time-of-Use (time-of-use)", TOU),
)
_STANDARD_EV = (*_STANDARD, ("ev", "Residential EV Time-of-Use (time-of-use)", EV))
_COOP = (
    ("farm_home", "Farm & Home Service (flat)", FLAT),
    ("peak_time", "Residential Peak-Time (time-of-use)", TOU),
)
_MUNI = (
    ("res", "Residential (flat)", FLAT),
    ("tod", "Residential Time-of-Day (time-of-use)", TOU),
    ("ev", "EV Charging Time-of-Day (time-of-use)", EV),
)
_ISLAND = (
    ("res", "Residential Service (flat)", FLAT),
    ("tou", "Residential Time-of-Use (time-of-use)", TOU),
)
# The seed's example plans for PG&E, with a flat plan added so both kinds exist there.
_PGE = (
    ("tou_d", "TOU-D", TOU),
    ("tou_c", "TOU-C", TOU),
    ("e_6", "E-6", TOU),
    ("e_1", "E-1 (flat)", FLAT),
)
_SCE = (
    ("tou_d_4_9", "TOU-D-4-9PM (time-of-use)", TOU),
    ("tou_d_prime", "TOU-D-PRIME (time-of-use)", EV),
    ("d", "Domestic D (flat)", FLAT),
)
_SDGE = (
    ("tou_dr1", "TOU-DR1 (time-of-use)", TOU),
    ("ev_tou_5", "EV-TOU-5 (time-of-use)", EV),
    ("dr", "DR (flat)", FLAT),
)
_CONED = (
    ("sc1", "SC1 Residential (flat)", FLAT),
    ("sc1_tou", "SC1 Rate III Time-of-Use (time-of-use)", TOU),
)


def _zip3_range(first: int, last: int) -> frozenset[str]:
    return frozenset(f"{prefix:03d}" for prefix in range(first, last + 1))


_NYC = _zip3_range(100, 104) | _zip3_range(110, 114)


# --- the table: state -> [(slug, name, base $/kWh, plan set, zip3 territory)] -------------------
# SANDBOX DATA: names are real-sounding, rates and territories are made up (see module docstring).
_TABLE: dict[str, list[tuple[str, str, float, PlanSet, frozenset[str]]]] = {
    "AL": [
        ("alabama_power", "Alabama Power", 0.15, _STANDARD, frozenset()),
        ("baldwin_emc", "Baldwin EMC", 0.13, _COOP, frozenset()),
    ],
    "AK": [
        ("chugach", "Chugach Electric Association", 0.24, _COOP, frozenset()),
        ("gvea", "Golden Valley Electric Association", 0.26, _COOP, frozenset()),
    ],
    "AZ": [
        ("aps", "Arizona Public Service", 0.15, _STANDARD_EV, frozenset()),
        ("srp", "Salt River Project", 0.13, _MUNI, frozenset()),
        ("tep", "Tucson Electric Power", 0.14, _STANDARD, frozenset()),
    ],
    "AR": [
        ("entergy_ar", "Entergy Arkansas", 0.12, _STANDARD, frozenset()),
        ("swepco", "Southwestern Electric Power Co.", 0.12, _STANDARD, frozenset()),
    ],
    "CA": [
        # Territories by zip prefix, roughly north / south / San Diego.
        ("pge", "Pacific Gas & Electric", 0.34, _PGE, _zip3_range(936, 961)),
        (
            "sce",
            "Southern California Edison",
            0.31,
            _SCE,
            _zip3_range(900, 918) | _zip3_range(922, 935),
        ),
        ("sdge", "San Diego Gas & Electric", 0.38, _SDGE, _zip3_range(919, 921)),
    ],
    "CO": [
        ("xcel", "Xcel Energy", 0.15, _STANDARD_EV, frozenset()),
        ("black_hills", "Black Hills Energy", 0.16, _STANDARD, frozenset()),
    ],
    "CT": [
        ("eversource", "Eversource Energy", 0.29, _STANDARD_EV, frozenset()),
        ("ui", "United Illuminating", 0.30, _STANDARD, frozenset()),
    ],
    "DE": [
        ("delmarva", "Delmarva Power", 0.16, _STANDARD, frozenset()),
        ("dec", "Delaware Electric Cooperative", 0.14, _COOP, frozenset()),
    ],
    "DC": [("pepco", "Pepco", 0.17, _STANDARD_EV, frozenset())],
    "FL": [
        ("fpl", "Florida Power & Light", 0.14, _STANDARD_EV, frozenset()),
        ("duke_fl", "Duke Energy Florida", 0.16, _STANDARD, frozenset()),
        ("teco", "Tampa Electric", 0.15, _STANDARD, frozenset()),
    ],
    "GA": [
        ("georgia_power", "Georgia Power", 0.14, _STANDARD_EV, frozenset()),
        ("jackson_emc", "Jackson EMC", 0.12, _COOP, frozenset()),
    ],
    "HI": [
        ("heco", "Hawaiian Electric", 0.42, _ISLAND, frozenset()),
        ("kiuc", "Kauai Island Utility Cooperative", 0.40, _COOP, frozenset()),
    ],
    "ID": [
        ("idaho_power", "Idaho Power", 0.11, _STANDARD, frozenset()),
        ("avista_id", "Avista Utilities", 0.11, _STANDARD, frozenset()),
    ],
    "IL": [
        ("comed", "Commonwealth Edison (ComEd)", 0.16, _STANDARD_EV, frozenset()),
        ("ameren_il", "Ameren Illinois", 0.15, _STANDARD, frozenset()),
    ],
    "IN": [
        ("duke_in", "Duke Energy Indiana", 0.15, _STANDARD, frozenset()),
        ("im_power", "Indiana Michigan Power", 0.14, _STANDARD, frozenset()),
        ("nipsco", "NIPSCO", 0.16, _STANDARD, frozenset()),
    ],
    "IA": [
        ("midamerican", "MidAmerican Energy", 0.13, _STANDARD, frozenset()),
        ("alliant_ia", "Alliant Energy", 0.15, _STANDARD, frozenset()),
    ],
    "KS": [
        ("evergy_ks", "Evergy", 0.14, _STANDARD_EV, frozenset()),
        ("midwest_energy", "Midwest Energy", 0.14, _COOP, frozenset()),
    ],
    "KY": [
        ("ku", "Kentucky Utilities", 0.13, _STANDARD, frozenset()),
        ("lge", "Louisville Gas & Electric", 0.13, _STANDARD, frozenset()),
        ("kentucky_power", "Kentucky Power", 0.15, _STANDARD, frozenset()),
    ],
    "LA": [
        ("entergy_la", "Entergy Louisiana", 0.12, _STANDARD, frozenset()),
        ("cleco", "Cleco Power", 0.13, _STANDARD, frozenset()),
    ],
    "ME": [
        ("cmp", "Central Maine Power", 0.27, _STANDARD, frozenset()),
        ("versant", "Versant Power", 0.28, _STANDARD, frozenset()),
    ],
    "MD": [
        ("bge", "Baltimore Gas & Electric", 0.17, _STANDARD_EV, frozenset()),
        ("pepco_md", "Pepco", 0.17, _STANDARD, frozenset()),
        ("potomac_edison", "Potomac Edison", 0.15, _STANDARD, frozenset()),
    ],
    "MA": [
        ("eversource_ma", "Eversource Energy", 0.30, _STANDARD_EV, frozenset()),
        ("national_grid_ma", "National Grid", 0.29, _STANDARD, frozenset()),
    ],
    "MI": [
        ("dte", "DTE Energy", 0.19, _STANDARD_EV, frozenset()),
        ("consumers", "Consumers Energy", 0.19, _STANDARD, frozenset()),
    ],
    "MN": [
        ("xcel_mn", "Xcel Energy", 0.15, _STANDARD_EV, frozenset()),
        ("minnesota_power", "Minnesota Power", 0.14, _STANDARD, frozenset()),
    ],
    "MS": [
        ("mississippi_power", "Mississippi Power", 0.14, _STANDARD, frozenset()),
        ("entergy_ms", "Entergy Mississippi", 0.13, _STANDARD, frozenset()),
    ],
    "MO": [
        ("ameren_mo", "Ameren Missouri", 0.13, _STANDARD, frozenset()),
        ("evergy_mo", "Evergy", 0.14, _STANDARD_EV, frozenset()),
    ],
    "MT": [("northwestern", "NorthWestern Energy", 0.13, _STANDARD, frozenset())],
    "NE": [
        ("oppd", "Omaha Public Power District", 0.11, _MUNI, frozenset()),
        ("les", "Lincoln Electric System", 0.11, _MUNI, frozenset()),
        ("nppd", "Nebraska Public Power District", 0.11, _COOP, frozenset()),
    ],
    "NV": [("nv_energy", "NV Energy", 0.14, _STANDARD_EV, frozenset())],
    "NH": [
        ("eversource_nh", "Eversource Energy", 0.26, _STANDARD, frozenset()),
        ("liberty_nh", "Liberty Utilities", 0.25, _STANDARD, frozenset()),
        ("unitil_nh", "Unitil", 0.27, _STANDARD, frozenset()),
    ],
    "NJ": [
        ("pseg", "PSE&G", 0.18, _STANDARD_EV, frozenset()),
        ("jcpl", "Jersey Central Power & Light", 0.17, _STANDARD, frozenset()),
        ("ace", "Atlantic City Electric", 0.18, _STANDARD, frozenset()),
    ],
    "NM": [
        ("pnm", "PNM", 0.14, _STANDARD, frozenset()),
        ("epe_nm", "El Paso Electric", 0.13, _STANDARD, frozenset()),
    ],
    "NY": [
        # New York City by zip prefix; the rest of the state is hashed between the other two.
        ("coned", "Consolidated Edison", 0.27, _CONED, _NYC),
        ("national_grid_ny", "National Grid", 0.21, _STANDARD, frozenset()),
        ("nyseg", "NYSEG", 0.20, _STANDARD, frozenset()),
    ],
    "NC": [
        ("duke_carolinas_nc", "Duke Energy Carolinas", 0.13, _STANDARD_EV, frozenset()),
        ("duke_progress", "Duke Energy Progress", 0.13, _STANDARD, frozenset()),
        ("dominion_nc", "Dominion Energy North Carolina", 0.13, _STANDARD, frozenset()),
    ],
    "ND": [
        ("xcel_nd", "Xcel Energy", 0.12, _STANDARD, frozenset()),
        ("mdu", "Montana-Dakota Utilities", 0.12, _STANDARD, frozenset()),
    ],
    "OH": [
        ("aep_ohio", "AEP Ohio", 0.15, _STANDARD_EV, frozenset()),
        ("duke_oh", "Duke Energy Ohio", 0.15, _STANDARD, frozenset()),
        ("ohio_edison", "Ohio Edison", 0.15, _STANDARD, frozenset()),
    ],
    "OK": [
        ("oge", "Oklahoma Gas & Electric", 0.12, _STANDARD, frozenset()),
        ("pso", "Public Service Company of Oklahoma", 0.12, _STANDARD, frozenset()),
    ],
    "OR": [
        ("pge_or", "Portland General Electric", 0.15, _STANDARD_EV, frozenset()),
        ("pacific_power", "Pacific Power", 0.13, _STANDARD, frozenset()),
    ],
    "PA": [
        ("peco", "PECO", 0.17, _STANDARD_EV, frozenset()),
        ("ppl", "PPL Electric Utilities", 0.17, _STANDARD, frozenset()),
        ("duquesne", "Duquesne Light", 0.16, _STANDARD, frozenset()),
    ],
    "PR": [("luma", "LUMA Energy (PREPA)", 0.25, _ISLAND, frozenset())],
    "RI": [("ri_energy", "Rhode Island Energy", 0.28, _STANDARD, frozenset())],
    "SC": [
        ("dominion_sc", "Dominion Energy South Carolina", 0.15, _STANDARD, frozenset()),
        ("duke_carolinas_sc", "Duke Energy Carolinas", 0.13, _STANDARD_EV, frozenset()),
        ("santee_cooper", "Santee Cooper", 0.13, _MUNI, frozenset()),
    ],
    "SD": [
        ("black_hills_sd", "Black Hills Energy", 0.14, _STANDARD, frozenset()),
        ("xcel_sd", "Xcel Energy", 0.13, _STANDARD, frozenset()),
    ],
    "TN": [
        ("nes", "Nashville Electric Service", 0.12, _MUNI, frozenset()),
        ("mlgw", "Memphis Light, Gas & Water", 0.11, _MUNI, frozenset()),
        ("kub", "Knoxville Utilities Board", 0.12, _MUNI, frozenset()),
    ],
    "TX": [
        ("oncor", "Oncor Electric Delivery", 0.15, _STANDARD_EV, frozenset()),
        ("centerpoint", "CenterPoint Energy", 0.15, _STANDARD, frozenset()),
        ("austin_energy", "Austin Energy", 0.13, _MUNI, frozenset()),
    ],
    "UT": [("rmp_ut", "Rocky Mountain Power", 0.12, _STANDARD_EV, frozenset())],
    "VT": [
        ("gmp", "Green Mountain Power", 0.21, _STANDARD_EV, frozenset()),
        ("bed", "Burlington Electric Department", 0.19, _MUNI, frozenset()),
    ],
    "VA": [
        ("dominion_va", "Dominion Energy Virginia", 0.14, _STANDARD_EV, frozenset()),
        ("apco_va", "Appalachian Power", 0.14, _STANDARD, frozenset()),
    ],
    "WA": [
        ("pse", "Puget Sound Energy", 0.13, _STANDARD_EV, frozenset()),
        ("seattle_city_light", "Seattle City Light", 0.12, _MUNI, frozenset()),
        ("avista_wa", "Avista Utilities", 0.11, _STANDARD, frozenset()),
    ],
    "WV": [
        ("apco_wv", "Appalachian Power", 0.14, _STANDARD, frozenset()),
        ("mon_power", "Mon Power", 0.14, _STANDARD, frozenset()),
    ],
    "WI": [
        ("we_energies", "We Energies", 0.18, _STANDARD_EV, frozenset()),
        ("alliant_wi", "Alliant Energy", 0.18, _STANDARD, frozenset()),
        ("xcel_wi", "Xcel Energy", 0.16, _STANDARD, frozenset()),
    ],
    "WY": [
        ("rmp_wy", "Rocky Mountain Power", 0.12, _STANDARD, frozenset()),
        ("black_hills_wy", "Black Hills Energy", 0.13, _STANDARD, frozenset()),
    ],
    # Territories, freely associated states and the military post codes the `zipcodes` package
    # also knows: one utility each, so that every known zip code gets an answer.
    "VI": [("wapa", "Virgin Islands Water and Power Authority", 0.38, _ISLAND, frozenset())],
    "GU": [("gpa", "Guam Power Authority", 0.30, _ISLAND, frozenset())],
    "AS": [("aspa", "American Samoa Power Authority", 0.32, _ISLAND, frozenset())],
    "MP": [("cuc", "Commonwealth Utilities Corporation", 0.33, _ISLAND, frozenset())],
    "FM": [("fsm_utilities", "FSM Public Utilities", 0.40, _ISLAND, frozenset())],
    "PW": [("ppuc", "Palau Public Utilities Corporation", 0.36, _ISLAND, frozenset())],
    "MH": [("mec", "Marshalls Energy Company", 0.42, _ISLAND, frozenset())],
    "AA": [("mil_aa", "Military Housing Electric, Americas", 0.12, _ISLAND, frozenset())],
    "AE": [("mil_ae", "Military Housing Electric, Europe", 0.12, _ISLAND, frozenset())],
    "AP": [("mil_ap", "Military Housing Electric, Pacific", 0.12, _ISLAND, frozenset())],
}

# Where the `zipcodes` data has no usable IANA zone (military codes, one odd Alaskan entry).
_FALLBACK_TIMEZONE = {"AK": "America/Anchorage"}


def _build() -> tuple[dict[str, tuple[SandboxUtility, ...]], dict[str, SandboxUtility]]:
    by_state: dict[str, tuple[SandboxUtility, ...]] = {}
    by_id: dict[str, SandboxUtility] = {}
    for state, rows in _TABLE.items():
        utilities = []
        for slug, name, base_rate, plan_set, zip3 in rows:
            prefix = f"{state.lower()}_{slug}"
            plans = tuple(
                SandboxRatePlan(id=f"ws_rp_{prefix}_{code}", name=plan_name, kind=kind)
                for code, plan_name, kind in plan_set
            )
            utility = SandboxUtility(
                id=f"ws_util_{prefix}",
                name=name,
                state=state,
                base_rate_usd_per_kwh=base_rate,
                rate_plans=plans,
                zip3=zip3,
            )
            assert utility.id not in by_id, f"duplicate sandbox utility id {utility.id}"
            by_id[utility.id] = utility
            utilities.append(utility)
        by_state[state] = tuple(utilities)
    return by_state, by_id


UTILITIES_BY_STATE, UTILITIES_BY_ID = _build()
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
