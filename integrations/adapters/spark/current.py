"""Customers, homes, devices and energy usage reports on Volue Spark's published v1 API (the
`current` profile; docs/upstreams/spark.md, "Calls (current)").

A customer is a Spark user, a home is a location of that user (its meters' point ids, its
coordinates when it has them), a vehicle is a resource of the user, every other device a resource
bound to its home's location. The client chooses every id, so ours are derived from our own
records (organization and primary key: stable, unique, never reused): a create whose answer was
lost is recognised by a GET of that id (or a 409 on sending it again), never made twice.

None of these takes over a quickstart id (`keeps_ids_from` is empty): the quickstart's users and
meters have ids Spark made, and its vehicles and resources hang under those users, so a switch to
this profile registers every record again under our own ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from devices.models import Device
from homes.models import Customer, Home, Meter
from portal.tenancy import OrgOwned
from readings.models import Reading, ReadingChannel

from ... import spark
from ...http import UpstreamError
from ...models import EnergyUsageReport, Platform, Profile, UpstreamLink
from ..base import Adapter, Parent, register

# Our device kinds as the published ResourceType (devices/kinds.py). A battery, and a load
# enrolled in demand response, have no closer type than Generic.
RESOURCE_TYPES = {
    "ev_charger": "Charger",
    "electrification": "HVAC",
    "hot_water_tank": "HotWaterTank",
    "solar": "SolarInverter",
    "battery": "Generic",
    "demand_response": "Generic",
}
LOCATION_TYPES = {"residential": "Residential", "commercial": "Commercial", "other": "Other"}


def spark_id(record: OrgOwned, kind: str) -> str:
    """Our id for `record` on Spark: organization and primary key, so stable and unique."""
    return f"gridfolio-{record.organization_id}-{kind}-{record.pk}"


def user_id(customer: Customer) -> str:
    return spark_id(customer, "customer")


def location_id(home: Home) -> str:
    return spark_id(home, "home")


def resource_id(device: Device) -> str:
    return spark_id(device, "device")


def meter_point(meter: Meter) -> str:
    """The id Spark knows a meter by: its metering point id, else the number on it."""
    return meter.meter_point_id or meter.meter_number


def device_meter_point(device: Device) -> str:
    """The meter point a device is behind: its meter's, when that meter is at its home (so among
    its location's `meterPointIds`), else none."""
    meter = device.meter if device.meter_id else None
    return meter_point(meter) if meter is not None and meter.home_id == device.home_id else ""


class _Current[M: OrgOwned](Adapter[M]):
    """An adapter of the current profile whose records carry an id of ours (`id_field`)."""

    platform = Platform.SPARK
    profiles = frozenset({Profile.CURRENT})
    keeps_ids_from: frozenset[str] = frozenset()
    id_field = ""

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        raise NotImplementedError

    def find(
        self, client: spark.SparkClient, link: UpstreamLink, sent: dict[str, Any], parent: str
    ) -> bool:
        """Whether Spark holds the record `sent` would create (a GET of our id)."""
        raise NotImplementedError

    def push(
        self,
        client: spark.SparkClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        return link.remote_id or self.create(client, link, payload, parent_remote_id)

    def can_recover(self, sent: dict[str, Any]) -> bool:
        return bool(sent.get(self.id_field))

    def recover(
        self,
        client: spark.SparkClient,
        link: UpstreamLink,
        sent: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if not self.can_recover(sent):
            return super().recover(client, link, sent, parent_remote_id)
        ours = str(sent[self.id_field])
        if self.find(client, link, sent, parent_remote_id):
            return ours  # the lost create made it
        try:
            return self.create(client, link, sent, parent_remote_id)
        except UpstreamError as exc:
            if exc.status_code != 409:
                raise
            return ours  # made meanwhile under our id: nobody else uses it


class SparkUser(_Current[Customer]):
    """PostUser with our own `userId` (nothing else of a customer goes to Spark)."""

    model = Customer
    label = "user"
    id_field = "userId"

    def payload(self, record: Customer, parent_remote_id: str) -> dict[str, Any]:
        return spark.user_payload(user_id=user_id(record))

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        return client.post_user(payload["userId"])

    def find(
        self, client: spark.SparkClient, link: UpstreamLink, sent: dict[str, Any], parent: str
    ) -> bool:
        return client.get_user(sent["userId"]) is not None


class SparkLocation(_Current[Home]):
    """A home as a location of its customer's user: PostLocation, then PUT with each change
    (of the home, or of its meters: they are its `meterPointIds`)."""

    model = Home
    label = "location"
    id_field = "locationId"

    def parent(self, record: Home) -> Parent:
        return Parent(record.customer, Platform.SPARK, label=f"user {record.customer.name}")

    def dependents(self, changed: models.Model) -> Iterable[Home]:
        return [changed.home] if isinstance(changed, Meter) else ()

    def payload(self, record: Home, parent_remote_id: str) -> dict[str, Any]:
        meters = list(record.meters.order_by("pk"))
        kinds = {meter.location_type for meter in meters}
        # A home is a residence unless its meters say otherwise (and agree on it).
        if not kinds:
            location_type = "Residential"
        elif len(kinds) == 1:
            location_type = LOCATION_TYPES.get(kinds.pop(), "Other")
        else:
            location_type = "Unknown"
        has_coordinates = record.latitude is not None and record.longitude is not None
        return spark.location_payload(
            location_id=location_id(record),
            location_type=location_type,
            meter_point_ids=list(dict.fromkeys(meter_point(meter) for meter in meters)),
            latitude=record.latitude if has_coordinates else None,
            longitude=record.longitude if has_coordinates else None,
        )

    def push(
        self,
        client: spark.SparkClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if link.remote_id:
            return client.put_location(parent_remote_id, payload)  # UpdateLocation
        return super().push(client, link, payload, parent_remote_id)

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        return client.post_location(parent, payload)

    def find(
        self, client: spark.SparkClient, link: UpstreamLink, sent: dict[str, Any], parent: str
    ) -> bool:
        return client.get_location(parent, sent["locationId"]) is not None


class _Resource(_Current[Device]):
    """Resources have no update call (GET and DELETE only): a change once there is not sent."""

    id_field = "resourceId"
    updates = False

    @property
    def no_update_note(self) -> str:  # type: ignore[override]  # a property over a class attribute
        return f"changes not sent: Spark has no update call for {self.label}s"

    def find(
        self, client: spark.SparkClient, link: UpstreamLink, sent: dict[str, Any], parent: str
    ) -> bool:
        return client.get_resource(sent["resourceId"]) is not None


class SparkVehicle(_Resource):
    """PostVehicle: a vehicle is a resource of its user, at no location."""

    model = Device
    label = "vehicle"

    def applies(self, record: Device) -> bool:
        return record.kind == "vehicle"

    def parent(self, record: Device) -> Parent:
        customer = record.home.customer
        return Parent(customer, Platform.SPARK, label=f"user {customer.name}")

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        return spark.resource_payload(resource_id=resource_id(record), resource_type="Vehicle")

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        return client.post_vehicle(parent, payload)


class SparkResource(_Resource):
    """PostLocationBoundResource: every other device, at its home's location, behind its meter
    when it has one there."""

    model = Device
    label = "resource"

    def applies(self, record: Device) -> bool:
        return record.kind in RESOURCE_TYPES

    def parent(self, record: Device) -> Parent:
        return Parent(record.home, Platform.SPARK, label=f"location {record.home.name}")

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        # A meter's point id is in its devices' payloads (shown out of date when it changes).
        return changed.devices.all() if isinstance(changed, Meter) else ()

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        return spark.resource_payload(
            resource_id=resource_id(record),
            resource_type=RESOURCE_TYPES[record.kind],
            meter_point_id=device_meter_point(record),
        )

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        device = Device.objects.select_related("home__customer").get(pk=link.object_id)
        return client.post_location_resource(user_id(device.home.customer), parent, payload)


class SparkEnergyUsageReport(_Current[EnergyUsageReport]):
    """PostReport with one EnergyUsage payload: the device's hourly readings of the period.

    Spark makes the report's id and has no call to read reports, so a report whose answer was
    lost is in doubt (a person checks; `Adapter.recover`)."""

    model = EnergyUsageReport
    label = "report"
    updates = False

    @property
    def no_update_note(self) -> str:  # type: ignore[override]  # a property over a class attribute
        return "changes not sent: a report is sent once (readings changed since)"

    def can_recover(self, sent: dict[str, Any]) -> bool:
        return False

    def parent(self, record: EnergyUsageReport) -> Parent:
        device = record.device
        return Parent(device, Platform.SPARK, label=f"{device.get_kind_display()} {device.name}")

    def payload(self, record: EnergyUsageReport, parent_remote_id: str) -> dict[str, Any]:
        device = record.device
        rows = Reading.objects.filter(
            series__device=device,
            series__channel=ReadingChannel.DELIVERED,
            instant__gte=record.start,
            instant__lt=record.end,
        ).order_by("instant")
        at_location = device.kind != "vehicle"  # a vehicle has no location on Spark
        return spark.energy_usage_report_payload(
            event_id=(record.event.event_id or None) if record.event is not None else None,
            resource_id=parent_remote_id,
            points=rows.values_list("instant", "value_kwh"),
            location_id=location_id(device.home) if at_location else "",
            meter_point_id=device_meter_point(device) if at_location else "",
        )

    def create(
        self, client: spark.SparkClient, link: UpstreamLink, payload: dict[str, Any], parent: str
    ) -> str:
        points = payload["payloads"][0]["points"]
        note = f"EnergyUsage: {len(points)} hourly points from {points[0]['timestamp']} to {points[-1]['timestamp']}"
        with client.carrying(note):
            return client.send_report(payload)


register(SparkUser())
register(SparkLocation())
register(SparkVehicle())
register(SparkResource())
register(SparkEnergyUsageReport())
