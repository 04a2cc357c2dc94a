"""Customers, vehicles, meters, resources and charge reports on Volue Spark (docs/upstreams/spark.md).

A customer is a Spark user; everything else hangs off that user, so it waits for the user's id
(parents first). Spark has no update calls in the quickstart: a record once there is not re-sent,
and a later change shows on its link as out of date upstream (`Adapter.updates`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import models

from devices.models import Device
from homes.models import Customer, Home, Meter
from homes.services import zip_facts
from portal.tenancy import OrgOwned

from ... import spark
from ...http import UpstreamError
from ...models import ChargeReport, Platform, UpstreamLink
from ..base import Adapter, InDoubt, Parent, register

SPARK_LOCATION_TYPES = {"residential": "Residential", "commercial": "Commercial", "other": "Other"}


def coordinates(home: Home) -> tuple[Decimal | float, Decimal | float]:
    """The home's coordinates, or its zip code's centre (Spark requires a location)."""
    latitude, longitude = home.latitude, home.longitude
    if latitude is not None and longitude is not None:  # home.has_coordinates
        return latitude, longitude
    facts = zip_facts(home.zip_code)
    if facts.get("lat") and facts.get("long"):
        return float(facts["lat"]), float(facts["long"])
    raise ValueError(f"Home {home.name} has no coordinates and its zip code has no known centre.")


class _CreateOnce[M: OrgOwned](Adapter[M]):
    """Spark resources are created once; later changes have no endpoint to go to."""

    platform = Platform.SPARK
    updates = False

    @property
    def no_update_note(self) -> str:  # type: ignore[override]  # a property over a class attribute
        return f"changes not sent: Spark has no update call for {self.label}s"

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        raise NotImplementedError

    def push(
        self,
        client: spark.SparkClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        return link.remote_id or self.create(client, payload, parent_remote_id)


class SparkUser(_CreateOnce[Customer]):
    model = Customer
    label = "user"

    def payload(self, record: Customer, parent_remote_id: str) -> dict[str, Any]:
        return spark.user_payload()

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        return client.create_user(payload)


class _UnderUser[M: OrgOwned](_CreateOnce[M]):
    # The field of the payload Spark keeps unique under one user (a 409 on a second one, see
    # docs/upstreams/spark.md): a lost create is sent again and "already there" means it is ours.
    unique_key = ""

    def customer_of(self, record: M) -> Customer:
        raise NotImplementedError

    def parent(self, record: M) -> Parent:
        customer = self.customer_of(record)
        return Parent(customer, Platform.SPARK, label=f"user {customer.name}")

    def can_recover(self, sent: dict[str, Any]) -> bool:
        return bool(self.unique_key and sent.get(self.unique_key))

    def recover(
        self,
        client: spark.SparkClient,
        link: UpstreamLink,
        sent: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if not self.can_recover(sent):
            return super().recover(client, link, sent, parent_remote_id)
        try:
            return self.create(client, sent, parent_remote_id)  # it was not there: now it is
        except UpstreamError as exc:
            if exc.status_code != 409:
                raise
            return self.already_there(sent)

    def already_there(self, sent: dict[str, Any]) -> str:
        """The remote id of the record Spark says it already has (its id is ours)."""
        return str(sent[self.unique_key])


class SparkVehicle(_UnderUser[Device]):
    model = Device
    label = "vehicle"
    unique_key = "vehicleId"

    def applies(self, record: Device) -> bool:
        return record.kind == "vehicle"

    def customer_of(self, record: Device) -> Customer:
        return record.home.customer

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        d = record.details
        return spark.vehicle_payload(
            vehicle_id=record.custom_id,
            brand=d["brand"],
            model=d["model"],
            year=d["year"],
            vin=d["vin"],
        )

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        return client.create_vehicle(parent_remote_id, payload) or payload["vehicleId"]


class SparkResource(_UnderUser[Device]):
    """Hot water tanks (and EV chargers, as Spark "Charger" resources)."""

    model = Device
    label = "resource"
    unique_key = "resourceId"

    def applies(self, record: Device) -> bool:
        return record.kind in {"hot_water_tank", "ev_charger"}

    def customer_of(self, record: Device) -> Customer:
        return record.home.customer

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        d = record.details
        if record.kind == "hot_water_tank":
            return spark.hot_water_tank_payload(
                resource_id=record.custom_id,
                brand=d["brand"],
                model=d["model"],
                capacity_l=d["capacity_l"],
                heating_elements_w=d["heating_elements_w"],
            )
        return {
            "resourceId": record.custom_id,
            "metadata": {"resourceType": "Charger", "power": int(float(d["power_kw"]) * 1000)},
        }

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        return client.create_resource(parent_remote_id, payload) or payload["resourceId"]


class SparkMeter(_UnderUser[Meter]):
    model = Meter
    label = "meter"
    unique_key = "meterPointId"

    def already_there(self, sent: dict[str, Any]) -> str:
        # Spark chose the meterId and does not list a user's meters: a person must find it.
        raise InDoubt(
            f"Spark already has a meter with meterPointId {sent['meterPointId']!r} for this user, "
            "most likely the one the create whose answer was lost made. Spark chose its meterId: "
            "find it on Spark and use it here."
        )

    def customer_of(self, record: Meter) -> Customer:
        return record.home.customer

    def dependents(self, changed: models.Model) -> Iterable[Meter]:
        return changed.meters.all() if isinstance(changed, Home) else ()

    def payload(self, record: Meter, parent_remote_id: str) -> dict[str, Any]:
        home = record.home
        latitude, longitude = coordinates(home)
        return spark.meter_payload(
            street=home.street or home.name,
            city=home.city,
            zip_code=home.zip_code,
            latitude=latitude,
            longitude=longitude,
            meter_point_id=record.meter_point_id or record.meter_number,
            meter_number=record.meter_number,
            location_type=SPARK_LOCATION_TYPES.get(record.location_type, "Other"),
        )

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        return client.create_meter(parent_remote_id, payload)


class SparkChargeReport(_CreateOnce[ChargeReport]):
    """A VehicleChargeAction report, sent once its vehicle is on Spark."""

    model = ChargeReport
    label = "report"

    def parent(self, record: ChargeReport) -> Parent:
        return Parent(record.vehicle, Platform.SPARK, label=f"vehicle {record.vehicle.custom_id}")

    def payload(self, record: ChargeReport, parent_remote_id: str) -> dict[str, Any]:
        latitude, longitude = coordinates(record.vehicle.home)
        return spark.charge_report_payload(
            event_id=(
                record.event.event_id
                if record.event is not None
                else f"gridfolio-report-{record.pk}"
            ),
            name=record.name,
            resource_id=parent_remote_id,
            latitude=latitude,
            longitude=longitude,
            action=record.action,
            power_w=record.power_w,
            state_of_charge=record.state_of_charge,
            battery_capacity_wh=record.battery_capacity_wh,
        )

    def create(
        self, client: spark.SparkClient, payload: dict[str, Any], parent_remote_id: str
    ) -> str:
        return client.send_report(payload)


register(SparkUser())
register(SparkVehicle())
register(SparkResource())
register(SparkMeter())
register(SparkChargeReport())
