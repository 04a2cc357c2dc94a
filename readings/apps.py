from __future__ import annotations

from django.apps import AppConfig


class ReadingsConfig(AppConfig):
    name = "readings"
    verbose_name = "Readings and uploads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from portal.dashboard import (
            Action,
            Glance,
            NavItem,
            Panel,
            TaskSource,
            register_action,
            register_glance,
            register_nav,
            register_panel,
            register_tasks,
        )
        from portal.demo import register_seeder
        from portal.lists import register_column

        from . import dashboard, demo, mv_column, tasks  # noqa: F401 - tasks registers the names readings.background sends
        from .models import Series
        from .store import lock_series_before_delete
        from .views import recent_uploads

        pre_delete.connect(
            lock_series_before_delete,
            sender=Series,
            dispatch_uid="readings.lock_series_before_delete",
        )
        register_panel(
            Panel("uploads", "readings/_dashboard_uploads.html", recent_uploads, order=20)
        )
        register_tasks(
            TaskSource(
                "uploads",
                "Uploads to confirm",
                dashboard.uploads_to_confirm,
                "upload_list",
                "?status=preview",
                order=20,
                required_role="member",
            )
        )
        register_glance(
            Glance("kinds", "kWh by device kind", "kWh", dashboard.kwh_by_device_kind, 10)
        )
        register_glance(
            Glance(
                "coverage",
                "Data coverage (hours with a reading)",
                "%",
                dashboard.coverage,
                30,
                empty="No device or meter had readings before this month.",
            )
        )
        register_action(Action("Upload readings", "upload_list", "bi-cloud-arrow-up", 20))
        register_nav(NavItem("Uploads", "upload_list", order=45, icon="bi-cloud-arrow-up"))
        register_seeder(demo.seed, order=30)
        register_column(mv_column.COLUMN)
