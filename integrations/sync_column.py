"""The "Sync" column and filter of the customers, homes, meters and devices lists
(portal/lists.py): each record's state across its platforms, in the words of the Integrations page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef

from portal.lists import Cell, ListColumn

from .models import LinkState, UpstreamLink, needs_attention

ATTENTION, PENDING, SYNCED, NONE = "attention", "pending", "synced", "none"
CHOICES = [
    (ATTENTION, "Needs attention"),
    (PENDING, "Pending"),
    (SYNCED, "Synced"),
    (NONE, "On no platform"),
]
MODELS = ("homes.Customer", "homes.Home", "homes.Meter", "devices.Device")


def _links(model: type[models.Model]) -> models.QuerySet[UpstreamLink]:
    return UpstreamLink.objects.filter(
        content_type=ContentType.objects.get_for_model(model), object_id=OuterRef("pk")
    )


def narrow(queryset: models.QuerySet, value: str) -> models.QuerySet:
    links = _links(queryset.model)
    attention = Exists(links.filter(needs_attention()))
    if value == ATTENTION:
        return queryset.filter(attention)
    if value == PENDING:
        return queryset.filter(
            Exists(links.filter(state__in=[LinkState.PENDING, LinkState.SYNCING]))
        ).exclude(attention)
    if value == SYNCED:
        return (
            queryset.filter(Exists(links))
            .exclude(Exists(links.exclude(state=LinkState.SYNCED)))
            .exclude(attention)
        )
    return queryset.exclude(Exists(links))


def _cell(links: list[tuple[UpstreamLink, bool]]) -> Cell:
    """`links`: each of the record's links, and whether it needs a person (needs_attention)."""
    names = ", ".join(
        f"{link.get_platform_display()}: {link.get_shown_state_display().lower()}"
        for link, _ in links
    )
    if any(attention for _, attention in links):
        return Cell("Needs attention", "text-bg-danger", names)
    if any(link.state != LinkState.SYNCED for link, _ in links):
        return Cell("Pending", "text-bg-secondary", names)
    return Cell("Synced", "text-bg-success", names)


def describe(rows: Sequence[models.Model]) -> dict[int, Cell]:
    if not rows:
        return {}
    links: dict[int, list[tuple[UpstreamLink, bool]]] = defaultdict(list)
    for link in (
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(type(rows[0])),
            object_id__in=[row.pk for row in rows],
        )
        .annotate(attention=ExpressionWrapper(needs_attention(), output_field=BooleanField()))
        .order_by("platform", "channel")
    ):
        links[link.object_id].append((link, link.attention))
    return {pk: _cell(found) for pk, found in links.items()}


COLUMN = ListColumn(
    key="sync",
    label="Sync",
    model_labels=MODELS,
    choices=lambda: list(CHOICES),
    narrow=narrow,
    describe=describe,
)
