"""Meter import URLs, included at the top of homes/urls.py (before `meters/<pk>/`)."""

from __future__ import annotations

from django.urls import path

from . import views_import

urlpatterns = [
    path("meters/import/", views_import.MeterImportView.as_view(), name="meter_import"),
]
