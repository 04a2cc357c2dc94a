"""The conditions an organization is alerted to, found fresh by each check: read-only queries, one
or two per kind, each condition named by a stable key (one unresolved alert per key)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.urls import reverse

from integrations.models import (
    Channel,
    Connection,
    LinkState,
    Platform,
    Unsent,
    UpstreamLink,
    WebhookEndpoint,
)
from portal.models import Organization
from readings.models import Series, Upload, UploadStatus

from .models import AlertKind, AlertSettings

# An upload checked and never confirmed for longer than this is waiting on someone.
UPLOAD_WAITING = timedelta(days=1)
LINK_PROBLEM_STATES = (LinkState.FAILED, LinkState.REJECTED, LinkState.IN_DOUBT)


@dataclass(frozen=True)
class Condition:
    """Something wrong now: what, about which record, and where to see it."""

    kind: str
    key: str
    title: str
    detail: str
    url: str


def _ago(now: datetime, then: datetime) -> str:
    hours = int((now - then).total_seconds() // 3600)
    return f"{hours // 24} days ago" if hours >= 48 else f"{hours} hours ago"


def no_data_key(series_id: int) -> str:
    return f"no_data:series:{series_id}"


def _named(link: UpstreamLink) -> str:
    """The link's record as people know it ("Rooftop array (SP-ALV-01)"), or what the link says."""
    record = link.record
    if record is None:
        return f"{link.content_type.model} #{link.object_id}"
    channel = "" if link.channel == Channel.RECORD else f" ({link.get_channel_display().lower()})"
    return f"{record}{channel}"


def no_data(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    """An active device's or a meter's series whose last reading is older than the limit (a device
    or meter that never had readings is not "stopped")."""
    cutoff = now - timedelta(days=limits.no_data_days)
    stale = (
        Series.objects.filter(organization=org, last_instant__lt=cutoff)
        .filter(Q(device__isnull=True) | Q(device__status="active"))
        .select_related("device", "meter")
        .order_by("pk")
    )
    for series in stale:
        owner = series.owner
        assert series.last_instant is not None  # the filter above
        yield Condition(
            AlertKind.NO_DATA,
            no_data_key(series.pk),
            f"No data for {limits.no_data_days} days: {owner}",
            f"The last reading is for {series.last_instant:%Y-%m-%d %H:%M} UTC "
            f"({_ago(now, series.last_instant)}). Upload the missing days to resolve it.",
            owner.get_absolute_url(),
        )


def sync_problems(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    """A link failed, rejected or in doubt, or synced but out of date upstream."""
    links = (
        UpstreamLink.objects.filter(organization=org)
        .filter(
            Q(state__in=LINK_PROBLEM_STATES) | Q(state=LinkState.SYNCED, unsent=Unsent.OUT_OF_DATE)
        )
        .select_related("content_type")
        .prefetch_related("record")
        .order_by("pk")
    )
    for link in links:
        shown = link.get_shown_state_display()
        detail = link.last_error or link.unsent_note or ""
        if link.state == LinkState.IN_DOUBT:
            detail = "The answer to its create was lost: say on its page whether it is there."
        yield Condition(
            AlertKind.SYNC_PROBLEM,
            f"link:{link.pk}:{link.shown_state}",
            f"{shown} on {link.get_platform_display()}: {_named(link)}",
            detail[:1000],
            reverse("link_history", args=[link.pk]),
        )


def wattics_behind(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    cutoff = now - timedelta(hours=limits.wattics_behind_hours)
    links = (
        UpstreamLink.objects.filter(
            organization=org,
            platform=Platform.WATTICS,
            channel=Channel.PACKETS,
            behind_since__lt=cutoff,
        )
        .prefetch_related("record")
        .order_by("pk")
    )
    for link in links:
        assert link.behind_since is not None  # the filter above
        error = f" Last error: {link.last_error}" if link.last_error else ""
        yield Condition(
            AlertKind.WATTICS_BEHIND,
            f"wattics_behind:link:{link.pk}",
            f"Wattics stream behind for more than {limits.wattics_behind_hours} hours: "
            f"{_named(link)}",
            f"Behind since {link.behind_since:%Y-%m-%d %H:%M} UTC.{error}",
            reverse("link_history", args=[link.pk]),
        )


def spark_silent(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    """A registered Spark webhook that has received nothing for the limit, since its registration
    or its last delivery."""
    cutoff = now - timedelta(days=limits.spark_silence_days)
    endpoints = (
        WebhookEndpoint.objects.filter(
            organization=org, platform=Platform.SPARK, registered_at__lt=cutoff
        )
        .exclude(remote_id="")
        .annotate(last_event=Max("events__received_at"))
        .filter(Q(last_event__isnull=True) | Q(last_event__lt=cutoff))
    )
    for endpoint in endpoints:
        assert endpoint.registered_at is not None  # the filter above
        last = endpoint.last_event
        since = (
            f"the last one arrived {last:%Y-%m-%d %H:%M} UTC"
            if last
            else f"none since its registration {endpoint.registered_at:%Y-%m-%d %H:%M} UTC"
        )
        yield Condition(
            AlertKind.SPARK_SILENT,
            f"spark_silent:endpoint:{endpoint.pk}",
            f"No Spark webhook delivery for {limits.spark_silence_days} days",
            f"Spark has delivered nothing to the registered webhook: {since}.",
            reverse("integrations"),
        )


def uploads_waiting(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    uploads = Upload.objects.filter(
        organization=org, status=UploadStatus.PREVIEW, created_at__lt=now - UPLOAD_WAITING
    ).order_by("pk")
    for upload in uploads:
        yield Condition(
            AlertKind.UPLOAD_WAITING,
            f"upload_waiting:upload:{upload.pk}",
            f"Upload waiting for confirmation: {upload.filename}",
            f"Checked {upload.created_at:%Y-%m-%d %H:%M} UTC ({_ago(now, upload.created_at)}) "
            "and not confirmed: nothing of it is stored until someone confirms or discards it.",
            reverse("upload_detail", args=[upload.pk]),
        )


def credentials(org: Organization, limits: AlertSettings, now: datetime) -> Iterator[Condition]:
    """A connection whose last sign-in failed, or whose links are paused because the platform
    refused its credentials."""
    paused = set(
        UpstreamLink.objects.filter(organization=org, paused_for_credentials=True).values_list(
            "platform", flat=True
        )
    )
    connections = (
        Connection.objects.filter(organization=org, enabled=True)
        .filter(~Q(last_auth_error="") | Q(platform__in=paused))
        .order_by("pk")
    )
    for connection in connections:
        why = (
            connection.last_auth_error
            or "its streams are paused until the connection is saved again"
        )
        yield Condition(
            AlertKind.CREDENTIALS,
            f"credentials:connection:{connection.pk}",
            f"{connection.get_platform_display()} refuses the credentials",
            f"{why[:900].rstrip('.')}. Save the connection with working credentials to resume.",
            reverse("integrations"),
        )


CHECKS: tuple[Callable[[Organization, AlertSettings, datetime], Iterator[Condition]], ...] = (
    no_data,
    sync_problems,
    wattics_behind,
    spark_silent,
    uploads_waiting,
    credentials,
)


def conditions_of(org: Organization, limits: AlertSettings, now: datetime) -> dict[str, Condition]:
    """Every condition of the organization now, by key."""
    return {c.key: c for check in CHECKS for c in check(org, limits, now)}
