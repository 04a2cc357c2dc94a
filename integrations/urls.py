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
    path("homes/<int:pk>/prices/", views.home_prices, name="home_prices"),
]
