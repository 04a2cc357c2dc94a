"""URLs of the JSON readings upload endpoints (included from devices/urls.py)."""

from __future__ import annotations

from django.urls import path

from . import views_api

urlpatterns = [
    path(
        "devices/<int:pk>/readings/upload/",
        views_api.device_readings_upload,
        name="device_readings_upload",
    ),
    path(
        "meters/<int:pk>/readings/upload/",
        views_api.meter_readings_upload,
        name="meter_readings_upload",
    ),
]
