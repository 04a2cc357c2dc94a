"""WattCarbon's vocabulary: device kinds and enum values (docs/upstreams/wattcarbon.md, "Vocabulary").

Kinds. The quickstart contract (seed 000) documents two device kinds, each by an example: `solar` and
`electrification`. They are the only kinds the portal sends. Batteries, demand response and EV
chargers are categories WattCarbon names without giving them a quickstart `kind`: their WattCarbon
link says NOT_ACCEPTED_NOTE and no call is made (the current API's `storage_direct`,
`demand_response_eemetered`, ... belong to the "current" profile, which the portal does not speak).

Enum values. The seed shows ONE value of each enum field below (SEED_VALUES). Every other value in
these lists is OUR ASSUMPTION: WattCarbon publishes no full list. A value the platform refuses comes
back as a 422 naming the field and what it takes, and the link is rejected with those words
(`WattCarbonClient.error_message`). Then change the list here, in docs/upstreams/wattcarbon.md, and
in the emulator's own copy (integrations/sandbox/wattcarbon/vocabulary.py), which this module must
never feed.
"""

from __future__ import annotations

PROFILE = "quickstart"

# Our device kind -> WattCarbon's `kind`, for the kinds the quickstart documents.
DEVICE_KINDS: dict[str, str] = {"solar": "solar", "electrification": "electrification"}
# Our device kinds WattCarbon names as categories (storage, demand response, EV charging) with no
# documented quickstart `kind`: linked, shown as not sent, never called.
UNDOCUMENTED_KINDS: dict[str, str] = {
    "battery": "storage",
    "demand_response": "demand response",
    "ev_charger": "EV charging",
}
NOT_ACCEPTED_NOTE = (
    "not accepted by WattCarbon in this profile: its quickstart contract documents only solar "
    "and electrification devices"
)

# The one value of each enum field the seed shows (camelCase field: value).
SEED_VALUES: dict[str, str] = {
    "inverterDataSource": "enphase",
    "externalRegistryName": "GATS",
    "previousFuel": "natural_gas",
    "buildingType": "single_family_attached",
    "heatingBackupSystem": "electric_resistance",
}

# (value, label) pairs, in the order forms offer them. Besides the seed's value: our assumption.
INVERTER_DATA_SOURCES: list[tuple[str, str]] = [
    ("enphase", "Enphase"),
    ("solaredge", "SolarEdge"),
    ("tesla", "Tesla"),
    ("sma", "SMA"),
    ("fronius", "Fronius"),
    ("generac", "Generac"),
    ("apsystems", "APsystems"),
    ("other", "Other"),
]
EXTERNAL_REGISTRIES: list[tuple[str, str]] = [
    ("GATS", "GATS (PJM)"),
    ("M-RETS", "M-RETS"),
    ("WREGIS", "WREGIS"),
    ("NEPOOL-GIS", "NEPOOL GIS"),
    ("NYGATS", "NYGATS"),
    ("MIRECS", "MIRECS"),
    ("NC-RETS", "NC-RETS"),
    ("ERCOT", "ERCOT"),
    ("NAR", "NAR"),
]
PREVIOUS_FUELS: list[tuple[str, str]] = [
    ("natural_gas", "Natural gas"),
    ("propane", "Propane"),
    ("fuel_oil", "Fuel oil"),
    ("kerosene", "Kerosene"),
    ("wood", "Wood"),
    ("electric_resistance", "Electric resistance"),
    ("none", "None"),
]
BUILDING_TYPES: list[tuple[str, str]] = [
    ("single_family_detached", "Single family, detached"),
    ("single_family_attached", "Single family, attached"),
    ("multifamily_small", "Multifamily, 2-4 units"),
    ("multifamily_large", "Multifamily, 5+ units"),
    ("manufactured_home", "Manufactured home"),
    ("commercial", "Commercial"),
]
HEATING_BACKUP_SYSTEMS: list[tuple[str, str]] = [
    ("electric_resistance", "Electric resistance"),
    ("natural_gas", "Natural gas furnace"),
    ("propane", "Propane furnace"),
    ("fuel_oil", "Fuel oil"),
    ("none", "None"),
]
