"""Platform clients built from a Connection: the real platform, or the in-process sandbox.

A client is kept per process and connection (and rebuilt when the connection changes), so its
token and its keep-alive HTTP connection serve many tasks instead of one sign-in per call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

from .http import CallRecord, UpstreamClient
from .models import Connection, Platform, Profile, SyncAttempt, UpstreamLink

_lock = threading.Lock()
_cache: dict[tuple[int, str], UpstreamClient] = {}


class CallLog:
    """Collects the calls a client makes for one piece of work (the SyncAttempt rows)."""

    def __init__(self) -> None:
        self.calls: list[tuple[CallRecord, str]] = []
        self.note = ""  # what the calls from now on carry (note_calls)

    def __call__(self, record: CallRecord) -> None:
        self.calls.append((record, "" if record.authenticating else record.note or self.note))

    def save(self, connection: Connection, link: UpstreamLink | None = None) -> None:
        """Keep the collected calls as SyncAttempt rows (no secrets, no bodies) and start afresh."""
        now = timezone.now()
        SyncAttempt.objects.bulk_create(
            SyncAttempt(
                link=link,
                connection=connection,
                started_at=now - timedelta(milliseconds=call.duration_ms),
                duration_ms=call.duration_ms,
                method=call.method,
                path=call.path[:300],
                status_code=call.status_code,
                error=call.error[:2000],
                note=note[:300],
            )
            for call, note in self.calls
        )
        self.calls.clear()
        self.note = ""


def note_calls(client: UpstreamClient, note: str) -> None:
    """Say what the client's next calls carry ("changed name, size_kw"; "readings from ... to
    ..., 744 rows"): the sync history shows it beside each call."""
    log = client.on_call
    if isinstance(log, CallLog):
        log.note = note


def readings_note(content: bytes, rows: int) -> str:
    """What a CSV of readings carries: its first and last times as written, and its rows."""
    lines = content.strip().splitlines()
    if rows <= 0 or len(lines) < 2:
        return "no readings"
    first = lines[1].split(b",", 1)[0].decode(errors="replace")
    last = lines[-1].split(b",", 1)[0].decode(errors="replace")
    return f"readings from {first} to {last}, {rows:,} row{'s' if rows != 1 else ''}"


def _transport(connection: Connection) -> httpx.BaseTransport | None:
    if settings.INTEGRATIONS_SANDBOX and not connection.base_url:
        from .sandbox import registry

        return registry.transport(
            connection.platform,
            tenant=registry.tenant_of(connection.organization_id),
            profile=connection.profile,
        )
    return None


def _base_url(connection: Connection) -> str:
    if settings.INTEGRATIONS_SANDBOX and not connection.base_url:
        from .sandbox.registry import sandbox_host

        return sandbox_host(connection.platform, connection.profile)
    return connection.effective_base_url


def build_client(
    connection: Connection, on_call: Callable[[CallRecord], None] | None = None
) -> UpstreamClient:
    """A new client for `connection` (credentials decrypted here, never logged)."""
    credentials = connection.credentials
    base_url = _base_url(connection)
    transport = _transport(connection)
    common: dict[str, Any] = {"transport": transport, "on_call": on_call}
    if connection.platform == Platform.WATTCARBON:
        from .wattcarbon import WattCarbonClient

        return WattCarbonClient(
            base_url,
            email=credentials.get("username", ""),
            api_key=credentials.get("password", ""),
            paths=(connection.extra or {}).get("paths"),  # current profile: unpublished paths
            **common,
        )
    if connection.platform == Platform.SPARK:
        from .spark import CURRENT_TOKEN_LIFETIME_S, DEFAULT_TOKEN_LIFETIME_S, SparkClient

        # The in-process emulator issues tokens itself; a real address uses the connection's.
        token_url = (
            f"{base_url}/connect/token" if transport is not None else connection.effective_token_url
        )
        return SparkClient(
            base_url,
            token_url=token_url,
            client_id=credentials.get("username", ""),
            client_secret=credentials.get("password", ""),
            # Without `expires_in`, a token lives as long as the profile's contract says.
            default_token_lifetime_s=CURRENT_TOKEN_LIFETIME_S
            if connection.profile == Profile.CURRENT
            else DEFAULT_TOKEN_LIFETIME_S,
            **common,
        )
    if connection.platform == Platform.WATTSHIFT:
        from .wattshift import WattShiftClient

        return WattShiftClient(base_url, api_key=credentials.get("api_key", ""), **common)
    if connection.platform == Platform.WATTICS:
        from .wattics import WatticsClient

        return WatticsClient(
            base_url,
            username=credentials.get("username", ""),
            password=credentials.get("password", ""),
            **common,
        )
    raise ValueError(f"unknown platform {connection.platform!r}")


def client_for(connection: Connection, log: CallLog) -> UpstreamClient:
    """The process's client for `connection`, reporting its calls to `log` for this piece of work."""
    key = (connection.pk, connection.updated_at.isoformat() if connection.updated_at else "")
    with _lock:
        client = _cache.get(key)
        if client is None:
            for stale in [k for k in _cache if k[0] == connection.pk]:
                _cache.pop(stale).close()
            client = build_client(connection)
            _cache[key] = client
    client.on_call = log
    return client


def forget_clients() -> None:
    with _lock:
        for client in _cache.values():
            client.close()
        _cache.clear()
