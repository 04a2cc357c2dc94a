"""`Authorization: Bearer gf_…`: which organization a request acts for, with which scopes, and
how often it may (a fixed window per key in Django's cache).

Each operation names the scope it needs (`auth=needs(Scope.WRITE)`); the answer is 401 for no key
or a bad, revoked or expired one, 429 with Retry-After past the key's rate, 403 for a scope the key
lacks. The key itself is never logged, echoed or kept: only its SHA-256 is compared.
"""

from __future__ import annotations

import hmac
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer

from .errors import ApiError
from .models import ApiKey, Scope
from .services import hash_key, note_key_used, prefix_of


def find_key(plaintext: str) -> ApiKey | None:
    """The active key `plaintext` is, or None (unknown, wrong secret, revoked, expired)."""
    prefix = prefix_of(plaintext)
    if prefix is None:
        return None
    api_key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_key(plaintext)):
        return None
    return api_key if api_key.is_active else None


def check_rate(api_key: ApiKey, *, now: float | None = None) -> None:
    """Count one request against the key's window; past API_RATE_LIMIT, a 429 saying when to
    come back. The count lives in Django's cache (shared with CACHE_URL; per process without)."""
    limit = settings.API_RATE_LIMIT
    window_s = settings.API_RATE_WINDOW_S
    if limit <= 0:
        return
    now = time.time() if now is None else now
    window = int(now // window_s)
    counter = f"api-rate:{api_key.pk}:{window}"
    cache.add(counter, 0, timeout=window_s + 1)
    try:
        count = cache.incr(counter)
    except ValueError:  # evicted between add and incr: this request starts the window again
        cache.set(counter, 1, timeout=window_s + 1)
        count = 1
    if count > limit:
        retry_after = max(1, math.ceil((window + 1) * window_s - now))
        raise ApiError(
            429,
            f"This key made more than {limit} requests in {window_s} s; try again in "
            f"{retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


class KeyAuth(HttpBearer):
    """An organization API key holding `scope`."""

    def __init__(self, scope: Scope) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        api_key = find_key(token)
        if api_key is None:
            return None
        check_rate(api_key)
        if not api_key.allows(self.scope):
            raise ApiError(
                403,
                f"This key lacks the “{self.scope}” scope: an organization admin can create a "
                "key that has it.",
            )
        note_key_used(api_key)
        request.organization = api_key.organization  # type: ignore[attr-defined]  # as OrganizationMiddleware does
        return api_key


_AUTH = {scope: KeyAuth(scope) for scope in Scope}


def needs(scope: Scope) -> KeyAuth:
    return _AUTH[scope]


def key_of(request: HttpRequest) -> ApiKey:
    """The key an authenticated operation runs under."""
    api_key: Any = getattr(request, "auth", None)
    assert isinstance(api_key, ApiKey)  # every operation has auth=needs(...)
    return api_key
