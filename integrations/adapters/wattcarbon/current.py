"""Devices on WattCarbon's current API: a meter, its intervals, an asset, a DR events document.

The developer guide's flow (docs/upstreams/wattcarbon.md, "Current profile"), one link each, all on
the device: its meter (channel `meter`, created first), the meter's hourly intervals (channel
`timeseries`, monthly chunks as in the quickstart, waiting for the meter), the asset (the device's
record link, `meterIds` naming that meter) and, for demand response, the asset's events document
(channel `document`, waiting for the asset).

None of these is the record the quickstart made (a device is not an asset; meters and documents
are new), so a switch of profile creates them all again (`keeps_ids_from` stays empty), and the
quickstart's monthly timeseries chunks do not carry over: the new meter gets every stored month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Max, Min

from devices.kinds import DeviceKind
from devices.models import Device
from homes.models import Home
from readings.models import Reading, ReadingChannel

from ... import wattcarbon
from ...http import UpstreamError
from ...models import Channel, Platform, Profile, SyncChunk, UpstreamLink
from ...vocabulary import wattcarbon as vocabulary
from ..base import Adapter, InDoubt, Parent, register
from .quickstart import WattCarbonTimeseries

CURRENT = frozenset({Profile.CURRENT})
# Credentials refused on a re-sent create say nothing about the record: an ordinary failure.
AUTH_STATUSES = frozenset({401, 403})


def _home_location(home: Home, *, prefer_coordinates: bool) -> wattcarbon.Location | None:
    """The home's place as a `location`: coordinates first for an asset (WattCarbon maps the
    asset's location to weather data), the address object first for a meter (the guide's
    example)."""
    if prefer_coordinates and home.latitude is not None and home.longitude is not None:
        return {"latitude": float(home.latitude), "longitude": float(home.longitude)}
    return wattcarbon.address_location(
        street=home.street,
        city=home.city,
        state=home.state,
        country=home.country,
        postal_code=home.zip_code,
        latitude=home.latitude,
        longitude=home.longitude,
    )


def _devices_of(changed: models.Model, kinds: Iterable[str]) -> Iterable[Device]:
    """The devices (of `kinds`) whose payload embeds `changed`: the device itself, or a home's."""
    if isinstance(changed, Device):
        return [changed] if changed.kind in kinds else []
    if isinstance(changed, Home):
        return changed.devices.filter(kind__in=list(kinds))
    return ()


class WattCarbonMeter(Adapter[Device]):
    """The device's WattCarbon meter (`apiProvider: manual`, electricity), made before its asset.

    WattCarbon chooses the meter's id and publishes no way to read meters back, so a create whose
    answer was lost waits in doubt for a person (the engine's default `recover`)."""

    platform = Platform.WATTCARBON
    model = Device
    channel = Channel.METER
    label = "meter"
    profiles = CURRENT
    updates = False
    no_update_note = "changes not sent: WattCarbon has not published a call that changes a meter"

    def applies(self, record: Device) -> bool:
        return record.kind in vocabulary.ASSET_KINDS

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        return _devices_of(changed, vocabulary.ASSET_KINDS)

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        return wattcarbon.meter_payload(_home_location(record.home, prefer_coordinates=False))

    def push(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        return str(client.create_meter(payload)["id"])  # only ever a create: updates = False


class WattCarbonAsset(Adapter[Device]):
    """The device as a WattCarbon asset of the kind its methodology names, on its meter.

    An EV charger has a link too, saying no published asset kind takes it."""

    platform = Platform.WATTCARBON
    model = Device
    label = "asset"
    profiles = CURRENT
    updates = False
    no_update_note = "changes not sent: WattCarbon has not published an update call for assets"

    def applies(self, record: Device) -> bool:
        return (
            record.kind in vocabulary.ASSET_KINDS or record.kind in vocabulary.NOT_ACCEPTED_CURRENT
        )

    def not_accepted(self, record: Device) -> str:
        return "" if record.kind in vocabulary.ASSET_KINDS else vocabulary.NOT_ACCEPTED_CURRENT_NOTE

    def parent(self, record: Device) -> Parent:
        return Parent(record, Platform.WATTCARBON, Channel.METER, label=f"meter of {record}")

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        return _devices_of(changed, vocabulary.ASSET_KINDS) if isinstance(changed, Home) else ()

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        home = record.home
        kind = vocabulary.ASSET_KINDS[record.kind]
        fields = wattcarbon.ASSET_KIND_FIELDS[kind]
        return wattcarbon.asset_payload(
            name=record.name,
            custom_id=record.custom_id,
            kind=kind,
            location=_home_location(home, prefer_coordinates=True),
            utility=home.utility.name if home.utility is not None else None,
            meter_ids=[parent_remote_id],
            commenced_operation_date=record.commenced_operation_date,
            details={key: value for key, value in record.details.items() if key in fields},
        )

    def push(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        return str(client.create_asset(payload)["id"])  # only ever a create: updates = False

    def can_recover(self, sent: dict[str, Any]) -> bool:
        # customId is unique per account (the guide): sending the lost create again cannot make a
        # second asset. Without one it could.
        return bool(sent.get("customId"))

    def recover(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        sent: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        if not self.can_recover(sent):
            return super().recover(client, link, sent, parent_remote_id)
        try:
            return str(client.create_asset(sent)["id"])  # it was not there: now it is, once
        except UpstreamError as exc:
            if not exc.permanent or exc.status_code in AUTH_STATUSES:
                raise
            # Refused: most likely the customId the lost create took (the status and body of that
            # refusal are not published). WattCarbon publishes no read path for assets, so the
            # id must come from a person.
            raise InDoubt(
                f"WattCarbon refused the create sent again ({exc}): most likely it already has "
                f"the asset with customId {sent['customId']!r} that the create whose answer was "
                "lost made. WattCarbon publishes no way to look an asset up: find its id on "
                "WattCarbon and use it here."
            ) from exc


class WattCarbonIntervals(WattCarbonTimeseries):
    """The device's hourly kWh uploaded to its meter as `start_datetime,energy_kwh`, a calendar
    month a call; only changed months go, and a new meter gets every stored month."""

    label = "intervals"
    profiles = CURRENT
    follows_record = True  # made with the device, so a new meter is filled from what is stored
    header = wattcarbon.INTERVALS_HEADER
    # eemetered methodologies need the baseline before the device started: send every reading.
    from_commencement = False

    def applies(self, record: Device) -> bool:
        return record.kind in vocabulary.ASSET_KINDS

    def parent(self, record: Device) -> Parent:
        return Parent(record, Platform.WATTCARBON, Channel.METER, label=f"meter of {record}")

    def upload(self, client: wattcarbon.WattCarbonClient, remote_id: str, content: bytes) -> None:
        client.upload_meter_intervals_csv(remote_id, content)

    def run(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        record: Device,
        parent_remote_id: str,
    ) -> None:
        if link.remote_id != parent_remote_id:
            # First run, or another meter (made again): it holds none of what is stored.
            self.mark_stored(link, record)
        super().run(client, link, record, parent_remote_id)

    def mark_stored(self, link: UpstreamLink, record: Device) -> None:
        """Every month the device has readings in is to be sent (and none counts as sent)."""
        # Both channels: a month with a battery's charge and discharge is sent as their difference.
        span = Reading.objects.filter(
            series__device=record,
            series__channel__in=(ReadingChannel.DELIVERED, ReadingChannel.RECEIVED),
        ).aggregate(first=Min("instant"), last=Max("instant"))
        SyncChunk.objects.filter(link=link).update(payload_hash="")
        first: datetime | None = span["first"]
        last: datetime | None = span["last"]
        if first is not None and last is not None:
            self.mark_range(link, first, last)


class WattCarbonEventsDocument(Adapter[Device]):
    """A demand-response device's events (devices/kinds.py `events`) as its asset's
    `demand_response_events` document. Each change uploads the whole list again (WattCarbon
    publishes no call that replaces a document); a first upload whose answer was lost waits in
    doubt, as any create whose id WattCarbon chooses."""

    platform = Platform.WATTCARBON
    model = Device
    channel = Channel.DOCUMENT
    label = "events document"
    profiles = CURRENT

    def applies(self, record: Device) -> bool:
        return record.kind == DeviceKind.DEMAND_RESPONSE

    def not_accepted(self, record: Device) -> str:
        if record.details.get("events"):
            return ""
        return "nothing to send: no demand-response events are recorded on this device yet"

    def parent(self, record: Device) -> Parent:
        return Parent(record, Platform.WATTCARBON, Channel.RECORD, label=f"asset {record}")

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        return (
            _devices_of(changed, [DeviceKind.DEMAND_RESPONSE])
            if isinstance(changed, Device)
            else ()
        )

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        return {
            "type": vocabulary.DR_EVENTS_DOCUMENT_TYPE,
            "events": [list(event) for event in record.details.get("events") or []],
        }

    def push(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        payload: dict[str, Any],
        parent_remote_id: str,
    ) -> str:
        events = [
            (datetime.fromisoformat(start), datetime.fromisoformat(end))
            for start, end in payload["events"]
        ]
        answer = client.upload_asset_document(
            parent_remote_id, wattcarbon.dr_events_csv(events), payload["type"]
        )
        # The answer is not published: the document's id when it has one, else the asset's.
        return wattcarbon.created_id(answer) or f"asset {parent_remote_id}"


register(WattCarbonMeter())
register(WattCarbonAsset())
register(WattCarbonIntervals())
register(WattCarbonEventsDocument())
