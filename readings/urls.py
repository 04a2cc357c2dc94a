"""Readings routes, one list per top-level prefix they serve under (mounted by portal/urls.py,
so relative to it): the uploads pages, and each device's and meter's readings panel, chart data,
CSV export, drop-zone check and JSON upload endpoint."""

from __future__ import annotations

from django.urls import path

from . import views, views_api, views_charts

DEVICE = {"kind": "device"}
METER = {"kind": "meter"}

uploads = [
    path("", views.UploadList.as_view(), name="upload_list"),
    path("check/", views.uploads_check, name="uploads_check"),
    path("mappings/<int:pk>/forget/", views.column_mapping_forget, name="column_mapping_forget"),
    path("sample.csv", views_charts.uploads_sample, name="uploads_sample"),
    path("<int:pk>/", views.upload_detail, name="upload_detail"),
    path("<int:pk>/progress/", views.upload_progress, name="upload_progress"),
    path("<int:pk>/confirm/", views.upload_confirm, name="upload_confirm"),
    path("<int:pk>/discard/", views.upload_discard, name="upload_discard"),
    path("<int:pk>/mapping/", views.upload_mapping, name="upload_mapping"),
    path("<int:pk>/report.csv", views.upload_report_csv, name="upload_report_csv"),
    path("<int:pk>/chart.json", views.upload_chart, name="upload_chart"),
]

devices = [
    path("<int:pk>/readings/", views_charts.readings_panel, DEVICE, name="device_readings"),
    path("<int:pk>/readings/check/", views.readings_check, DEVICE, name="device_readings_check"),
    path(
        "<int:pk>/readings/sample.csv",
        views_charts.readings_sample,
        DEVICE,
        name="device_readings_sample",
    ),
    path(
        "<int:pk>/readings/chart.json",
        views_charts.readings_chart,
        DEVICE,
        name="device_readings_chart",
    ),
    path("<int:pk>/readings.csv", views_charts.readings_csv, DEVICE, name="device_readings_csv"),
    path(
        "<int:pk>/readings/upload/",
        views_api.device_readings_upload,
        name="device_readings_upload",
    ),
]

meters = [
    path("<int:pk>/readings/", views_charts.readings_panel, METER, name="meter_readings"),
    path("<int:pk>/readings/check/", views.readings_check, METER, name="meter_readings_check"),
    path(
        "<int:pk>/readings/sample.csv",
        views_charts.readings_sample,
        METER,
        name="meter_readings_sample",
    ),
    path(
        "<int:pk>/readings/chart.json",
        views_charts.readings_chart,
        METER,
        name="meter_readings_chart",
    ),
    path("<int:pk>/readings.csv", views_charts.readings_csv, METER, name="meter_readings_csv"),
    path(
        "<int:pk>/readings/upload/", views_api.meter_readings_upload, name="meter_readings_upload"
    ),
]
