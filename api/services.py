"""Write operations on API keys: create (the secret is returned once, only its hash is kept),
revoke, and note when a key was last used."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.models import Organization, User

from .models import ApiKey, Scope

KEY_START = "gf_"
PREFIX_HEX = 8  # the visible part after "gf_": 4 random bytes, in hex
MAX_EXPIRY_DAYS = 3650
# last_used_at is written at most this often per key: a busy integration must not turn every
# read into a write of the same row.
LAST_USED_RESOLUTION_S = 60


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the row, and the whole key, which is shown once and never stored."""

    api_key: ApiKey
    plaintext: str


def hash_key(plaintext: str) -> str:
    """SHA-256 of the whole key. The secret is 256 random bits: nothing to stretch or salt, and a
    constant-time lookup by hash costs one indexed read per request."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def prefix_of(plaintext: str) -> str | None:
    """The visible prefix of something sent as a key ("gf_" and 8 hex digits), or None."""
    prefix = plaintext[: len(KEY_START) + PREFIX_HEX]
    rest = plaintext[len(prefix) :]
    if not prefix.startswith(KEY_START) or not rest.startswith("_") or len(rest) < 20:
        return None
    return prefix


def clean_scopes(scopes: Iterable[str]) -> list[str]:
    """The scopes in their canonical order; an unknown one is a ValidationError naming it."""
    wanted = {scope.strip().lower() for scope in scopes if scope.strip()}
    unknown = sorted(wanted - set(Scope.values))
    if unknown:
        raise ValidationError(
            {
                "scopes": [
                    f"Unknown scope {', '.join(unknown)}: choose from {', '.join(Scope.values)}."
                ]
            }
        )
    if not wanted:
        raise ValidationError({"scopes": ["Choose at least one scope."]})
    return [scope for scope in Scope.values if scope in wanted]


def create_api_key(
    organization: Organization,
    *,
    name: str,
    scopes: Iterable[str],
    expires_days: int | None = None,
    created_by: User | None = None,
) -> NewKey:
    """Make a key for `organization`; the plaintext is in the answer and nowhere else."""
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = ["Name the key after what will use it."]
    elif len(name) > 100:
        errors["name"] = ["At most 100 characters."]
    try:
        scope_list = clean_scopes(scopes)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        scope_list = []
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        errors["expires_days"] = [f"Give a number of days from 1 to {MAX_EXPIRY_DAYS}, or none."]
    if errors:
        raise ValidationError(errors)
    expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
    with transaction.atomic():
        while True:
            prefix = KEY_START + secrets.token_hex(PREFIX_HEX // 2)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                break
        plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
        api_key = ApiKey.objects.create(
            organization=organization,
            name=name,
            prefix=prefix,
            secret_hash=hash_key(plaintext),
            scopes=scope_list,
            expires_at=expires_at,
            created_by=created_by,
        )
    return NewKey(api_key, plaintext)


def revoke_api_key(api_key: ApiKey) -> ApiKey:
    """Stop a key at once (kept, revoked, so the list still says what it was)."""
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def note_key_used(api_key: ApiKey) -> None:
    """Record that the key was used now (at most once a minute, with a conditional update)."""
    now = timezone.now()
    stale = now - timedelta(seconds=LAST_USED_RESOLUTION_S)
    if api_key.last_used_at is not None and api_key.last_used_at > stale:
        return
    ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=stale).update(last_used_at=now)
    api_key.last_used_at = now
