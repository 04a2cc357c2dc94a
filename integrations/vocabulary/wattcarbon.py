"""WattCarbon's vocabulary: device kinds and enum values (docs/upstreams/wattcarbon.md, "Vocabulary").

Kinds. The quickstart contract (seed 000) documents two device kinds, each by an example: `solar` and
`electrification`. They are the only kinds the portal sends. Batteries, demand response and EV
chargers are categories WattCarbon names without giving them a quickstart `kind`: their WattCarbon
link says NOT_ACCEPTED_NOTE and no call is made (the current API's `storage_direct`,
`demand_response_eemetered`, ... belong to the "current" profile: ASSET_KINDS below).

Current profile (the developer guide of Dec 2025): devices go as assets whose `kind` names a
methodology. The guide lists the common kinds and leaves the full list and each kind's fields
unpublished, so the mapping is data here: ASSET_KINDS (our kind -> theirs) and ASSET_KIND_FIELDS
(the fields of each kind we send, under their camelCase names; a kind absent has none we know).

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

# --- current profile ---------------------------------------------------------------------------
# Our device kind -> the current asset `kind` (docs/upstreams/wattcarbon.md, "Current profile").
ASSET_KINDS: dict[str, str] = {
    "solar": "solar_direct",
    "electrification": "electrification_eemetered",
    "battery": "storage_direct",
    "demand_response": "demand_response_eemetered",
}
# The kinds the guide lists as common (the ones we map to, and the two we have no device for).
PUBLISHED_ASSET_KINDS: tuple[str, ...] = (
    "solar_direct",
    "storage_direct",
    "electrification_eemetered",
    "energy_efficiency_eemetered",
    "demand_response_eemetered",
    "tracking_building",
)
# Our kinds WattCarbon names as a category without any published asset kind: linked, not sent.
NOT_ACCEPTED_CURRENT: dict[str, str] = {"ev_charger": "EV charging"}
NOT_ACCEPTED_CURRENT_NOTE = (
    "not accepted by WattCarbon in this profile: none of the asset kinds its developer guide "
    "publishes (solar_direct, storage_direct, electrification_eemetered, "
    "energy_efficiency_eemetered, demand_response_eemetered, tracking_building) is for EV chargers"
)
# The fields each asset kind takes, as our kind fields' upstream names (devices/kinds.py); the
# quickstart's `externalRegistryDeviceId` is `externalRegistryAssetId` on an asset. The guide
# publishes no field of storage or demand-response assets: those go with the common fields only.
RENAMED_FOR_ASSETS: dict[str, str] = {"externalRegistryDeviceId": "externalRegistryAssetId"}
# A demand-response asset's events document: its `type` and its CSV columns (the guide).
DR_EVENTS_DOCUMENT_TYPE = "demand_response_events"
DR_EVENTS_HEADER = ("Event Start Time", "Event End Time")
METER_API_PROVIDER = "manual"
METER_TYPE = "electricity"  # our readings are electricity kWh; gas meters are not modelled

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
    "ASSET_KINDS",
    "BUILDING_TYPES",
    "DEVICE_KINDS",
    "DR_EVENTS_DOCUMENT_TYPE",
    "DR_EVENTS_HEADER",
    "EXTERNAL_REGISTRIES",
    "HEATING_BACKUP_SYSTEMS",
    "INVERTER_DATA_SOURCES",
    "METER_API_PROVIDER",
    "METER_TYPE",
    "NOT_ACCEPTED_CURRENT",
    "NOT_ACCEPTED_CURRENT_NOTE",
    "NOT_ACCEPTED_NOTE",
    "PREVIOUS_FUELS",
    "PROFILE",
    "PUBLISHED_ASSET_KINDS",
    "RENAMED_FOR_ASSETS",
    "SEED_VALUES",
    "UNDOCUMENTED_KINDS",
]
