"""The homes app's routes, one list per top-level prefix; portal/urls.py mounts each list under its
prefix (`customers/`, `homes/`, `meters/`), so the routes here are relative to it."""

from __future__ import annotations

from django.urls import path

from . import views, views_import

customers = [
    path("", views.CustomerList.as_view(), name="customer_list"),
    path("new/", views.CustomerFormView.as_view(), name="customer_create"),
    path("<int:pk>/", views.CustomerDetail.as_view(), name="customer_detail"),
    path("<int:pk>/edit/", views.CustomerFormView.as_view(), name="customer_edit"),
    path("<int:pk>/delete/", views.CustomerDelete.as_view(), name="customer_delete"),
]

homes = [
    path("", views.HomeList.as_view(), name="home_list"),
    path("add/", views.HomeFormView.as_view(), name="home_create"),
    path("<int:pk>/", views.HomeDetail.as_view(), name="home_detail"),
    path("<int:pk>/edit/", views.HomeFormView.as_view(), name="home_edit"),
    path("<int:pk>/delete/", views.HomeDelete.as_view(), name="home_delete"),
]

meters = [
    path("", views.MeterList.as_view(), name="meter_list"),
    path("import/", views_import.MeterImportView.as_view(), name="meter_import"),
    path("new/", views.MeterFormView.as_view(), name="meter_create"),
    path("<int:pk>/", views.MeterDetail.as_view(), name="meter_detail"),
    path("<int:pk>/edit/", views.MeterFormView.as_view(), name="meter_edit"),
    path("<int:pk>/delete/", views.MeterDelete.as_view(), name="meter_delete"),
]
