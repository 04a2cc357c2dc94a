"""One base HTTP client for every upstream platform: timeouts, User-Agent, auth hook, error mapping.

Each platform client (wattcarbon, spark, wattshift, wattics) subclasses `UpstreamClient`, supplies
its auth in `authenticate()` / `auth_headers()`, and turns the platform's error envelope into a
message in `error_message()`. The same code talks to the sandbox emulators or the real platforms:
only `base_url` (or the httpx `transport`, for the in-process sandbox) changes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx

from .egress import EgressBlocked, GuardedTransport

USER_AGENT = "Gridfolio/0.1 (+https://gridfolio.example/integrations)"

# 401 is permanent only after one re-authentication (see UpstreamClient.request).
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 413, 415, 422})
# Transport errors raised before a byte of the request left (connect refused or timed out, no free
# pooled connection, our own egress refusal): the platform surely did nothing. Any other transport
# error (a read timeout, a reset, a body cut short) may come after the platform acted.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)
# 5xx answers that say the server did not handle the request (RFC 9110 §15.6.4): 503 is what a
# platform or its load balancer answers when it is down or overloaded. A 500, 502 or 504 may come
# after the platform acted (its own crash after the write, a gateway that gave up waiting).
NOT_HANDLED_STATUSES = frozenset({503})


class UpstreamError(Exception):
    """A failed upstream call. `permanent` errors are not retried; transient ones are."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        answer_lost: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self._answer_lost = answer_lost  # None: as the status says

    @property
    def answer_lost(self) -> bool:
        """The request may have reached the platform and been acted on, and we could not read
        what it did: a create that ends so must not simply be sent again (integrations/engine.py)."""
        if self._answer_lost is not None:
            return self._answer_lost
        status = self.status_code
        return status is not None and status >= 500 and status not in NOT_HANDLED_STATUSES

    def before_sending(self) -> None:
        """Mark this error as one that stopped the call before it went out (its sign-in failed)."""
        self._answer_lost = False

    def __str__(self) -> str:
        prefix = f"{self.status_code}: " if self.status_code else ""
        return f"{prefix}{self.message}"


@dataclass
class CallRecord:
    """What the sync ledger keeps of one HTTP call: no secrets, no bodies."""

    method: str
    path: str
    status_code: int | None
    duration_ms: int
    error: str = ""
    authenticating: bool = False  # a token grant made for the call after it: it carries nothing
    note: str = ""  # what the call carried, when the code making it said (UpstreamClient.carrying)


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class UpstreamClient:
    """Base client on `httpx.Client`. Subclasses set `platform` and implement the auth hooks."""

    platform = "upstream"
    timeout = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Per thread: one client (one keep-alive pool, one token) serves all of a worker's
        # threads, and each thread's task reports its calls to its own CallLog.
        self._reporting = threading.local()
        self.on_call = on_call
        # Every real call goes through the egress policy (integrations/egress.py); a transport
        # given here is the in-process sandbox or a test's, which opens no socket of its own.
        self.http = http or httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            headers={"User-Agent": USER_AGENT},
            transport=transport or GuardedTransport(self.platform),
            trust_env=False,
        )

    @property
    def on_call(self) -> Callable[[CallRecord], None] | None:
        """Where this thread's calls are reported (None: nowhere)."""
        return getattr(self._reporting, "on_call", None)

    @on_call.setter
    def on_call(self, on_call: Callable[[CallRecord], None] | None) -> None:
        self._reporting.on_call = on_call

    # --- hooks for subclasses -----------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a call (may fetch a token first)."""
        return {}

    def reauthenticate(self) -> bool:
        """Drop a cached token so the next call fetches a new one; False when there is none."""
        return False

    def error_message(self, response: httpx.Response) -> str:
        """The platform's own message for an error answer: a field of its JSON error body, never
        the raw body (an answer that is not the platform's error format is described, not shown)."""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("detail", "message", "title", "error"):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    return _short(value.strip())
        return unreadable_answer(response)

    # --- calls ------------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One call with error mapping; on a 401 re-authenticates once and repeats the call."""
        extra_headers = dict(kwargs.pop("headers", None) or {})
        for attempt in (1, 2):
            headers = dict(extra_headers)
            if authenticated:
                self._reporting.authenticating = True
                try:
                    headers.update(self.auth_headers())
                except UpstreamError as exc:
                    # A lost answer to a token grant is harmless: the call itself never went out.
                    exc.before_sending()
                    raise
                finally:
                    self._reporting.authenticating = False
            response = self.send(method, path, headers=headers, **kwargs)
            retry_auth = response.status_code == 401 and authenticated and attempt == 1
            if retry_auth and self.reauthenticate():
                continue
            self.raise_for_status(response)
            return response
        raise AssertionError("unreachable")

    def send(
        self,
        method: str,
        path: str,
        *,
        note: Callable[[httpx.Response], str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send without error mapping (but with transport errors mapped), recording the call.

        `note` describes a successful answer the caller cannot use (e.g. a body of an unexpected
        shape): the call history keeps it in the call's error column.
        """
        started = time.monotonic()
        try:
            response = self.http.request(method, path, **kwargs)
        except EgressBlocked as exc:
            self._record(method, path, None, started, f"refused: {exc}")
            raise UpstreamError(f"Not sent: {exc}.", permanent=False) from exc
        except httpx.TimeoutException as exc:
            self._record(method, path, None, started, f"timeout: {type(exc).__name__}")
            raise UpstreamError(
                f"{self.platform} did not answer in time ({type(exc).__name__})",
                permanent=False,
                answer_lost=not isinstance(exc, NOT_SENT_ERRORS),
            ) from exc
        except httpx.TransportError as exc:
            self._record(method, path, None, started, f"network: {type(exc).__name__}")
            if isinstance(exc, NOT_SENT_ERRORS):
                message = f"{self.platform} could not be reached ({type(exc).__name__})"
            else:
                message = (
                    f"{self.platform}: the connection broke after the request went out "
                    f"({type(exc).__name__})"
                )
            raise UpstreamError(
                message, permanent=False, answer_lost=not isinstance(exc, NOT_SENT_ERRORS)
            ) from exc
        if response.is_success:
            error = note(response)[:500] if note is not None else ""
        else:
            error = self.error_message(response)[:500]
        self._record(method, path, response.status_code, started, error)
        return response

    def raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        status = response.status_code
        message = self.error_message(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        permanent = status in PERMANENT_STATUSES or (400 <= status < 500 and status != 429)
        raise UpstreamError(
            message, permanent=permanent, status_code=status, retry_after_s=retry_after
        )

    @contextmanager
    def carrying(self, note: str) -> Iterator[None]:
        """Say what the calls made inside carry ("the reading of 2025-03-01T00:00:00.000-08:00"):
        the sync history shows it beside each (this thread's calls only)."""
        self._reporting.carrying = note
        try:
            yield
        finally:
            self._reporting.carrying = ""

    def _record(
        self, method: str, path: str, status: int | None, started: float, error: str
    ) -> None:
        on_call = self.on_call
        if on_call is not None:
            duration_ms = int((time.monotonic() - started) * 1000)
            authenticating = getattr(self._reporting, "authenticating", False)
            note = "" if authenticating else getattr(self._reporting, "carrying", "")
            on_call(CallRecord(method, path, status, duration_ms, error, authenticating, note))

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unreadable_answer(response: httpx.Response) -> str:
    """An error answer without a message we can read: its status phrase, never its body (the
    call history keeps the status; a body could carry anything the far end chose to put in it)."""
    return response.reason_phrase or f"HTTP {response.status_code}"


def _short(value: Any, limit: int = 500) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
