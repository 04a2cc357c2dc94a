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
}


@register.inclusion_tag("integrations/_links.html", takes_context=True)
def upstream_links(context: template.Context, record: Any) -> dict[str, Any]:
    request = context["request"]
    return {
        "links": links_for(record),
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
