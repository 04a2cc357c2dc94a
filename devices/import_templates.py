"""Downloadable CSV templates for the device import: a header and one example row per kind.

Each example row imports as is (a test imports every template), so a user can start from it.
"""

from __future__ import annotations

import csv
import io

from .imports import COMMON_COLUMNS, kind_column
from .kinds import KINDS, DeviceKind

COMMON_EXAMPLE = {
    "location": "60 Greene St, Riverside, IA 52327",
    "utility": "",
    "commencedOperationDate": "2022-08-01",
    "status": "active",
    "ownerName": "",
    "homeName": "60 Greene St",
    "zipcode": "52327",
    "customerName": "Person Person",
    "customerEmail": "person@example.com",
}
# name, customId, meterId and the kind's own columns (WattCarbon's names where it has them).
KIND_EXAMPLES: dict[str, dict[str, str]] = {
    DeviceKind.SOLAR: {
        "name": "Rooftop solar",
        "customId": "SP123",
        "meterId": "M123",
        "nameplateCapacityKw": "123",
        "inverterDataSource": "enphase",
        "inverterDataId": "1234",
        "externalRegistryName": "GATS",
        "externalRegistryDeviceId": "45678",
        "eiaPlantId": "",
    },
    DeviceKind.ELECTRIFICATION: {
        "name": "Heat pump",
        "customId": "HP123",
        "meterId": "M123",
        "areaSqft": "1800",
        "previousFuel": "natural_gas",
        "replacesFurnace": "true",
        "replacesWaterHeater": "false",
        "coldClimate": "false",
        "effectiveUsefulLifeYears": "15",
        "buildingType": "single_family_attached",
        "heatingBackupSystem": "electric_resistance",
        "heatPumpHspf": "9.5",
        "waterHeaterUef": "3.5",
    },
    DeviceKind.BATTERY: {
        "name": "Home battery",
        "customId": "BAT123",
        "meterId": "M123",
        "capacityKwh": "13.5",
        "powerKw": "5",
    },
    DeviceKind.VEHICLE: {
        "name": "Family car",
        "customId": "EV123",
        "meterId": "",
        "brand": "Honda",
        "model": "Accord",
        "year": "2023",
        "vin": "1HGCM82633A004352",
        "batteryCapacityKwh": "",
    },
    DeviceKind.HOT_WATER_TANK: {
        "name": "Water heater",
        "customId": "HWT123",
        "meterId": "M123",
        "brand": "A. O. Smith",
        "model": "HPTU-50",
        "capacityL": "189",
        "heatingElementsW": "4500, 4500",
    },
    DeviceKind.EV_CHARGER: {
        "name": "Garage charger",
        "customId": "EVC123",
        "meterId": "M123",
        "powerKw": "11.5",
    },
    DeviceKind.DEMAND_RESPONSE: {
        "name": "Thermostat program",
        "customId": "DR123",
        "meterId": "M123",
        "programName": "ConnectedSolutions",
        "maxReductionKw": "3",
    },
}


def template_columns(kind: str) -> list[str]:
    return [column.name for column in COMMON_COLUMNS] + [kind_column(f) for f in KINDS[kind].fields]


def template_csv(kind: str) -> str:
    """The template of `kind`: header and one example row (csv quotes the cells that need it)."""
    example = {**COMMON_EXAMPLE, **KIND_EXAMPLES[kind], "kind": str(kind)}
    columns = template_columns(kind)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerow([example.get(column, "") for column in columns])
    return out.getvalue()
