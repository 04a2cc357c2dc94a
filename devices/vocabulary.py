"""The values a device's enum fields take (inverter data sources, registries, fuels, building
types, heating backups): the one place they are kept.

They are the values WattCarbon's quickstart uses (docs/upstreams/wattcarbon.md, "Vocabulary"), kept
here, below the integrations layer, because a device's form, import and admin offer them as facts
about the device. The seed shows ONE value of each (integrations.vocabulary.wattcarbon.SEED_VALUES);
every other value is OUR ASSUMPTION: WattCarbon publishes no full list. A value the platform refuses
comes back as a 422 naming it, shown on the link in the platform's words; then change the list here,
in docs/upstreams/wattcarbon.md, and in the emulator's own copy
(integrations/sandbox/wattcarbon/vocabulary.py), which this module must never feed.
"""

from __future__ import annotations

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
