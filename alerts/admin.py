from __future__ import annotations

from django.contrib import admin

from .models import Alert, AlertDelivery, AlertSettings


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("title", "organization", "kind", "state", "opened_at", "resolved_at")
    list_filter = ("kind", "state")
    search_fields = ("title", "key")
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False  # raised by the check only


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(admin.ModelAdmin):
    list_display = ("alert", "user", "mode", "sent_at", "error")
    readonly_fields = [f.name for f in AlertDelivery._meta.fields]


admin.site.register(AlertSettings)
