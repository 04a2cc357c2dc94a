"""`{% upstream_links record %}`: a record's state on each platform, for its detail page."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timeuntil

from ..views import links_for

register = template.Library()

STATE_CLASSES = {
    "pending": "text-bg-secondary",
    "syncing": "text-bg-info",
    "synced": "text-bg-success",
    "failed": "text-bg-warning",
    "rejected": "text-bg-danger",
    "in_doubt": "text-bg-dark",  # a person decides (integrations/link_history.html)
    "out_of_date": "text-bg-warning",  # synced, but a change could not be sent
    "not_accepted": "text-bg-light border",  # by design: the platform's contract has no place
}


@register.inclusion_tag("integrations/_links.html", takes_context=True)
def upstream_links(context: template.Context, record: Any) -> dict[str, Any]:
    from ..adapters.base import adapter_for_link

    request = context["request"]
    links = links_for(record)
    labels: dict[int, str] = {}  # what the link's adapter calls it ("asset", "intervals"...)
    for link in links:
        if link.channel == "packets":
            from ..adapters.wattics import backlog, exports_held

            link.backlog = backlog(link, record)
            link.exports_held = exports_held(record)
        adapter = adapter_for_link(link, record, link.profile)
        if adapter is not None and adapter.label:
            labels[link.pk] = adapter.label
    return {
        "links": links,
        "labels": labels,
        "request": request,
        "can_edit": context.get("can_edit", False),
        "csrf_token": context.get("csrf_token"),
    }


# What a status means, said of the platform ("WattCarbon is unavailable (503)").
STATUS_WORDS = {
    401: "refused the credentials",
    403: "refused the credentials",
    404: "does not know this record",
    409: "already holds such a record",
    429: "asked us to slow down",
    500: "had an internal error",
    502: "could not be reached (bad gateway)",
    503: "is unavailable",
    504: "did not answer in time",
}


@register.filter
def error_in_words(link: Any) -> str:
    """A link's last error as a sentence: who, what, the platform's own message when it says more
    than its status, and when the next try is ("WattCarbon is unavailable (503); next try in 4
    minutes"), instead of "503: 503 Service Unavailable"."""
    platform = link.get_platform_display()
    status = link.last_status_code
    message = (link.last_error or "").strip()
    if status:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        repeats = [text for text in (f"{status} {phrase}", str(status), phrase) if text]
        while stripped := next((r for r in repeats if message.startswith(r)), ""):
            message = message[len(stripped) :].lstrip(" :.-—")
        fallback = "refused it" if 400 <= status < 500 else "answered with an error"
        text = f"{platform} {STATUS_WORDS.get(status, fallback)} ({status})"
    else:
        text = platform if message else f"{platform} could not be reached"
    if message:
        text += f": {message}" if status else f": {message[0].lower()}{message[1:]}"
    when = link.next_attempt_at
    if link.state == "pending" and when is not None:
        if (when - timezone.now()).total_seconds() < 60:
            text += "; next try now"
        else:
            text += f"; next try in {timeuntil(when)}"
    return text


@register.filter
def state_class(state: str) -> str:
    return STATE_CLASSES.get(state, "text-bg-light")


@register.filter
def get_item(mapping: dict, key: str) -> Any:
    return mapping.get(key)


@register.inclusion_tag("integrations/_price_events.html")
def price_events(record: Any) -> dict[str, Any]:
    """Spark price events that concern a customer, a meter, or a home (through either)."""
    from django.db.models import Q

    from ..models import WebhookEvent

    events = WebhookEvent.objects.filter(organization_id=record.organization_id)
    model = type(record).__name__
    if model == "Customer":
        events = events.filter(customers=record)
    elif model == "Meter":
        events = events.filter(meters=record)
    elif model == "Home":
        events = events.filter(Q(customers=record.customer_id) | Q(meters__home=record))
    else:
        events = events.none()
    return {
        "price_events": [
            e for e in events.distinct().order_by("-received_at")[:10] if e.is_price_event
        ]
    }


@register.inclusion_tag("integrations/_charge_reports.html", takes_context=True)
def charge_reports(context: template.Context, device: Any) -> dict[str, Any]:
    from ..models import ChargeReport, Connection, Platform, Profile

    reports = list(ChargeReport.objects.filter(vehicle=device)[:20])
    for report in reports:
        report.links = links_for(report)
    # Charge reports are the quickstart's: under the current profile, only those already made.
    current = Connection.objects.filter(
        organization_id=device.organization_id, platform=Platform.SPARK, profile=Profile.CURRENT
    ).exists()
    return {
        "device": device,
        "reports": reports,
        "shown": not current or bool(reports),
        "offered": not current,
        "can_edit": context.get("can_edit", False),
    }


@register.inclusion_tag("integrations/_energy_reports.html", takes_context=True)
def energy_reports(context: template.Context, device: Any) -> dict[str, Any]:
    """A device's EnergyUsage reports (the current Spark profile's), shown while its
    organization's Spark connection speaks that profile or once it has reports."""
    from ..models import Connection, EnergyUsageReport, Platform, Profile

    reports = list(EnergyUsageReport.objects.filter(device=device).select_related("event")[:20])
    current = Connection.objects.filter(
        organization_id=device.organization_id, platform=Platform.SPARK, profile=Profile.CURRENT
    ).exists()
    for report in reports:
        report.links = links_for(report)
    return {
        "device": device,
        "reports": reports,
        "shown": current or bool(reports),
        "can_edit": context.get("can_edit", False),
    }
