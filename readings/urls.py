"""Readings URLs: uploads (list, check, preview, progress, confirm, discard, report), each device's
and meter's readings panel, chart data and CSV export, and the JSON upload endpoints. Included
once, from portal/urls.py."""

from __future__ import annotations

from django.urls import path

from . import views, views_api, views_charts

DEVICE = {"kind": "device"}
METER = {"kind": "meter"}

urlpatterns = [
    path("uploads/", views.UploadList.as_view(), name="upload_list"),
    path("uploads/check/", views.uploads_check, name="uploads_check"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload_detail"),
    path("uploads/<int:pk>/progress/", views.upload_progress, name="upload_progress"),
    path("uploads/<int:pk>/confirm/", views.upload_confirm, name="upload_confirm"),
    path("uploads/<int:pk>/discard/", views.upload_discard, name="upload_discard"),
    path("uploads/<int:pk>/report.csv", views.upload_report_csv, name="upload_report_csv"),
    path("uploads/<int:pk>/chart.json", views.upload_chart, name="upload_chart"),
    path("devices/<int:pk>/readings/", views_charts.readings_panel, DEVICE, name="device_readings"),
    path(
        "devices/<int:pk>/readings/check/",
        views.readings_check,
        DEVICE,
        name="device_readings_check",
    ),
    path(
        "devices/<int:pk>/readings/chart.json",
        views_charts.readings_chart,
        DEVICE,
        name="device_readings_chart",
    ),
    path(
        "devices/<int:pk>/readings.csv",
        views_charts.readings_csv,
        DEVICE,
        name="device_readings_csv",
    ),
    path("meters/<int:pk>/readings/", views_charts.readings_panel, METER, name="meter_readings"),
    path(
        "meters/<int:pk>/readings/check/", views.readings_check, METER, name="meter_readings_check"
    ),
    path(
        "meters/<int:pk>/readings/chart.json",
        views_charts.readings_chart,
        METER,
        name="meter_readings_chart",
    ),
    path(
        "meters/<int:pk>/readings.csv", views_charts.readings_csv, METER, name="meter_readings_csv"
    ),
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
