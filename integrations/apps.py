from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Upstream platforms and sync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal.dashboard import (
            Card,
            Glance,
            NavItem,
            Panel,
            TaskSource,
            register_card,
            register_glance,
            register_nav,
            register_panel,
            register_tasks,
        )
        from portal.demo import register_seeder
        from portal.lists import register_column
        from portal.signals import readings_changed, record_changed, register_delete_blocker

        from . import (
            dashboard,
            demo,
            eager,
            receivers,
            sync_column,
            tasks,  # noqa: F401 - registers the task names integrations.queue sends
            views,
        )
        from .adapters import spark, wattcarbon, wattics, wattshift  # noqa: F401 - registers the adapters
        from .models import UpstreamLink, needs_attention

        record_changed.connect(
            receivers.on_record_changed, dispatch_uid="integrations.record_changed"
        )
        readings_changed.connect(
            receivers.on_readings_changed, dispatch_uid="integrations.readings_changed"
        )
        register_delete_blocker(receivers.upstream_copies)
        register_seeder(demo.seed, order=5)
        register_panel(
            Panel("sync", "integrations/_dashboard_sync.html", views.sync_summary, order=10)
        )
        register_tasks(
            TaskSource(
                "links",
                "Records not in sync upstream",
                dashboard.links_needing_a_person,
                "integrations",
                "#needs-attention",
                order=10,
                required_role="admin",
            )
        )
        register_glance(
            Glance("platforms", "kWh by platform", "kWh", dashboard.kwh_by_platform, 20)
        )
        register_nav(NavItem("Events", "webhook_events", order=55, icon="bi-broadcast"))
        register_column(sync_column.COLUMN)
        register_card(
            Card(
                "Needs attention",
                "integrations",
                # What a person must act on (models.needs_attention: the Integrations page's list).
                lambda org: UpstreamLink.objects.filter(organization=org).filter(needs_attention()),
                "bi-exclamation-triangle",
                90,
                required_role="admin",
            )
        )
        register_nav(
            NavItem(
                "Integrations",
                "integrations",
                order=60,
                icon="bi-arrow-left-right",
                required_role="admin",
            )
        )
        eager.start_if_eager()
