"""Devices and their hourly readings on WattCarbon (docs/upstreams/wattcarbon.md).

Only the kinds the quickstart contract documents are sent (solar, electrification); a battery, a
demand-response or an EV-charger device gets a WattCarbon link that says it is not accepted in this
profile, and no call is made (integrations/vocabulary/wattcarbon.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, time
from typing import Any

from django.db import connection, models
from django.utils import timezone

from devices.models import Device
from homes.models import Customer, Home, Meter
from readings.models import Reading, ReadingChannel, Series

from ... import wattcarbon
from ...clients import note_calls, readings_note
from ...http import UpstreamError
from ...models import Channel, Platform, SyncChunk, UpstreamLink
from ...outcomes import payload_hash
from ...vocabulary import wattcarbon as vocabulary
from ..base import Adapter, InDoubt, Parent, register


def _month_start(instant: datetime) -> datetime:
    utc = instant.astimezone(UTC)
    return datetime(utc.year, utc.month, 1, tzinfo=UTC)


def _next_month(start: datetime) -> datetime:
    return datetime(start.year + (start.month == 12), start.month % 12 + 1, 1, tzinfo=UTC)


def month_keys(start: datetime, end: datetime) -> list[str]:
    """'YYYY-MM' of every UTC calendar month from start to end (inclusive)."""
    keys, month = [], _month_start(start)
    while month <= end:
        keys.append(f"{month:%Y-%m}")
        month = _next_month(month)
    return keys


class WattCarbonDevice(Adapter[Device]):
    """A solar or electrification device as a WattCarbon device; a battery, demand-response or
    EV-charger device has a link too, which says WattCarbon does not take it in this profile."""

    platform = Platform.WATTCARBON
    model = Device
    label = "device"

    def applies(self, record: Device) -> bool:
        return (
            record.kind in vocabulary.DEVICE_KINDS or record.kind in vocabulary.UNDOCUMENTED_KINDS
        )

    def not_accepted(self, record: Device) -> str:
        return "" if record.kind in vocabulary.DEVICE_KINDS else vocabulary.NOT_ACCEPTED_NOTE

    def dependents(self, changed: models.Model) -> Iterable[Device]:
        if isinstance(changed, Home):
            return changed.devices.all()
        if isinstance(changed, Customer):
            return Device.objects.filter(home__customer=changed, owner_name="")
        if isinstance(changed, Meter):
            return changed.devices.all()
        return ()

    def payload(self, record: Device, parent_remote_id: str) -> dict[str, Any]:
        home = record.home
        kind = vocabulary.DEVICE_KINDS[record.kind]
        fields = wattcarbon.KIND_FIELDS.get(kind, {})
        return wattcarbon.device_payload(
            name=record.name,
            custom_id=record.custom_id,
            kind=kind,
            location=wattcarbon.location_payload(
                street=home.street,
                city=home.city,
                state=home.state,
                country=home.country,
                postal_code=home.zip_code,
                latitude=home.latitude,
                longitude=home.longitude,
            ),
            utility=home.utility.name if home.utility is not None else None,
            owner_name=record.effective_owner_name,
            meter_id=record.meter.meter_number if record.meter is not None else None,
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
        # A 409 on customId (the account already has a device with it) is permanent: the link is
        # rejected with the platform's message and nothing is adopted silently.
        if link.remote_id:
            client.update_device(link.remote_id, payload)
            return link.remote_id
        return str(client.create_device(payload)["id"])

    def can_recover(self, sent: dict[str, Any]) -> bool:
        # customId is unique per account (docs/upstreams/wattcarbon.md): sending the lost create
        # again cannot make a second device. Without one it could.
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
            return str(client.create_device(sent)["id"])  # it was not there: now it is, once
        except UpstreamError as exc:
            if exc.status_code != 409:
                raise
            # There, most likely made by the lost create; WattCarbon has no lookup by customId
            # (GET /devices/{id} only), so its id must come from a person.
            raise InDoubt(
                f"WattCarbon already has a device with customId {sent['customId']!r}, most likely "
                "the one the create whose answer was lost made. WattCarbon cannot be asked for a "
                "device by customId: find its id on WattCarbon and use it here."
            ) from exc


class WattCarbonTimeseries(Adapter[Device]):
    """A device's hourly kWh as monthly CSV uploads: a year is twelve calls, a retry re-sends one month."""

    platform = Platform.WATTCARBON
    model = Device
    channel = Channel.TIMESERIES
    label = "timeseries"
    streams = True

    def applies(self, record: Device) -> bool:
        return record.kind in vocabulary.DEVICE_KINDS  # no device upstream, no readings

    def parent(self, record: Device) -> Parent:
        return Parent(
            record, Platform.WATTCARBON, Channel.RECORD, label=f"device {record.custom_id}"
        )

    def mark_range(self, link: UpstreamLink, start: datetime, end: datetime) -> None:
        keys = month_keys(start, end)
        existing = set(
            SyncChunk.objects.filter(link=link, key__in=keys).values_list("key", flat=True)
        )
        SyncChunk.objects.bulk_create(
            [SyncChunk(link=link, key=key) for key in keys if key not in existing]
        )
        SyncChunk.objects.filter(link=link, key__in=existing).update(dirty=True)

    # What the current profile's intervals (adapters/wattcarbon/current.py) change.
    header: tuple[str, str] = wattcarbon.TIMESERIES_HEADER
    # The platform ignores a device's data before its commenced operation date: don't send it.
    from_commencement = True

    def upload(self, client: wattcarbon.WattCarbonClient, remote_id: str, content: bytes) -> None:
        client.upload_timeseries_csv(remote_id, content)

    def run(
        self,
        client: wattcarbon.WattCarbonClient,
        link: UpstreamLink,
        record: Device,
        parent_remote_id: str,
    ) -> None:
        link.remote_id = parent_remote_id
        commenced = record.commenced_operation_date if self.from_commencement else None
        floor = datetime.combine(commenced, time(), UTC) if commenced else None
        for chunk in SyncChunk.objects.filter(link=link, dirty=True).order_by("key"):
            start = datetime.strptime(chunk.key, "%Y-%m").replace(tzinfo=UTC)
            begin = max(start, floor) if floor else start
            content, rows = month_csv(record, begin, _next_month(start), self.header)
            digest = hashlib.sha256(content).hexdigest()
            if rows and digest != chunk.payload_hash:
                note_calls(client, readings_note(content, rows))
                self.upload(client, parent_remote_id, content)
            SyncChunk.objects.filter(pk=chunk.pk).update(
                dirty=False, payload_hash=digest, rows=rows, synced_at=timezone.now()
            )
        link.payload_hash = payload_hash(
            list(
                SyncChunk.objects.filter(link=link)
                .order_by("key")
                .values_list("key", "payload_hash")
            )
        )


def month_csv(
    device: Device,
    start: datetime,
    end: datetime,
    header: tuple[str, str] = wattcarbon.TIMESERIES_HEADER,
) -> tuple[bytes, int]:
    """The device's readings in [start, end) as the upload's CSV, and how many rows it has
    (`header`: the quickstart's timeseries columns, or the current profile's intervals').

    WattCarbon counts generation and reduced consumption as positive: a device's delivered
    channel (what it generates or saves). A device that also has a received channel (what it
    draws: a battery's charge) sends delivered minus received each hour, never one channel
    alone, so an hour in which it drew more than it gave is negative; an hour that has one of
    the two channels and not the other is not sent (its energy is not known).

    On PostgreSQL the database writes the CSV (COPY ... TO STDOUT): a month is 744 rows, and
    reading them as Python datetimes (Django's tz loader runs per value) then formatting them
    again cost ~5 ms of worker CPU a month, more than the upload itself. The rows are the
    table's primary key order, one per hour, so the checks of `timeseries_csv` hold by
    construction. Elsewhere (SQLite, the embedded default) the generic path builds it.
    """
    channels = dict(
        Series.objects.filter(
            device=device, channel__in=(ReadingChannel.DELIVERED, ReadingChannel.RECEIVED)
        ).values_list("channel", "pk")
    )
    delivered = channels.get(ReadingChannel.DELIVERED)
    received = channels.get(ReadingChannel.RECEIVED)
    if delivered is None or start >= end:
        return b"", 0
    if connection.vendor != "postgresql":
        rows = _hours(delivered, start, end)
        if received is not None:
            drawn = dict(_hours(received, start, end))
            rows = [
                (instant, net_kwh(value, drawn[instant]))
                for instant, value in rows
                if instant in drawn
            ]
        return (wattcarbon.timeseries_csv(rows, header) if rows else b""), len(rows)
    from psycopg import sql  # PostgreSQL only

    value: sql.Composable = sql.SQL("d.value_kwh")
    join, params = sql.SQL(""), [delivered]
    if received is not None:
        # round(), as net_kwh: 1.2 - 0.2 is sent as 1.0, not 0.9999999999999999.
        value = sql.SQL("round((d.value_kwh - r.value_kwh)::numeric, {})::float8").format(
            sql.Literal(NET_DIGITS)
        )
        join = sql.SQL(" JOIN devices_reading r ON r.series_id = %s AND r.instant = d.instant")
        params = [received, delivered]
    query = sql.SQL(
        "COPY (SELECT to_char(d.instant AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"
        " AS {}, {} AS {} FROM devices_reading d{}"
        " WHERE d.series_id = %s AND d.instant >= %s AND d.instant < %s ORDER BY d.instant)"
        " TO STDOUT (FORMAT csv, HEADER)"
    ).format(sql.Identifier(header[0]), value, sql.Identifier(header[1]), join)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(query, (*params, start, end)) as copy,
    ):
        content = b"".join(bytes(block) for block in copy)
    return content, max(0, content.count(b"\n") - 1)


NET_DIGITS = 9  # kWh: a milliwatt-hour's millionth, far below any meter's resolution


def net_kwh(delivered: float, received: float) -> float:
    """An hour's delivered minus received, without the float subtraction's last-digit noise."""
    return round(delivered - received, NET_DIGITS)


def _hours(series_id: int, start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    return list(
        Reading.objects.filter(series_id=series_id, instant__gte=start, instant__lt=end)
        .order_by("instant")
        .values_list("instant", "value_kwh")
    )


register(WattCarbonDevice())
register(WattCarbonTimeseries())
