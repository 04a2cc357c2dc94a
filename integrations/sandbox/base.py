"""Shared machinery of the upstream emulators: routing, JSON answers, fault injection, state.

Each emulator is a plain WSGI application (no Django), so the same object serves the in-process
sandbox of `make run` (through an httpx WSGI transport) and real HTTP on 127.0.0.1 (waitress, with
HTTP/1.1 keep-alive) for the tests, the benchmarks and `manage.py sandbox`.

Control endpoints, on every emulator, under `/_sandbox/`:
- `POST /_sandbox/faults` `{"fail_next": N, "status": 503, "retry_after": 2, "latency_ms": 50,
  "drop_next": N, "drop_answer_next": N, "drop_answer_path": "/devices", "expire_tokens": true}`:
  the next N calls answer `status` (with `Retry-After` when given), every call waits `latency_ms`,
  the next N calls lose their connection before the platform sees them (`drop_next`), the next N
  calls the platform carries out (a 2xx answer; of the paths matching `drop_answer_path`, a
  regular expression, when given) lose their connection instead of the answer (`drop_answer_next`:
  "act, then drop the answer", the lost answer to a create), and every token issued so far stops
  working.
- `GET /_sandbox/state`: the emulator's whole state as JSON (what tests check against).
- `POST /_sandbox/reset`: forget everything.

Tenants: in sandbox mode every organization talks to the same emulators. The in-process transport
of an organization's connection sends its tenant in `X-Sandbox-Tenant` (set by the transport, so
client code neither knows nor can forge it); faults set for a tenant (`fail_for(..., tenant=)`, or
the faults endpoint called with that header) fail only that tenant's calls. Faults set without a
tenant (the tests', the drills', `manage.py sandbox` over HTTP) fail every call, as before.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from waitress import wasyncore

HandlerResult = "Response"
# Who is calling, in sandbox mode: the organization, as the in-process transport tells it.
TENANT_HEADER = "X-Sandbox-Tenant"


class ConnectionDropped(Exception):
    """Raised inside a response body so that the server closes the socket mid-answer."""


@dataclass
class Request:
    """What a handler sees of one WSGI request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route's named groups

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def tenant(self) -> str:
        """The calling organization's tenant ("" when the caller names none)."""
        return self.headers.get(TENANT_HEADER.lower(), "")


@dataclass
class Response:
    """An emulator's answer."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any, content_type: str = "application/json") -> Response:
        return cls(status, json.dumps(data).encode(), [("Content-Type", content_type)])

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Faults:
    """Faults the next calls will meet; changed through `/_sandbox/faults` or directly in tests."""

    fail_next: int = 0
    status: int = 503
    retry_after: float | None = None
    latency_ms: int = 0
    drop_next: int = 0
    fail_until: float = 0.0  # time.time() until which every call fails (an outage of some minutes)
    drop_answer_next: int = 0  # carried out, then the connection drops instead of the answer
    drop_answer_path: str = ""  # only calls whose path matches (a regular expression); "" any

    def drops_answer_to(self, path: str) -> bool:
        """Whether the answer to this call (one the platform carried out) is dropped; counts it."""
        if self.drop_answer_next <= 0:
            return False
        if self.drop_answer_path and not re.fullmatch(self.drop_answer_path, path):
            return False
        self.drop_answer_next -= 1
        return True


class Emulator:
    """Base WSGI app. Subclasses register routes in `setup_routes` and keep state in `self.state`."""

    name = "emulator"
    max_body_bytes = 50 * 1024 * 1024

    def __init__(self, state_path: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.faults = Faults()  # every caller's
        self.tenant_faults: dict[str, Faults] = {}  # one tenant's only
        self.routes: list[tuple[str, re.Pattern[str], Callable[[Request], Response]]] = []
        self.state_path = Path(state_path) if state_path else None
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status) of every call
        self.state: dict[str, Any] = self.initial_state()
        self.load()
        self.setup_routes()

    # --- for subclasses -------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {}

    def setup_routes(self) -> None:
        raise NotImplementedError

    def expire_tokens(self) -> None:
        """Make every token issued so far invalid (subclasses that issue tokens override)."""

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    # --- state ----------------------------------------------------------------------------
    def load(self) -> None:
        if self.state_path and self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
            self._mtime = self.state_path.stat().st_mtime_ns

    def _reload_if_changed(self) -> None:
        """Another process (a `manage.py` command beside `make run`) saved newer state: take it."""
        path = self.state_path
        if path and path.exists() and path.stat().st_mtime_ns != getattr(self, "_mtime", None):
            self.load()

    def save(self) -> None:
        """Persist the state (in sandbox mode, so it survives a restart of `make run`)."""
        if self.state_path:
            tmp = self.state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state))
            tmp.replace(self.state_path)
            self._mtime = self.state_path.stat().st_mtime_ns

    def reset(self) -> None:
        with self.lock:
            self.state = self.initial_state()
            self.faults = Faults()
            self.tenant_faults.clear()
            self.calls.clear()
            self.save()

    @staticmethod
    def new_id(prefix: str = "") -> str:
        return f"{prefix}{secrets.token_hex(8)}"

    # --- faults ---------------------------------------------------------------------------
    def faults_for(self, tenant: str = "") -> Faults:
        """The faults of `tenant` (created on first use), or every caller's when it is ""."""
        if not tenant:
            return self.faults
        with self.lock:
            return self.tenant_faults.setdefault(tenant, Faults())

    def fail_for(self, seconds: float, status: int = 503, *, tenant: str = "") -> None:
        """Every call (of `tenant` only, when given) answers `status` for `seconds`; 0 ends it."""
        with self.lock:
            faults = self.faults_for(tenant)
            faults.status = status
            faults.fail_until = time.time() + seconds

    def drop_answers(self, count: int = 1, path: str = "", *, tenant: str = "") -> None:
        """The next `count` calls (of `tenant` only, when given; to paths matching `path`, when
        given) that the platform carries out lose their connection instead of their answer."""
        with self.lock:
            faults = self.faults_for(tenant)
            faults.drop_answer_next = count
            faults.drop_answer_path = path

    def _faults_of(self, tenant: str) -> list[Faults]:
        """Every caller's faults, then the tenant's own (caller holds the lock)."""
        own = self.tenant_faults.get(tenant) if tenant else None
        return [self.faults] if own is None else [self.faults, own]

    # --- control endpoints ------------------------------------------------------------------
    def control(self, action: str, request: Request) -> Response | None:
        """A platform's own `/_sandbox/<action>` endpoint, or None when `action` is not one."""
        return None

    def _control(self, request: Request) -> Response:
        action = request.path.removeprefix("/_sandbox/")
        extra = self.control(action, request)
        if extra is not None:
            return extra
        if action == "state" and request.method == "GET":
            with self.lock:
                return Response.json(200, self.state)
        if action == "reset" and request.method == "POST":
            self.reset()
            return Response.json(200, {"reset": True})
        if action == "faults" and request.method == "POST":
            data = request.json() if request.body else {}
            with self.lock:
                faults = self.faults_for(request.tenant)
                faults.fail_next = int(data.get("fail_next", faults.fail_next))
                faults.status = int(data.get("status", faults.status))
                faults.retry_after = data.get("retry_after", faults.retry_after)
                faults.latency_ms = int(data.get("latency_ms", faults.latency_ms))
                faults.drop_next = int(data.get("drop_next", faults.drop_next))
                faults.drop_answer_next = int(data.get("drop_answer_next", faults.drop_answer_next))
                faults.drop_answer_path = str(data.get("drop_answer_path", faults.drop_answer_path))
                if "fail_for_s" in data:
                    faults.fail_until = time.time() + float(data["fail_for_s"])
                if data.get("expire_tokens"):
                    self.expire_tokens()
                    self.save()
                return Response.json(200, faults.__dict__)
        return Response.json(404, {"detail": "unknown sandbox control"})

    def fault_response(self, tenant: str = "") -> Response | None:
        """The injected failure for this call of `tenant`, if one is due (caller holds the lock)."""
        now = time.time()
        for faults in self._faults_of(tenant):
            outage = faults.fail_until > now
            if faults.fail_next > 0 or outage:
                if not outage:
                    faults.fail_next -= 1
                response = self.error_for_fault(faults.status)
                if faults.retry_after is not None:
                    response.headers.append(("Retry-After", str(faults.retry_after)))
                return response
        return None

    def error_for_fault(self, status: int) -> Response:
        """The body an injected failure carries; platforms with an error envelope override."""
        return Response.json(status, {"detail": REASONS.get(status, "error")})

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"detail": "Not Found"})

    def method_not_allowed(self, request: Request) -> Response:
        return Response.json(405, {"detail": "Method Not Allowed"})

    # --- WSGI -------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        with self.lock:
            fault = self.fault_response(request.tenant)
        if fault is not None:
            return fault
        path_matched = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if not match:
                continue
            path_matched = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            with self.lock:
                self._reload_if_changed()
                response = handler(request)
                self.save()
            return response
        if path_matched:
            return self.method_not_allowed(request)
        return self.not_found(request)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            response = Response.json(413, {"detail": "body too large"})
            body = b""
        else:
            body = environ["wsgi.input"].read(length) if length else b""
            headers = {
                key[5:].replace("_", "-").lower(): value
                for key, value in environ.items()
                if key.startswith("HTTP_")
            }
            if environ.get("CONTENT_TYPE"):
                headers["content-type"] = environ["CONTENT_TYPE"]
            request = Request(
                method=environ["REQUEST_METHOD"].upper(),
                path=environ.get("PATH_INFO") or "/",
                query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
                headers=headers,
                body=body,
            )
            control = request.path.startswith("/_sandbox/")
            with self.lock:
                faults = self._faults_of(request.tenant)
            latency_ms = max(f.latency_ms for f in faults)
            if latency_ms and not control:
                time.sleep(latency_ms / 1000)
            drop = False
            with self.lock:
                dropping = next((f for f in faults if f.drop_next > 0), None)
                if dropping is not None and not control:
                    dropping.drop_next -= 1
                    drop = True
            if drop:
                return self._dropped(start_response)
            try:
                response = self.dispatch(request)
            except (ValueError, UnicodeDecodeError):
                response = self.malformed(request)
            with self.lock:
                self.calls.append((request.method, request.path, response.status))
                drop_answer = (
                    not control
                    and 200 <= response.status < 300
                    and any(f.drops_answer_to(request.path) for f in faults)
                )
            if drop_answer:
                return self._dropped(start_response)  # done and saved: only the answer is lost
        response_headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(
            f"{response.status} {REASONS.get(response.status, 'Status')}", response_headers
        )
        return [response.body]

    def malformed(self, request: Request) -> Response:
        """Answer to a body that does not parse (JSON or form); platforms override the shape."""
        return Response.json(400, {"detail": "malformed request body"})

    @staticmethod
    def _dropped(start_response: Callable) -> Iterable[bytes]:
        """Promise a body and close the socket before sending it: the client sees a broken read."""
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "64")])

        def body() -> Iterable[bytes]:
            yield b'{"partial'
            raise ConnectionDropped("fault injection: connection dropped")

        return body()


def serve(app: Emulator, host: str = "127.0.0.1", port: int = 0, threads: int = 8) -> Any:
    """A waitress server for `app` (not yet running: call `.run()`); port 0 picks a free port."""
    from waitress.server import create_server

    return create_server(
        app, host=host, port=port, threads=threads, ident=app.name, expose_tracebacks=False
    )


_served_lock = threading.Lock()
_served: set[str] = set()


def served_origins() -> frozenset[str]:
    """The addresses of the emulators this process serves over HTTP right now (sandbox mode lets
    the portal call them; nothing else on the loopback)."""
    with _served_lock:
        return frozenset(_served)


class RunningEmulator:
    """An emulator served over real HTTP in a background thread (tests, benchmarks)."""

    poll_s = 0.05  # how long a stop request may wait for the serving loop to notice it

    def __init__(
        self, app: Emulator, host: str = "127.0.0.1", port: int = 0, threads: int = 8
    ) -> None:
        self.app = app
        self.server = serve(app, host, port, threads=threads)
        bound_host, bound_port = self.server.socket.getsockname()[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"  # still readable after __exit__
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=f"{app.name}-http", daemon=True)

    def _serve(self) -> None:
        # waitress's run() blocks in select() for up to 1 s and dies with EBADF when the socket
        # is closed under it: poll in short rounds and stop before anything is closed.
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=self.poll_s, map=self.server._map, count=1)

    def __enter__(self) -> RunningEmulator:
        self.thread.start()
        with _served_lock:
            _served.add(self.base_url)
        return self

    def __exit__(self, *exc: object) -> None:
        with _served_lock:
            _served.discard(self.base_url)
        self._stopping.set()
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown()
        wasyncore.close_all(self.server._map)


class SandboxTransport(httpx.WSGITransport):
    """In-process transport: a dropped connection surfaces as the httpx error a socket gives, and
    every request names the transport's tenant (whatever the client sent in that header)."""

    def __init__(self, *args: Any, tenant: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.tenant:
            request.headers[TENANT_HEADER] = self.tenant
        else:
            request.headers.pop(TENANT_HEADER, None)
        try:
            response = super().handle_request(request)
            response.read()
        except ConnectionDropped as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        return response
