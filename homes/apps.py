from __future__ import annotations

from django.apps import AppConfig


class HomesConfig(AppConfig):
    name = "homes"
    default_auto_field = "django.db.models.BigAutoField"
