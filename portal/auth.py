"""Sign-in throttling helpers: the client's address (for django-axes and the password-reset
limit), the email a sign-in attempt is for, and the password-reset limit."""

from __future__ import annotations

import hashlib
import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    """The address the request came from.

    With `PROXY_COUNT` proxies in front, each appends the address it was reached from to
    X-Forwarded-For, so the client is the `PROXY_COUNT`-th entry from the right; anything further
    left was sent by the client and proves nothing. With no proxy, X-Forwarded-For is ignored
    altogether (anyone can send it) and the address is REMOTE_ADDR, as it is whenever the header
    is shorter than the proxy count or its entry there is not an address.
    """
    proxies = settings.PROXY_COUNT
    if proxies > 0:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if len(hops) >= proxies:
            found = _ip(hops[-proxies])
            if found is not None:
                return found
    return _ip(request.META.get("REMOTE_ADDR", ""))


def _ip(text: str) -> str | None:
    """`text` as a normalized IP address (a port some proxies add dropped), or None."""
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.5:443
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """The email a sign-in attempt is for, however Django passed it (username= or email=)."""
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if not value and request is not None:
        value = request.POST.get("username") or request.POST.get("email")
    return value.strip().lower() if value else None


def password_reset_allowed(request: HttpRequest, email: str) -> bool:
    """Count a password-reset request for `email` from this client; False once either has asked
    more than its limit within `PASSWORD_RESET_WINDOW_S`.

    The email is counted whether or not it has an account, so the answer says nothing about
    which addresses do. The counters live in Django's cache: set CACHE_URL to a shared cache
    (Redis) when several processes serve the portal, or each keeps its own count.
    """
    window = settings.PASSWORD_RESET_WINDOW_S
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    limits = {
        f"password-reset:email:{digest}": settings.PASSWORD_RESET_EMAIL_LIMIT,
        f"password-reset:address:{client_address(request)}": settings.PASSWORD_RESET_ADDRESS_LIMIT,
    }
    allowed = True
    for key, limit in limits.items():
        cache.add(key, 0, timeout=window)  # the window starts at the first request
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
            count = 1
        allowed = allowed and count <= limit
    return allowed
