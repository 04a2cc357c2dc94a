"""Admin pieces shared by the apps: saving and deleting through the apps' services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest


class ServiceAdmin(admin.ModelAdmin):
    """Saves and deletes through the app's services, so the back office announces its changes
    (and upstream links go pending) like every other write path."""

    save_service: ClassVar[Callable[[Any], Any]]  # e.g. homes.services.save_home
    delete_service: ClassVar[Callable[[Any], None]]

    def save_model(self, request: HttpRequest, obj: models.Model, form: Any, change: bool) -> None:
        type(self).save_service(obj)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        try:
            type(self).delete_service(obj)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the portal writes itself (sync links, calls, uploads): shown, filtered, searched,
    never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
