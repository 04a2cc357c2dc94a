"""Meter readings pushed to Wattics: one packet per request, in order, in the meter's local time,
each retried until accepted, resumed after a crash from Wattics' own last packet
(`docs/upstreams/wattics.md`). A stream never fails: it is behind until Wattics takes its packets,
or paused until a person saves the connection when Wattics refuses the credentials."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, DateTimeField, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from homes.models import Meter
from readings.models import Reading, ReadingChannel, Series

from .. import wattics
from ..http import UpstreamError
from ..models import Channel, Platform, Profile, UpstreamLink
from .base import Adapter, FailurePlan, register

# The cursor is saved every this many packets (and at the end): after a crash the stream resumes
# from Wattics' own last packet anyway, so saving each one would only slow the push down.
SAVE_EVERY = 500


# What a stream carries: the energy delivered to the home. Its register (`pC_1`) is "energy
# consumed since the start" and the contract names no register for energy sent back, so a
# net-metered meter's received channel is not streamed (nor a net, which would run the register
# backwards): never a mix of the two in one register.
STREAMED_CHANNEL = ReadingChannel.DELIVERED


def exports_held(meter: Meter) -> bool:
    """Whether the meter has readings Wattics is not sent: its received (export) channel. The
    contract's registers (`pC_1` to `pC_3`, energy consumed since the start) have no place for
    energy sent back."""
    return Series.objects.filter(meter=meter, channel=ReadingChannel.RECEIVED).exists()


def backlog(link: UpstreamLink, meter: Meter) -> int:
    """Readings after the cursor: what Wattics has not acknowledged yet."""
    readings = Reading.objects.filter(series__meter=meter, series__channel=STREAMED_CHANNEL)
    if link.cursor is not None:
        readings = readings.filter(instant__gt=link.cursor)
    return readings.count()


_BEFORE_ANY_READING = datetime(1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StreamsBehind:
    """An organization's Wattics streams that are behind: for the board and the dashboard."""

    streams: int  # behind: their last run failed (retried until 200), or paused for credentials
    since: datetime | None  # the earliest behind_since
    waiting: int  # packets waiting in all of them (readings after each cursor)
    last_error: str  # the most recent failure's message, with its status
    paused: int  # of which paused until the connection is saved again (credentials refused)


def streams_behind(organization_id: int) -> StreamsBehind:
    """The organization's Wattics streams that are behind, in two queries."""
    waiting = (
        Reading.objects.filter(
            series__meter_id=OuterRef("object_id"),
            series__channel=STREAMED_CHANNEL,
            instant__gt=Coalesce(
                OuterRef("cursor"), Value(_BEFORE_ANY_READING), output_field=DateTimeField()
            ),
        )
        .order_by()
        .values("series__meter_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    links = list(
        UpstreamLink.objects.filter(
            organization_id=organization_id,
            platform=Platform.WATTICS,
            channel=Channel.PACKETS,
            behind_since__isnull=False,
        )
        .annotate(waiting=Coalesce(Subquery(waiting, output_field=IntegerField()), 0))
        .order_by("-updated_at")
        .values("behind_since", "waiting", "last_error", "last_status_code", "paused")
    )
    if not links:
        return StreamsBehind(0, None, 0, "", 0)
    latest = links[0]
    status = f"{latest['last_status_code']}: " if latest["last_status_code"] else ""
    return StreamsBehind(
        streams=len(links),
        since=min(link["behind_since"] for link in links if link["behind_since"] is not None),
        waiting=sum(link["waiting"] for link in links),
        last_error=f"{status}{latest['last_error']}" if latest["last_error"] else "",
        paused=sum(1 for link in links if link["paused"]),
    )


class WatticsStream(Adapter[Meter]):
    """A meter with a Wattics data-stream id: its hourly readings as packets."""

    platform = Platform.WATTICS
    # Wattics' current API is its quickstart contract (docs/upstreams/wattics.md): one adapter.
    profiles = frozenset(Profile.values)
    keeps_ids_from = frozenset(Profile.values)
    model = Meter
    channel = Channel.PACKETS
    label = "stream"
    streams = True
    follows_record = True  # a meter given a stream id catches up with the readings it has

    def applies(self, record: Meter) -> bool:
        return bool(record.wattics_stream_id)

    def on_failure(self, link: UpstreamLink, error: UpstreamError, failed_runs: int) -> FailurePlan:
        """Retry until 200, whatever SYNC_MAX_ATTEMPTS says (the guide: "retry transmission until
        you get status=200"); only refused credentials wait for a person."""
        if error.status_code in wattics.AUTH_STATUSES:
            return FailurePlan(
                pause_reason=(
                    f"Wattics refused the credentials ({error.message}): paused until the "
                    "Wattics connection is saved again, then it resumes from the packet it "
                    "stopped at."
                )
            )
        return FailurePlan(
            retry_in_s=wattics.retry_delay_s(
                failed_runs,
                base_s=getattr(settings, "SYNC_BACKOFF_BASE_S", 5.0),
                max_s=settings.WATTICS_RETRY_MAX_S,
                retry_after_s=error.retry_after_s,
            )
        )

    def record_changed(self, link: UpstreamLink, record: Meter) -> None:
        if link.remote_id and link.remote_id != record.wattics_stream_id:
            # Another stream: Wattics' history of the old one says nothing about the new one.
            UpstreamLink.objects.filter(pk=link.pk).update(
                cursor=None, progress={}, remote_id="", payload_hash=""
            )

    def mark_range(self, link: UpstreamLink, start: datetime, end: datetime) -> None:
        if link.cursor is None or start > link.cursor:
            return
        # Readings at or before what Wattics already holds would be discarded: say so, don't send.
        late = Reading.objects.filter(
            series__meter_id=link.object_id,
            series__channel=STREAMED_CHANNEL,
            instant__gte=start,
            instant__lte=min(end, link.cursor),
        ).count()
        progress = dict(link.progress)
        progress["late"] = progress.get("late", 0) + late
        progress["late_range"] = [start.isoformat(), min(end, link.cursor).isoformat()]
        UpstreamLink.objects.filter(pk=link.pk).update(progress=progress)
        link.progress = progress

    def run(
        self,
        client: wattics.WatticsClient,
        link: UpstreamLink,
        record: Meter,
        parent_remote_id: str,
    ) -> None:
        progress = dict(UpstreamLink.objects.get(pk=link.pk).progress)
        started = time.monotonic()
        acked = {"n": 0, "this_run": 0}

        def save(instant: datetime | None, total_wh: float | None) -> None:
            # The rate of this run: all its packets over all its time (acked["n"] is only what
            # came since the last save, 500 at most, which made the rate fall towards 0/s).
            acked["this_run"] += acked["n"]
            progress.update(
                total_wh=total_wh,
                acknowledged=progress.get("acknowledged", 0) + acked["n"],
                rate_per_s=round(acked["this_run"] / max(time.monotonic() - started, 1e-6), 1),
            )
            acked["n"] = 0
            # A long backlog outlives one lease: each save renews it, or stops this run if the
            # lease ran out and another worker may be pushing the stream (never two at once).
            from .. import engine  # here, as before the rename

            engine.renew_claim(link)
            UpstreamLink.objects.filter(pk=link.pk).update(
                cursor=instant, progress=progress, updated_at=timezone.now()
            )

        def on_ack(instant: datetime, total_wh: float | None) -> None:
            acked["n"] += 1
            if acked["n"] >= SAVE_EVERY:
                save(instant, total_wh)

        pusher = wattics.StreamPusher(
            client,
            record.wattics_stream_id,
            ZoneInfo(record.home.timezone or record.organization.timezone),
            cast(wattics.PacketFormat, record.wattics_format),  # the field's choices
            cursor=link.cursor,
            total_wh=float(progress.get("total_wh") or 0.0),
            on_ack=on_ack,
            max_attempts=settings.WATTICS_PACKET_ATTEMPTS,
            base_delay_s=settings.WATTICS_RETRY_BASE_S,
        )
        pusher.resume()  # Wattics' own last packet: no duplicate and no hole after a crash
        rows = Reading.objects.filter(series__meter=record, series__channel=STREAMED_CHANNEL)
        if pusher.cursor is not None:
            rows = rows.filter(instant__gt=pusher.cursor)
        # A generator (QuerySet.iterator's), which the stubs call an Iterator: it can be closed.
        readings = cast(
            Generator[tuple[datetime, float]],
            rows.order_by("instant").values_list("instant", "value_kwh").iterator(chunk_size=2000),
        )
        try:
            result = pusher.push(readings)
        finally:
            # A push that stops early leaves the server-side cursor open: close it now, not when
            # the garbage collector gets to it in the middle of another query on this connection
            # (seen on PostgreSQL as a hung test: psycopg waiting for an answer never coming).
            readings.close()
        save(result.cursor, result.total_wh)
        link.remote_id = record.wattics_stream_id
        link.cursor = result.cursor
        link.payload_hash = result.cursor.isoformat() if result.cursor else ""
        # The link keeps the status in its own column: the message without its "503: " prefix.
        message = result.error.removeprefix(f"{result.status_code}: ")
        if result.outcome is wattics.PushOutcome.RETRY_LATER:
            raise UpstreamError(
                message,
                permanent=False,
                status_code=result.status_code,
                retry_after_s=result.retry_after_s,
            )
        if result.outcome is wattics.PushOutcome.STOPPED:
            if result.status_code is None:
                # A reading that cannot be written as a packet: rejected until it is corrected.
                raise ValueError(result.error)
            raise UpstreamError(message, permanent=True, status_code=result.status_code)


register(WatticsStream())
