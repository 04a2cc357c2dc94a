"""Back office for devices: kind details shown and edited as validated JSON."""

from __future__ import annotations

from django.contrib import admin

from portal.admin_helpers import ServiceAdmin

from . import services
from .models import Device


@admin.register(Device)
class DeviceAdmin(ServiceAdmin):
    save_service = services.save_device
    delete_service = services.delete_device
    list_display = [
        "name",
        "custom_id",
        "kind",
        "status",
        "home",
        "commenced_operation_date",
        "organization",
    ]
    list_filter = ["organization", "kind", "status"]
    search_fields = ["name", "custom_id", "home__name", "owner_name"]
    list_select_related = ["organization", "home"]
    autocomplete_fields = ["home", "meter"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = (
        (
            None,
            {"fields": ("organization", "home", "meter", "name", "custom_id", "kind", "status")},
        ),
        ("Operation", {"fields": ("commenced_operation_date", "owner_name")}),
        (
            "Kind details",
            {"fields": ("details",), "description": "The kind's own fields (validated on save)."},
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
