"""Where the portal may send a request: the egress policy for every upstream call.

An organization admin types a connection's base URL (and Spark's token URL), so those addresses are
hostile input: without a policy, "Test connection" is a port scanner of the portal's own network
and a way to send someone else's stored secret anywhere. The rules:

- An address is an **origin** `scheme://host:port`. It may be used for a platform when it is
  (1) one of that platform's published origins (`PUBLISHED_ORIGINS`, all `https`), or
  (2) the origin of an address the operator configured for that platform (`WATTCARBON_BASE_URL`,
  `SPARK_BASE_URL`, `SPARK_TOKEN_URL`, ...), or (3) listed in `UPSTREAM_ALLOWED_ORIGINS`, exactly as
  written, for every platform, or (4) with `INTEGRATIONS_SANDBOX` on, an emulator's own address.
  Nothing an organization admin can type widens these lists.
- At connect time, a host reached under (1) is resolved and refused when any of its addresses is
  loopback, private, link-local, multicast, reserved or unspecified, so a DNS change cannot turn a
  published name into an internal one. Origins from (2)-(4) are the operator's explicit choice and
  are connected to as they are.

`check_url` is what forms and commands call; `GuardedTransport` enforces the same rules inside every
client, per request and per socket, so a connection saved before a policy change is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings

# Each platform's published API hosts (docs/upstreams/): the only `https` origins an organization may
# choose without the operator's say-so.
PUBLISHED_ORIGINS: dict[str, tuple[str, ...]] = {
    "wattcarbon": ("https://api.wattcarbon.com",),
    "spark": (
        "https://api.voluespark.com",
        "https://api.sandbox.voluespark.com",
        "https://auth.identity.volue.com",
    ),
    "wattshift": ("https://api.wattshift.com",),
    "wattics": ("https://web-collector.wattics.com", "https://dev-web-collector.wattics.com"),
}

# The settings naming an operator's address for each platform.
_OPERATOR_SETTINGS = {
    "wattcarbon": ("WATTCARBON_BASE_URL",),
    "spark": ("SPARK_BASE_URL", "SPARK_TOKEN_URL"),
    "wattshift": ("WATTSHIFT_BASE_URL",),
    "wattics": ("WATTICS_BASE_URL",),
}

_DEFAULT_PORTS = {"http": 80, "https": 443}


class EgressRefused(httpcore.ConnectError):
    """A request the policy does not allow; no socket was opened for it."""


@dataclass(frozen=True)
class Origin:
    """`scheme://host:port`, lower-cased, with the default port made explicit."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme)
        return f"{self.scheme}://{self.host}" + ("" if self.port == default else f":{self.port}")


def origin_of(url: str) -> Origin:
    """The origin of an absolute http(s) URL; ValueError names what is wrong with it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("The address must start with https://.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("The address must not carry a user name or password.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("The address has an invalid port.") from exc
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("The address has no host.")
    return Origin(scheme, host, port or _DEFAULT_PORTS[scheme])


def _origins(urls: Iterable[str]) -> set[Origin]:
    found = set()
    for url in urls:
        if url and url.strip():
            try:
                found.add(origin_of(url))
            except ValueError:
                continue
    return found


def operator_origins(platform: str) -> set[Origin]:
    """Origins the operator chose: UPSTREAM_ALLOWED_ORIGINS, the platform's address settings, and
    (sandbox mode only) the emulators' own addresses."""
    urls = list(settings.UPSTREAM_ALLOWED_ORIGINS)
    urls += [getattr(settings, name, "") for name in _OPERATOR_SETTINGS.get(platform, ())]
    origins = _origins(urls)
    if settings.INTEGRATIONS_SANDBOX:
        from .sandbox.base import served_origins
        from .sandbox.registry import all_sandbox_hosts

        origins |= _origins([*all_sandbox_hosts(), *served_origins()])
    return origins


def _published(platform: str) -> set[Origin]:
    return _origins(PUBLISHED_ORIGINS.get(platform, ()))


def allowed_origins(platform: str) -> set[Origin]:
    return _published(platform) | operator_origins(platform)


def describe_allowed(platform: str) -> str:
    """The published hosts of a platform, for a form's help text and error messages."""
    return ", ".join(str(o) for o in sorted(_published(platform), key=str))


def check_url(platform: str, url: str) -> None:
    """Raise ValueError with a message for the user when `url` may not be used for `platform`."""
    origin = origin_of(url)
    if origin in allowed_origins(platform):
        return
    raise ValueError(
        f"{origin} is not an address this portal may call for this platform: use one of its "
        f"published addresses ({describe_allowed(platform)}), or ask the portal's operator to "
        "allow this one."
    )


def is_public_address(address: str) -> bool:
    """Whether an IP address may be reached without the operator's explicit say-so."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


class GuardedBackend(httpcore.SyncBackend):
    """Resolves a host itself and connects only to addresses the policy allows."""

    def __init__(self, trusted: set[tuple[str, int]]) -> None:
        self.trusted = trusted

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if (host.lower().rstrip("."), port) in self.trusted:
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved ({exc})") from exc
        addresses = [str(info[4][0]) for info in infos]
        refused = [a for a in addresses if not is_public_address(a)]
        if refused or not addresses:
            raise EgressRefused(
                f"{host} resolves to an internal address ({', '.join(refused) or 'none'}); "
                "the portal does not call internal addresses"
            )
        # Connect to the address just checked, not to the name (a second lookup could differ).
        return super().connect_tcp(addresses[0], port, timeout, local_address, socket_options)


class EgressBlocked(httpx.ConnectError):
    """What a client sees of a refused request: the reason, for the user and the call history."""


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that refuses requests to origins not allowed for `platform`."""

    def __init__(self, platform: str) -> None:
        self.platform = platform
        self.allowed = allowed_origins(platform)
        # A published origin is checked at connect time even when a setting names it too.
        explicit = operator_origins(platform) - _published(platform)
        trusted = {(o.host, o.port) for o in explicit}
        self.inner = httpx.HTTPTransport(trust_env=False)
        # httpx builds its connection pool without a network-backend option: rebuild it with ours.
        self.inner._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(trusted),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            origin = origin_of(str(request.url))
        except ValueError as exc:
            raise EgressBlocked(str(exc), request=request) from exc
        if origin not in self.allowed:
            raise EgressBlocked(
                f"{origin} is not an address this portal may call for {self.platform}",
                request=request,
            )
        try:
            return self.inner.handle_request(request)
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, EgressRefused):
                raise EgressBlocked(str(exc), request=request) from exc
            raise

    def close(self) -> None:
        self.inner.close()
