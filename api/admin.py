from __future__ import annotations

from django.contrib import admin

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made on the organization's API keys page or with `manage.py api_key create`;
    the back office only looks (and never sees a secret: only its hash is kept)."""

    list_display = (
        "name",
        "prefix",
        "organization",
        "scopes",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("organization",)
    search_fields = ("name", "prefix")
    readonly_fields = [f.name for f in ApiKey._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
