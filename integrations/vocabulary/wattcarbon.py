"""WattCarbon's vocabulary: device kinds and enum values (docs/upstreams/wattcarbon.md, "Vocabulary").

Kinds. The quickstart contract (seed 000) documents two device kinds, each by an example: `solar` and
`electrification`. They are the only kinds the portal sends. Batteries, demand response and EV
chargers are categories WattCarbon names without giving them a quickstart `kind`: their WattCarbon
link says NOT_ACCEPTED_NOTE and no call is made (the current API's `storage_direct`,
`demand_response_eemetered`, ... belong to the "current" profile, which the portal does not speak).

Enum values. The seed shows ONE value of each enum field (SEED_VALUES). The lists, where every
other value is OUR ASSUMPTION, are kept in devices/vocabulary.py (a device's forms offer them) and
re-exported here. A value the platform refuses comes back as a 422 naming the field and what it
takes, and the link is rejected with those words (`WattCarbonClient.error_message`). Then change the list there,
in docs/upstreams/wattcarbon.md, and in the emulator's own copy
(integrations/sandbox/wattcarbon/vocabulary.py), which this module must never feed.
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

# The enum lists themselves are facts about devices, kept below this layer (devices/vocabulary.py).
from devices.vocabulary import (  # noqa: E402
    BUILDING_TYPES,
    EXTERNAL_REGISTRIES,
    HEATING_BACKUP_SYSTEMS,
    INVERTER_DATA_SOURCES,
    PREVIOUS_FUELS,
)

__all__ = [
    "BUILDING_TYPES",
    "DEVICE_KINDS",
    "EXTERNAL_REGISTRIES",
    "HEATING_BACKUP_SYSTEMS",
    "INVERTER_DATA_SOURCES",
    "NOT_ACCEPTED_NOTE",
    "PREVIOUS_FUELS",
    "PROFILE",
    "SEED_VALUES",
    "UNDOCUMENTED_KINDS",
]
