"""Routes of alerts, mounted under /alerts/ by portal/urls.py."""

from __future__ import annotations

from django.urls import path

from . import views

alerts = [
    path("", views.AlertList.as_view(), name="alert_list"),
    path("check/", views.check_now, name="alert_check_now"),
    path("email/", views.preferences, name="alert_preferences"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="alert_unsubscribe"),
    path("<int:pk>/", views.alert_detail, name="alert_detail"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="alert_acknowledge"),
]
