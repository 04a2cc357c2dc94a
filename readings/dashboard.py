"""What readings put on the dashboard: uploads waiting for a person, the month's kWh by device
kind and its data coverage (aggregate queries: one per figure, never one per record)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone

from devices.kinds import DeviceKind
from portal.dashboard import GlanceRow, Task, with_shares
from portal.models import Membership, Organization

from .models import Reading, ReadingChannel, Series, Upload, UploadStatus

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


def month_readings(organization: Organization, start: datetime) -> QuerySet[Reading]:
    """The delivered channel's readings of the month so far: a device's generation or savings, a
    meter's import (the channel every record has)."""
    return Reading.objects.filter(
        series__organization=organization,
        series__channel=ReadingChannel.DELIVERED,
        instant__gte=start,
    )


def kwh_by_device_kind(organization: Organization, start: datetime) -> list[GlanceRow]:
    sums = (
        month_readings(organization, start)
        .filter(series__device__isnull=False)
        .values("series__device__kind")
        .annotate(kwh=Sum("value_kwh"))
        .order_by()
    )
    return with_shares(
        [(DeviceKind(row["series__device__kind"]).label, row["kwh"] or 0.0) for row in sums]
    )


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
    readings = (
        month_readings(organization, start)
        .filter(series__first_instant__lt=start, instant__lt=now)
        .aggregate(
            devices=Count("instant", filter=Q(series__device__isnull=False)),
            meters=Count("instant", filter=Q(series__meter__isnull=False)),
        )
    )
    rows = []
    for key, label in (("devices", "Devices"), ("meters", "Meters")):
        if series[key]:
            share = min(100.0, 100 * readings[key] / (series[key] * hours))
            rows.append(GlanceRow(f"{label} ({series[key]})", share, round(share)))
    return rows
