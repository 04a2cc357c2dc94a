"""How `integrations` hears the other apps: signals sent inside their transactions, and delete checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from . import engine
from .models import UpstreamLink


def on_record_changed(
    sender: type[models.Model], instance: models.Model, deleted: bool = False, **kwargs: Any
) -> None:
    if hasattr(instance, "organization_id"):
        engine.mark_record_changed(instance, deleted=deleted)


def on_readings_changed(
    sender: type[models.Model], series: Any, start: datetime, end: datetime, **kwargs: Any
) -> None:
    engine.mark_readings_changed(series.owner, start, end)


def upstream_copies(instance: models.Model) -> list[str]:
    """A record that a platform holds (it has a remote id there) is not deleted from under it."""
    if not hasattr(instance, "organization_id") or instance.pk is None:
        return []
    links = UpstreamLink.objects.filter(
        content_type=ContentType.objects.get_for_model(instance), object_id=instance.pk
    )
    held = [
        f"It is registered on {link.get_platform_display()} (id {link.remote_id}); "
        "the platform keeps its copy, so retire it there first (or set the status to decommissioned)."
        for link in links.exclude(remote_id="")
    ]
    # A create whose answer was lost may have made a copy we know no id of: settle that first.
    held += [
        f"It may be registered on {link.get_platform_display()}: the answer to its create was "
        "lost. Settle that on its sync history page first."
        for link in links.filter(remote_id="", create_sent_at__isnull=False)
    ]
    return held
