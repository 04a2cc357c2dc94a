from __future__ import annotations

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Organizations and users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the deploy check)
        from .dashboard import NavItem, register_nav

        register_nav(NavItem("Dashboard", "dashboard", order=0, icon="bi-speedometer2"))
