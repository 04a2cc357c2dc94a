"""Back office for interval data: uploads (with their report) and series, read only (uploads are
checked, confirmed and discarded on the portal's pages, `import_readings` or the API)."""

from __future__ import annotations

from django.contrib import admin

from portal.admin_helpers import ReadOnlyAdmin

from .models import Series, Upload


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
