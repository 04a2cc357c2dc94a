from __future__ import annotations

from django.apps import AppConfig


class HomesConfig(AppConfig):
    name = "homes"
    verbose_name = "Customers, homes and meters"
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
        from .models import Customer, Home, Meter

        register_seeder(demo.seed, order=10)
        register_action(Action("New home", "home_create", "bi-house-add", 10))
        register_nav(NavItem("Homes", "home_list", order=10, icon="bi-house"))
        register_nav(NavItem("Customers", "customer_list", order=20, icon="bi-person-vcard"))
        register_nav(NavItem("Meters", "meter_list", order=30, icon="bi-speedometer"))
        register_card(
            Card(
                "Homes",
                "home_list",
                lambda org: Home.objects.filter(organization=org),
                "bi-house",
                10,
            )
        )
        register_card(
            Card(
                "Customers",
                "customer_list",
                lambda org: Customer.objects.filter(organization=org),
                "bi-person-vcard",
                20,
            )
        )
        register_card(
            Card(
                "Meters",
                "meter_list",
                lambda org: Meter.objects.filter(organization=org),
                "bi-speedometer",
                30,
            )
        )
