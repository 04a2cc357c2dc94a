"""Back office for sync state: every record's links, each call made, Spark's deliveries, and the
connections (read only: credentials are never shown, and connections are changed on the
Integrations page or with `manage.py connect`, where the egress policy and the credential rules
apply)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.admin_helpers import ReadOnlyAdmin

from . import services
from .models import Connection, SyncAttempt, UpstreamLink, WebhookEvent


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ["platform", "organization", "profile", "enabled", "base_url", "last_auth_at"]
    list_filter = ["platform", "profile", "enabled", "organization"]
    fields = [
        "organization",
        "platform",
        "profile",
        "enabled",
        "base_url",
        "token_url",
        "last_auth_at",
        "last_auth_error",
    ]


@admin.register(UpstreamLink)
class UpstreamLinkAdmin(ReadOnlyAdmin):
    list_display = [
        "__str__",
        "organization",
        "platform",
        "channel",
        "state",
        "unsent",
        "remote_id",
        "attempts",
        "next_attempt_at",
        "synced_at",
    ]
    list_filter = ["platform", "profile", "state", "unsent", "channel", "paused", "organization"]
    search_fields = ["remote_id", "last_error"]
    list_select_related = ["organization", "content_type"]
    exclude = ["create_payload", "sent_payload"]
    actions = ["retry"]

    @admin.action(description="Sync the selected links now")
    def retry(self, request: HttpRequest, queryset: QuerySet[UpstreamLink]) -> None:
        count = services.retry_links(queryset.values_list("pk", flat=True))
        messages.success(request, f"{count} link{'s' if count != 1 else ''} queued.")


@admin.register(SyncAttempt)
class SyncAttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "connection", "method", "path", "status_code", "duration_ms"]
    list_filter = ["method", "status_code", "connection__platform"]
    search_fields = ["path", "error"]
    list_select_related = ["connection__organization"]
    date_hierarchy = "started_at"


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "organization", "received_at"]
    list_filter = ["organization"]
