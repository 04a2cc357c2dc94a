"""What integrations put on the dashboard: the links a person must act on (models.needs_attention,
the Integrations page's list) and the month's kWh of the records linked on each platform."""

from __future__ import annotations

from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse

from devices.models import Device
from homes.models import Meter
from portal.dashboard import GlanceRow, Task, with_shares
from portal.models import Membership, Organization
from readings.dashboard import DELIVERED
from readings.summaries import totals

from .models import Platform, UpstreamLink, needs_attention
from .templatetags.upstream import state_class

SHOWN = 5


def links_needing_a_person(membership: Membership) -> tuple[list[Task], int]:
    """Failed, rejected, in doubt, out of date upstream or paused for credentials: named by their
    record ("Second charger (EVC-OKA-02)"), linking to the link's history where a person acts."""
    links = UpstreamLink.objects.filter(organization=membership.organization).filter(
        needs_attention()
    )
    first = (
        links.select_related("content_type")
        .prefetch_related("record")
        .order_by("state", "-updated_at")[:SHOWN]
    )
    tasks = [
        Task(
            str(link.record) if link.record else f"{link.content_type.name} #{link.object_id}",
            reverse("link_history", args=[link.pk]),
            (
                "Credentials refused by "
                if link.paused_for_credentials
                else f"{link.get_shown_state_display()} on "
            )
            + link.get_platform_display(),
            state_class(link.shown_state).removeprefix("text-bg-").split()[0],
        )
        for link in first
    ]
    return tasks, links.count()


def kwh_by_platform(organization: Organization, start: datetime) -> list[GlanceRow]:
    """A platform's kWh: the month's readings of the devices and meters linked on it (from the
    day summaries: a few aggregate queries per platform the organization uses)."""
    links = UpstreamLink.objects.filter(organization=organization)
    device_type = ContentType.objects.get_for_model(Device)
    meter_type = ContentType.objects.get_for_model(Meter)
    used = set(links.values_list("platform", flat=True).distinct().order_by())
    rows = []
    for platform in Platform:
        if platform.value not in used:
            continue
        on_platform = links.filter(platform=platform.value)
        linked = Exists(
            on_platform.filter(content_type=device_type, object_id=OuterRef("series__device_id"))
        ) | Exists(
            on_platform.filter(content_type=meter_type, object_id=OuterRef("series__meter_id"))
        )
        kwh = totals(organization, DELIVERED & Q(linked), start)
        rows.append((platform.label, kwh[None].kwh if None in kwh else 0.0))
    return with_shares(rows) if any(value for _, value in rows) else []
