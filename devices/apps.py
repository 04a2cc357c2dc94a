from __future__ import annotations

from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    verbose_name = "Devices and readings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from portal.dashboard import (
            Card,
            NavItem,
            Panel,
            register_card,
            register_nav,
            register_panel,
        )
        from portal.demo import register_seeder

        from . import demo
        from .models import Device, Series
        from .readings import lock_series_before_delete
        from .views_readings import recent_uploads

        pre_delete.connect(
            lock_series_before_delete,
            sender=Series,
            dispatch_uid="devices.lock_series_before_delete",
        )

        register_seeder(demo.seed, order=20)
        register_nav(NavItem("Devices", "device_list", order=40, icon="bi-cpu"))
        register_panel(
            Panel("uploads", "devices/_dashboard_uploads.html", recent_uploads, order=20)
        )
        register_nav(NavItem("Uploads", "upload_list", order=45, icon="bi-cloud-arrow-up"))
        register_card(
            Card(
                "Devices",
                "device_list",
                lambda org: Device.objects.filter(organization=org),
                "bi-cpu",
                40,
            )
        )
