"""Template context every page needs: the organization switcher, role flags, navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from .dashboard import nav_items
from .models import Role
from .tenancy import memberships_of


def portal(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"nav_items": [], "organization_timezone": "UTC"}
    items = [item for item in nav_items() if membership.allows(item.required_role)]
    return {
        "current_membership": membership,
        "organization_timezone": membership.organization.timezone,
        "current_organization": membership.organization,
        "user_memberships": memberships_of(request.user),
        "can_edit": membership.allows(Role.MEMBER),
        "can_admin": membership.allows(Role.ADMIN),
        "nav_items": items,
        "nav_active": active_section(
            request.path, {item.url_name: reverse(item.url_name) for item in items}
        ),
    }


def active_section(path: str, urls: dict[str, str]) -> str:
    """The navigation item `path` belongs to: the one whose address is the longest start of it
    (Events under /integrations/events/ is Events, not Integrations too); the dashboard "/" only
    for itself."""
    matches = [
        (len(url), name)
        for name, url in urls.items()
        if path == url or (url != "/" and path.startswith(url))
    ]
    return max(matches)[1] if matches else ""
