"""Back office for interval data: uploads (with their report) and series, read only (uploads are
checked, confirmed and discarded on the portal's pages, `import_readings` or the API)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from portal.admin_helpers import ReadOnlyAdmin

from . import services
from .models import ColumnMapping, Series, Upload


@admin.register(Upload)
class UploadAdmin(ReadOnlyAdmin):
    list_display = [
        "filename",
        "organization",
        "status",
        "rows",
        "inserted",
        "updated",
        "created_at",
    ]
    list_filter = ["status", "organization"]
    search_fields = ["filename", "sha256"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"


@admin.register(Series)
class SeriesAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "organization"]
    list_filter = ["organization"]
    list_select_related = ["organization"]


@admin.register(ColumnMapping)
class ColumnMappingAdmin(ReadOnlyAdmin):
    """Saved column mappings, one per organization and header: read only, and forgotten (deleted)
    through the service, as on the uploads page."""

    list_display = ["header", "time_column", "value_column", "unit", "channel", "organization"]
    list_filter = ["channel", "unit", "organization"]
    search_fields = ["header", "time_column", "value_column"]
    list_select_related = ["organization"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def delete_model(self, request: HttpRequest, obj: ColumnMapping) -> None:
        services.forget_column_mapping(obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for mapping in queryset:
            services.forget_column_mapping(mapping)
