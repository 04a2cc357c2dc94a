"""Template context every page needs: the organization switcher, role flags, navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .dashboard import nav_items
from .models import Role
from .tenancy import memberships_of


def portal(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {"nav_items": []}
    return {
        "current_membership": membership,
        "current_organization": membership.organization,
        "user_memberships": memberships_of(request.user),
        "can_edit": membership.allows(Role.MEMBER),
        "can_admin": membership.allows(Role.ADMIN),
        "nav_items": [item for item in nav_items() if membership.allows(item.required_role)],
    }
