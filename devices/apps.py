from __future__ import annotations

from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal.dashboard import (
            Action,
            Card,
            NavItem,
            register_action,
            register_card,
            register_nav,
        )
        from portal.demo import register_seeder

        from . import demo
        from .models import Device

        register_seeder(demo.seed, order=20)
        register_action(
            Action("Import devices", "device_import", "bi-file-earmark-spreadsheet", 30)
        )
        register_nav(NavItem("Devices", "device_list", order=40, icon="bi-cpu"))
        register_card(
            Card(
                "Devices",
                "device_list",
                lambda org: Device.objects.filter(organization=org),
                "bi-cpu",
                40,
            )
        )
