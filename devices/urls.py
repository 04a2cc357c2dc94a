"""The devices app's routes under `devices/` (mounted there by portal/urls.py, so relative to it)."""

from __future__ import annotations

from django.urls import path

from . import views, views_import

devices = [
    path("", views.DeviceList.as_view(), name="device_list"),
    path("import/", views_import.DeviceImportView.as_view(), name="device_import"),
    path(
        "import/template/<str:kind>.csv",
        views_import.device_import_template,
        name="device_import_template",
    ),
    path("new/", views.choose_kind, name="device_create"),
    path("new/<str:kind>/", views.DeviceFormView.as_view(), name="device_create_kind"),
    path("<int:pk>/", views.DeviceDetail.as_view(), name="device_detail"),
    path("<int:pk>/edit/", views.DeviceFormView.as_view(), name="device_edit"),
    path("<int:pk>/delete/", views.DeviceDelete.as_view(), name="device_delete"),
]
