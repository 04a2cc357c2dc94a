"""`{% upstream_links record %}`: a record's state on each platform, for its detail page."""

from __future__ import annotations

from typing import Any

from django import template

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
    request = context["request"]
    links = links_for(record)
    for link in links:
        if link.channel == "packets":
            from ..adapters.wattics import backlog

            link.backlog = backlog(link, record)
    return {
        "links": links,
        "request": request,
        "can_edit": context.get("can_edit", False),
        "csrf_token": context.get("csrf_token"),
    }


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
