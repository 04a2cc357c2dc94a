"""Device import URLs, included at the top of devices/urls.py (before `devices/<pk>/`)."""

from __future__ import annotations

from django.urls import path

from . import views_import

urlpatterns = [
    path("devices/import/", views_import.DeviceImportView.as_view(), name="device_import"),
    path(
        "devices/import/template/<str:kind>.csv",
        views_import.device_import_template,
        name="device_import_template",
    ),
]
