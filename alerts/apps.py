from __future__ import annotations

from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts and notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal.dashboard import (
            Card,
            NavItem,
            Panel,
            TaskSource,
            register_card,
            register_nav,
            register_panel,
            register_tasks,
        )
        from portal.demo import register_seeder
        from portal.signals import readings_changed

        from . import demo, services, tasks, views  # noqa: F401 - registers the task names the beat sends
        from .models import UNRESOLVED, Alert

        register_seeder(demo.seed, order=90)  # after every record and reading
        readings_changed.connect(
            services.on_readings_changed, dispatch_uid="alerts.readings_changed"
        )
        register_nav(NavItem("Alerts", "alert_list", order=50, icon="bi-bell"))
        register_card(
            Card(
                "Open alerts",
                "alert_list",
                lambda org: Alert.objects.filter(organization=org, state__in=UNRESOLVED),
                "bi-bell",
                85,
            )
        )
        register_tasks(
            TaskSource(
                "no_data",
                "Devices and meters with no new data",
                views.devices_without_data,
                "alert_list",
                "?state=open&kind=no_data",
                order=30,
            )
        )
        register_panel(
            Panel("alerts", "alerts/_dashboard_alerts.html", views.dashboard_alerts, order=5)
        )
