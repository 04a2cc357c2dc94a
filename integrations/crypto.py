"""Credentials at rest: Fernet with FIELD_ENCRYPTION_KEY (comma-separated keys, first one encrypts).

Rotation: put a new key first in FIELD_ENCRYPTION_KEY, keep the old ones after it, run
`manage.py rotate_credentials`, then drop the old keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet(key: str) -> Fernet:
    key = key.strip()
    try:
        return Fernet(key.encode())
    except ValueError:
        # Not a Fernet key (32 url-safe base64 bytes): derive one, so any long secret works.
        return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()))


def keyring() -> MultiFernet:
    keys = [key for key in str(settings.FIELD_ENCRYPTION_KEY).split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set.")
    return MultiFernet([_fernet(key) for key in keys])


def encrypt(data: dict[str, Any]) -> str:
    return keyring().encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(keyring().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Stored credentials cannot be decrypted with FIELD_ENCRYPTION_KEY: was a key removed?"
        ) from exc


def rotate(token: str) -> str:
    """The same secret, encrypted with the first (newest) key."""
    return keyring().rotate(token.encode()).decode() if token else token
