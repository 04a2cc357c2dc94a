from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/retry-failed/", views.retry_failed, name="integrations_retry_failed"),
    path("integrations/<str:platform>/connection/", views.edit_connection, name="connection_edit"),
    path("integrations/<str:platform>/test/", views.test_connection, name="connection_test"),
    path("integrations/links/<int:pk>/sync/", views.sync_link_now, name="link_sync_now"),
    path("integrations/links/<int:pk>/", views.link_history, name="link_history"),
    path("integrations/links/<int:pk>/pause/", views.pause_link, name="link_pause"),
    path("integrations/links/<int:pk>/resume/", views.resume_link, name="link_resume"),
    path("integrations/links/<int:pk>/use-id/", views.link_use_remote_id, name="link_use_id"),
    path(
        "integrations/links/<int:pk>/create-again/",
        views.link_create_again,
        name="link_create_again",
    ),
    path("homes/<int:pk>/prices/", views.home_prices, name="home_prices"),
    path("integrations/spark/webhooks/<str:token>/", views.spark_webhook, name="spark_webhook"),
    path(
        "integrations/spark/webhook/register/",
        views.register_spark_webhook,
        name="spark_webhook_register",
    ),
    path("integrations/spark/webhook/test/", views.test_spark_webhook, name="spark_webhook_test"),
    path("integrations/events/", views.webhook_events, name="webhook_events"),
    path("integrations/sandbox/outage/", views.sandbox_outage, name="sandbox_outage"),
    path(
        "integrations/sandbox/emit-price-event/",
        views.sandbox_emit_price_event,
        name="sandbox_emit_price_event",
    ),
    path("integrations/events/<int:pk>/", views.webhook_event, name="webhook_event"),
    path("devices/<int:pk>/charge-report/", views.charge_report, name="charge_report"),
]
