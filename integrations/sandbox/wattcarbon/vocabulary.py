"""What the WattCarbon emulator accepts, written down from the contract: docs/upstreams/wattcarbon.md.

Deliberately NOT imported from the portal's side (`integrations/wattcarbon.py`,
`integrations/vocabulary/wattcarbon.py`, `devices/kinds.py`): an emulator that read the client's
lists would accept whatever the client gets wrong. When the two disagree, a test says so
(tests/integrations/test_emulator_independence.py), and the fix is a decision written in the
contract document first, then here and in the client.
"""

from __future__ import annotations

# The quickstart (seed 000) documents two kinds, by example: "Solar Example" and "Electrification
# Example". Storage, demand response, energy efficiency and EV charging are categories the platform
# names elsewhere without a quickstart `kind` value, so this emulator refuses them (422).
DEVICE_KINDS: tuple[str, ...] = ("solar", "electrification")

# Each enum field: the one value the seed shows first, then the values docs/upstreams/wattcarbon.md
# ("Vocabulary") lists as our assumption. WattCarbon publishes no full list.
INVERTER_DATA_SOURCES: tuple[str, ...] = (
    "enphase",  # the seed
    "solaredge",
    "tesla",
    "sma",
    "fronius",
    "generac",
    "apsystems",
    "other",
)
EXTERNAL_REGISTRIES: tuple[str, ...] = (
    "GATS",  # the seed
    "M-RETS",
    "WREGIS",
    "NEPOOL-GIS",
    "NYGATS",
    "MIRECS",
    "NC-RETS",
    "ERCOT",
    "NAR",
)
PREVIOUS_FUELS: tuple[str, ...] = (
    "natural_gas",  # the seed
    "propane",
    "fuel_oil",
    "kerosene",
    "wood",
    "electric_resistance",
    "none",
)
BUILDING_TYPES: tuple[str, ...] = (
    "single_family_attached",  # the seed
    "single_family_detached",
    "multifamily_small",
    "multifamily_large",
    "manufactured_home",
    "commercial",
)
HEATING_BACKUP_SYSTEMS: tuple[str, ...] = (
    "electric_resistance",  # the seed
    "natural_gas",
    "propane",
    "fuel_oil",
    "none",
)

# docs/upstreams/wattcarbon.md: an EIA plant id is required above 1,000 kW.
EIA_PLANT_ID_REQUIRED_ABOVE_KW = 1000
# The seed: the access token "lasts only 24 hours".
TOKEN_LIFETIME_S = 24 * 3600
