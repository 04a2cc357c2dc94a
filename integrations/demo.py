"""Sandbox connections for the demo organization (`manage.py seed_demo`, sandbox mode only)."""

from __future__ import annotations

from django.conf import settings

from portal.models import Organization, User

from . import services
from .models import Connection, Platform


def seed(organization: Organization, user: User) -> None:
    if not settings.INTEGRATIONS_SANDBOX:
        return
    from .sandbox.registry import SANDBOX_CREDENTIALS

    for platform in Platform.values:
        if not Connection.objects.filter(organization=organization, platform=platform).exists():
            services.save_connection(
                Connection(organization=organization, platform=platform),
                **SANDBOX_CREDENTIALS[platform],
            )
