"""Start-up checks: the secrets production needs (settings load without them, see settings._secret)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured


def _message(name: str) -> str:
    return (
        f"{name} is not set. Set {name} in the environment (see .env.example), "
        "or set DEBUG=1 for local development."
    )


def require_secrets() -> None:
    """Refuse to serve (web, worker, beat) without the secrets, naming the first missing."""
    for name in settings.MISSING_SECRETS:
        raise ImproperlyConfigured(_message(name))


@register(Tags.security, deploy=True)
def check_secrets(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [Error(_message(name), id="portal.E001") for name in settings.MISSING_SECRETS]
