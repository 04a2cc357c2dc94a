"""What readings put on the dashboard: uploads waiting for a person, the month's kWh by device
kind and its data coverage (aggregate queries over the day summaries, a few per figure, never one
per record nor a scan of the month's readings)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Case, Count, Q, Value, When
from django.urls import reverse
from django.utils import timezone

from devices.kinds import DeviceKind
from portal.dashboard import GlanceRow, Task, with_shares
from portal.models import Membership, Organization

from . import summaries
from .models import ReadingChannel, Series, Upload, UploadStatus

SHOWN = 5


def uploads_to_confirm(membership: Membership) -> tuple[list[Task], int]:
    """Uploads checked and waiting: nothing is stored until someone confirms or discards them."""
    waiting = Upload.objects.filter(
        organization=membership.organization, status=UploadStatus.PREVIEW
    )
    first = waiting.select_related("series__device", "series__meter").order_by("created_at")
    tasks = [
        Task(
            f"{upload.filename} for {upload.series.owner}",
            reverse("upload_detail", args=[upload.pk]),
            _waiting_for(upload),
        )
        for upload in first[:SHOWN]
    ]
    return tasks, waiting.count()


def _waiting_for(upload: Upload) -> str:
    skippable = (upload.report or {}).get("skippable_rows") or []
    if skippable:
        rows = ", ".join(map(str, skippable[:3])) + ("…" if len(skippable) > 3 else "")
        return f"Store without row{'s' if len(skippable) > 1 else ''} {rows}?"
    return f"{upload.rows:,} reading{'s' if upload.rows != 1 else ''} to confirm"


# The delivered channel's series: a device's generation or savings, a meter's import (the channel
# every record has); lookups as on Reading and ReadingDay.
DELIVERED = Q(series__channel=ReadingChannel.DELIVERED)


def kwh_by_device_kind(organization: Organization, start: datetime) -> list[GlanceRow]:
    """The month's kWh of the devices by kind (from the day summaries: ``readings.summaries``)."""
    sums = summaries.totals(
        organization,
        DELIVERED & Q(series__device__isnull=False),
        start,
        group="series__device__kind",
    )
    return with_shares([(DeviceKind(kind).label, total.kwh) for kind, total in sums.items()])


def coverage(
    organization: Organization, start: datetime, now: datetime | None = None
) -> list[GlanceRow]:
    """Of the hours so far this month (up to `now`), the share with a reading, for the devices
    and the meters whose readings began before the month (one that began during it would count
    hours it never had)."""
    now = now or timezone.now()
    hours = int((now - start) / timedelta(hours=1))
    if hours < 1:
        return []
    established = Series.objects.filter(
        organization=organization, channel=ReadingChannel.DELIVERED, first_instant__lt=start
    )
    series = established.aggregate(
        devices=Count("pk", filter=Q(device__isnull=False)),
        meters=Count("pk", filter=Q(meter__isnull=False)),
    )
    readings = summaries.totals(
        organization,
        DELIVERED & Q(series__first_instant__lt=start),
        start,
        now,
        group=Case(
            When(series__device__isnull=False, then=Value("devices")), default=Value("meters")
        ),
    )
    rows = []
    for key, label in (("devices", "Devices"), ("meters", "Meters")):
        if series[key]:
            found = readings[key].count if key in readings else 0
            share = min(100.0, 100 * found / (series[key] * hours))
            rows.append(GlanceRow(f"{label} ({series[key]})", share, round(share)))
    return rows
