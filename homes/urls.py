from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("homes.urls_import")),
    path("customers/", views.CustomerList.as_view(), name="customer_list"),
    path("customers/new/", views.CustomerFormView.as_view(), name="customer_create"),
    path("customers/<int:pk>/", views.CustomerDetail.as_view(), name="customer_detail"),
    path("customers/<int:pk>/edit/", views.CustomerFormView.as_view(), name="customer_edit"),
    path("customers/<int:pk>/delete/", views.CustomerDelete.as_view(), name="customer_delete"),
    path("homes/", views.HomeList.as_view(), name="home_list"),
    path("homes/add/", views.HomeFormView.as_view(), name="home_create"),
    path("homes/<int:pk>/", views.HomeDetail.as_view(), name="home_detail"),
    path("homes/<int:pk>/edit/", views.HomeFormView.as_view(), name="home_edit"),
    path("homes/<int:pk>/delete/", views.HomeDelete.as_view(), name="home_delete"),
    path("meters/", views.MeterList.as_view(), name="meter_list"),
    path("meters/new/", views.MeterFormView.as_view(), name="meter_create"),
    path("meters/<int:pk>/", views.MeterDetail.as_view(), name="meter_detail"),
    path("meters/<int:pk>/edit/", views.MeterFormView.as_view(), name="meter_edit"),
    path("meters/<int:pk>/delete/", views.MeterDelete.as_view(), name="meter_delete"),
]
