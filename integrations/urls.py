"""The integrations app's routes, one list per top-level prefix; portal/urls.py mounts each list
under its prefix (`integrations/`, and `homes/` for a home's price chart, `devices/` for a charger's
report), so the routes here are relative to it."""

from __future__ import annotations

from django.urls import path

from . import views

integrations = [
    path("", views.integrations, name="integrations"),
    path("retry-failed/", views.retry_failed, name="integrations_retry_failed"),
    path("<str:platform>/connection/", views.edit_connection, name="connection_edit"),
    path("<str:platform>/test/", views.test_connection, name="connection_test"),
    path("links/<int:pk>/sync/", views.sync_link_now, name="link_sync_now"),
    path("links/<int:pk>/", views.link_history, name="link_history"),
    path("links/<int:pk>/pause/", views.pause_link, name="link_pause"),
    path("links/<int:pk>/resume/", views.resume_link, name="link_resume"),
    path("links/<int:pk>/use-id/", views.link_use_remote_id, name="link_use_id"),
    path(
        "links/<int:pk>/create-again/",
        views.link_create_again,
        name="link_create_again",
    ),
    path("spark/webhooks/<str:token>/", views.spark_webhook, name="spark_webhook"),
    path(
        "spark/webhook/register/",
        views.register_spark_webhook,
        name="spark_webhook_register",
    ),
    path("spark/webhook/test/", views.test_spark_webhook, name="spark_webhook_test"),
    path("events/", views.webhook_events, name="webhook_events"),
    path("sandbox/outage/", views.sandbox_outage, name="sandbox_outage"),
    path(
        "sandbox/emit-price-event/",
        views.sandbox_emit_price_event,
        name="sandbox_emit_price_event",
    ),
    path("events/<int:pk>/", views.webhook_event, name="webhook_event"),
]

homes = [
    path("<int:pk>/prices/", views.home_prices, name="home_prices"),
]

devices = [
    path("<int:pk>/charge-report/", views.charge_report, name="charge_report"),
    path("<int:pk>/energy-report/", views.energy_usage_report, name="energy_usage_report"),
]
