"""Small template helpers used across the portal."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.timesince import timesince, timeuntil

register = template.Library()


@register.filter
def when(moment: datetime | None) -> str:
    """The portal's one way to show an instant (README, "Time"): 2026-12-07 15:03 PST, in the
    page's zone (a record's page: its home's; elsewhere the organization's; UTC only where the
    page says so)."""
    if moment is None:
        return ""
    return date_format(timezone.localtime(moment), "Y-m-d H:i T")


@register.filter
def ago(moment: datetime | None) -> str:
    """ "just now" within a minute, else "5 minutes ago" (never "0 minutes ago")."""
    if moment is None:
        return ""
    if abs((timezone.now() - moment).total_seconds()) < 60:
        return "just now"
    return f"{timesince(moment)} ago"


@register.filter
def from_now(moment: datetime | None) -> str:
    """ "in 4 minutes", or "now" when it is due within a minute (or past)."""
    if moment is None:
        return ""
    if (moment - timezone.now()).total_seconds() < 60:
        return "now"
    return f"in {timeuntil(moment)}"
