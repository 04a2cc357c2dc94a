"""Back office for customers, homes, meters, utilities and rate plans."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from portal.admin_helpers import ServiceAdmin

from . import services
from .models import Customer, Home, Meter, RatePlan, Utility


class HomeInline(admin.TabularInline):
    model = Home
    extra = 0
    fields = ["name", "zip_code", "city", "state", "timezone"]
    show_change_link = True


class MeterInline(admin.TabularInline):
    model = Meter
    extra = 0
    fields = ["meter_number", "meter_point_id", "location_type", "wattics_stream_id"]
    show_change_link = True


class RatePlanInline(admin.TabularInline):
    model = RatePlan
    extra = 0


@admin.register(Customer)
class CustomerAdmin(ServiceAdmin):
    save_service = services.save_customer
    delete_service = services.delete_customer
    list_display = ["name", "email", "phone", "external_ref", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "email", "phone", "external_ref"]
    list_select_related = ["organization"]
    inlines = [HomeInline]


@admin.register(Home)
class HomeAdmin(ServiceAdmin):
    save_service = services.save_home
    delete_service = services.delete_home
    list_display = [
        "name",
        "customer",
        "city",
        "state",
        "zip_code",
        "timezone",
        "utility",
        "organization",
    ]
    list_filter = ["organization", "state", "has_ev_charger", "has_ac"]
    search_fields = ["name", "street", "city", "zip_code", "customer__name"]
    list_select_related = ["organization", "customer", "utility"]
    autocomplete_fields = ["customer", "utility", "rate_plan"]
    inlines = [MeterInline]

    def get_form(
        self, request: HttpRequest, obj: Home | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            # A home takes only its organization's utilities and rate plans (Home.clean refuses
            # the others on a new home, whose organization is chosen in the same form).
            fields = form.base_fields
            if "utility" in fields:
                utility = cast(forms.ModelChoiceField, fields["utility"])
                utility.queryset = Utility.objects.for_org(obj.organization)
            if "rate_plan" in fields:
                rate_plan = cast(forms.ModelChoiceField, fields["rate_plan"])
                rate_plan.queryset = RatePlan.objects.for_org(obj.organization)
        return form


@admin.register(Meter)
class MeterAdmin(ServiceAdmin):
    save_service = services.save_meter
    delete_service = services.delete_meter
    list_display = [
        "meter_number",
        "meter_point_id",
        "location_type",
        "home",
        "wattics_stream_id",
        "organization",
    ]
    list_filter = ["organization", "location_type"]
    search_fields = ["meter_number", "meter_point_id", "wattics_stream_id", "home__name"]
    list_select_related = ["organization", "home"]
    autocomplete_fields = ["home"]


@admin.register(Utility)
class UtilityAdmin(admin.ModelAdmin):
    list_display = ["name", "ws_utility_id", "organization", "fetched_at"]
    list_filter = ["organization"]
    search_fields = ["name", "ws_utility_id", "organization__name"]
    list_select_related = ["organization"]
    inlines = [RatePlanInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Utility | None = None) -> list[str]:
        # Moving a utility would hand its homes' reference data to another organization.
        return ["organization"] if obj is not None else []


@admin.register(RatePlan)
class RatePlanAdmin(admin.ModelAdmin):
    list_display = ["name", "utility", "ws_rate_plan_id", "utility__organization"]
    list_filter = ["utility__organization"]
    search_fields = ["name", "ws_rate_plan_id", "utility__name", "utility__organization__name"]
    list_select_related = ["utility__organization"]
