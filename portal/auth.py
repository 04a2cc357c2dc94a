"""Sign-in throttling helpers (django-axes)."""

from __future__ import annotations

from django.http import HttpRequest


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The email a sign-in attempt is for, however Django passed it (username= or email=)."""
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if not value and request is not None:
        value = request.POST.get("username") or request.POST.get("email")
    return value.strip().lower() if value else None
