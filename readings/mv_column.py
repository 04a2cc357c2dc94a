"""The "M&V" column and filter of the devices and meters lists (portal/lists.py): the verdict
kept for each series (`Readiness`, refreshed by beat; a record's page computes it afresh)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models

from portal.lists import Cell, ListColumn

from .models import Readiness, ReadinessStatus, ReadingChannel

OWNER_FIELD = {"devices.Device": "series__device", "homes.Meter": "series__meter"}


def narrow(queryset: models.QuerySet, value: str) -> models.QuerySet:
    # The delivered channel's verdict (what M&V measures; a meter's export is not judged).
    return queryset.filter(
        series_set__channel=ReadingChannel.DELIVERED, series_set__readiness__status=value
    )


def describe(rows: Sequence[models.Model]) -> dict[int, Cell]:
    if not rows:
        return {}
    owner = OWNER_FIELD[type(rows[0])._meta.label]
    cells = {}
    found = Readiness.objects.filter(
        **{f"{owner}__in": [row.pk for row in rows]}, series__channel=ReadingChannel.DELIVERED
    )
    for readiness in found.values(f"{owner}", "status", "summary", "failing_months"):
        months = len(readiness["failing_months"] or [])
        if readiness["status"] == ReadinessStatus.READY:
            cells[readiness[owner]] = Cell("Ready", "text-bg-success", readiness["summary"])
        else:
            text = "Not ready" + (
                f" · {months} month{'s' if months != 1 else ''}" if months else ""
            )
            cells[readiness[owner]] = Cell(text, "text-bg-warning", readiness["summary"])
    return cells


COLUMN = ListColumn(
    key="mv",
    label="M&V",
    model_labels=tuple(OWNER_FIELD),
    choices=lambda: list(ReadinessStatus.choices),
    narrow=narrow,
    describe=describe,
)
