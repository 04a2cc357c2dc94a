"""The WattCarbon emulator's data: the sandbox account, the contract's device schemas, the state."""

from __future__ import annotations

from typing import Any

from integrations.sandbox.base import Emulator

from .vocabulary import (
    BUILDING_TYPES,
    EXTERNAL_REGISTRIES,
    HEATING_BACKUP_SYSTEMS,
    INVERTER_DATA_SOURCES,
    PREVIOUS_FUELS,
)

SANDBOX_EMAIL = "sandbox@gridfolio.test"
SANDBOX_API_KEY = "sandbox-wattcarbon-key"

ErrorList = list[dict[str, Any]]

COMMON_FIELDS = (
    "name",
    "customId",
    "location",
    "utility",
    "deviceOwner",
    "meterId",
    "commencedOperationDate",
    "kind",
)
# Kind-specific fields, camelCase as on the wire. A kind not listed has none documented yet.
# Written out from the seed rather than taken from the client's KIND_FIELDS, so that a typo in
# the client's mapping meets a 422 here. The kinds and enum values are in vocabulary.py,
# written down from docs/upstreams/wattcarbon.md, not imported from the client either.
KIND_SCHEMAS: dict[str, tuple[str, ...]] = {
    "solar": (
        "nameplateCapacityKw",
        "inverterDataId",
        "inverterDataSource",
        "externalRegistryName",
        "externalRegistryDeviceId",
        "eiaPlantId",
    ),
    "electrification": (
        "areaSqft",
        "previousFuel",
        "replacesFurnace",
        "replacesWaterHeater",
        "coldClimate",
        "effectiveUsefulLifeYears",
        "buildingType",
        "heatingBackupSystem",
        "heatPumpHspf",
        "waterHeaterUef",
    ),
}
ENUM_FIELDS: dict[str, tuple[str, ...]] = {
    "inverterDataSource": INVERTER_DATA_SOURCES,
    "externalRegistryName": EXTERNAL_REGISTRIES,
    "previousFuel": PREVIOUS_FUELS,
    "buildingType": BUILDING_TYPES,
    "heatingBackupSystem": HEATING_BACKUP_SYSTEMS,
}
STRING_FIELDS = (
    "customId",
    "utility",
    "meterId",
    "inverterDataId",
    "externalRegistryDeviceId",
)
ADDRESS_FIELDS = ("street", "city", "state", "country", "postalCode")
DEFAULT_EFFECTIVE_USEFUL_LIFE_YEARS = 15  # docs/upstreams/wattcarbon.md


class WattCarbonState(Emulator):
    """The emulator's state and accounts (mixed into WattCarbonEmulator)."""

    accounts: dict[str, str]  # set by WattCarbonEmulator.__init__

    # --- Emulator hooks ---------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {
            "accounts": dict(self.accounts),
            "tokens": {},  # access token -> {"email", "expires_at" (epoch s)}
            "devices": {},  # device id -> {"account", "device" (the body as stored)}
            "timeseries": {},  # device id -> {UTC ISO instant: kWh}
            "flags": {},  # device id -> {UTC ISO instant: ["above_nameplate" | "night", ...]}
            "uploads": {},  # device id -> [summary of each accepted upload]
        }

    def add_account(self, email: str, api_key: str) -> None:
        with self.lock:
            self.accounts[email] = api_key
            self.state["accounts"][email] = api_key
            self.save()

    def expire_tokens(self) -> None:
        with self.lock:
            for token in self.state["tokens"].values():
                token["expires_at"] = 0
            self.save()
