"""The Wattics emulator's routes (WSGI): push a packet, read the last packet, sandbox controls."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.sandbox.base import REASONS, Emulator, Request, Response

from .data import DROP_MARKER, LAST_PACKET_ANSWERS, MEASUREMENTS_PATH, SESSION_COOKIE, WatticsState
from .validation import _JSON, PacketError, parse_body, validate_packet


class WatticsEmulator(WatticsState, Emulator):
    """The Wattics push API, in memory (optionally persisted through a snapshot and a journal)."""

    name = "wattics"
    # A packet is well under 1 KB; a huge body is a client bug, not data.
    max_body_bytes = 64 * 1024

    def __init__(
        self,
        state_path: str | Path | None = None,
        *,
        strict_streams: bool = False,
        snapshot_every: int = 5000,
    ) -> None:
        # Set before the base constructor, which calls load() and so may replay the journal.
        self.snapshot_every = snapshot_every
        self.drop_after_next = 0
        self.last_packet_answer = ""  # one of LAST_PACKET_ANSWERS, or "" for the packet itself
        self._pending: list[list[Any]] = []  # journal events not yet written
        self._journal_lines = 0  # lines in the journal file since the last snapshot
        self._snapshot_due = False
        self._journal_stamp: tuple[int, int] | None = None  # journal as this process last saw it
        # (address, port) of the peers that posted packets: shows whether clients keep connections
        # alive. Not state: it means nothing after a restart.
        self.peers: set[tuple[str, str]] = set()
        # The HTTPS sessions Wattics asks clients to keep open (its current docs and API
        # clients): session id -> calls made in it. Not state either, like the peers.
        self.sessions: dict[str, int] = {}
        self.require_session = False  # refuse a packet that comes without its session cookie
        super().__init__(state_path)
        if strict_streams and not self.state["strict_streams"]:
            self.state["strict_streams"] = True
            self._snapshot_due = True
            self.save()

    def setup_routes(self) -> None:
        path = re.escape(MEASUREMENTS_PATH)
        self.route("POST", path, self.push_packet)
        self.route("GET", path, self.last_packet)

    # --- API --------------------------------------------------------------------------------------
    def push_packet(self, request: Request) -> Response:
        """One packet (seed: "JSON Packet Format", "IMPORTANT NOTES")."""
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        return self._in_session(request, self._accept_packet)

    def _accept_packet(self, request: Request) -> Response:
        try:
            packet = parse_body(request.body)
            stream_id, packet_format, instant_ms = validate_packet(packet)
        except PacketError as exc:
            return self._refuse(400, str(exc))
        if self.state["strict_streams"] and stream_id not in self.state["known_streams"]:
            return self._refuse(404, f"data stream {stream_id!r} is not registered")
        stream = self.state["streams"].get(stream_id)
        if stream is not None and stream["format"] != packet_format:
            return self._refuse(
                400,
                f"data stream {stream_id!r} takes {stream['format']} packets, not {packet_format}",
            )
        if stream is not None and instant_ms <= stream["last_ms"]:
            # Seed: "the system will discard all packets not sent chronologically". Discarded, not
            # refused: the sender is told nothing, which is why the count matters.
            self._record(["discard", stream_id])
        else:
            self._record(["accept", stream_id, packet_format, instant_ms, packet])
        response = Response.text(200, "OK")
        if self.drop_after_next > 0:
            self.drop_after_next -= 1
            response.headers.append((DROP_MARKER, "1"))
        return response

    def last_packet(self, request: Request) -> Response:
        """The last processed packet of a stream (seed: "Data Acknowledgement", the GET)."""
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        return self._in_session(request, self._read_last_packet)

    def _read_last_packet(self, request: Request) -> Response:
        stream_id = (request.query.get("stream") or [""])[-1]
        if not stream_id:
            return self._refuse(400, "the stream query parameter is required")
        stream = self.state["streams"].get(stream_id)
        last = stream["last_packet"] if stream is not None else None
        if self.last_packet_answer:
            return self._odd_last_packet(self.last_packet_answer, stream_id, last)
        if last is None:
            return self._refuse(404, f"no packet received for data stream {stream_id!r}")
        return Response.json(200, last)

    def _odd_last_packet(
        self, answer: str, stream_id: str, last: dict[str, Any] | None
    ) -> Response:
        packet = dict(last or {"id": stream_id, "tsISO8601": "2024-01-01T00:00:00.000+00:00"})
        if answer == "not_found":
            return self._refuse(404, f"no packet received for data stream {stream_id!r}")
        if answer == "html":
            page = "<!doctype html><html><head><title>Wattics</title></head><body>Sign in</body></html>"
            return Response(200, page.encode(), [("Content-Type", "text/html; charset=utf-8")])
        if answer == "garbage":
            return Response(
                200, b'{"id": "' + stream_id.encode() + b'", "tsISO8601": ', list(_JSON)
            )
        if answer == "no_timestamp":
            packet.pop("tsISO8601")
        elif answer == "odd_timestamp":
            instant = datetime.fromisoformat(packet["tsISO8601"]).astimezone(UTC)
            packet["tsISO8601"] = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        bodies: dict[str, Any] = {
            "empty": None,
            "null": "null",
            "empty_object": "{}",
            "empty_array": "[]",
            "string": json.dumps("OK"),
            "number": "42",
            "list": json.dumps([packet]),
            "no_timestamp": json.dumps(packet),
            "odd_timestamp": json.dumps(packet),
        }
        body = bodies[answer]
        return Response(200, b"" if body is None else body.encode(), list(_JSON))

    def _in_session(self, request: Request, handler: Callable[[Request], Response]) -> Response:
        """Run `handler` in the caller's HTTPS session: the one its cookie names, or a new one
        (the answer sets its cookie). With `require_session`, a packet sent without a session
        is refused (400, retried by a client that keeps its cookies, in the session it opens)."""
        session = self._session_of(request)
        if session is None:
            session = secrets.token_urlsafe(16)
            self.sessions[session] = 0
            if self.require_session and request.method == "POST":
                response = self._refuse(
                    400, "No session: keep the cookie of the session this answer opens."
                )
            else:
                response = handler(request)
            response.headers.append(("Set-Cookie", f"{SESSION_COOKIE}={session}; Path=/; HttpOnly"))
        else:
            response = handler(request)
        self.sessions[session] += 1
        return response

    def _session_of(self, request: Request) -> str | None:
        for part in request.headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE and value in self.sessions:
                return value
        return None

    def _authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() == "basic" and encoded:
            try:
                username, sep, password = (
                    base64.b64decode(encoded, validate=True).decode().partition(":")
                )
            except (binascii.Error, UnicodeDecodeError):
                sep = ""
            if sep:
                expected = self.state["credentials"].get(username)
                if expected is not None and secrets.compare_digest(expected, password):
                    return None
        response = self._refuse(401, "Unauthorized")
        response.headers.append(("WWW-Authenticate", 'Basic realm="Wattics"'))
        return response

    def _refuse(self, status: int, message: str) -> Response:
        refused = self.state["refused"]
        refused[str(status)] = refused.get(str(status), 0) + 1
        return Response.text(status, message)

    # --- control endpoints and faults -------------------------------------------------------------
    def control(self, action: str, request: Request) -> Response | None:
        data = request.json() if request.body else {}
        if action == "faults" and request.method == "POST":
            # Only take our own key here; the base handles the rest of the same request.
            if "last_packet_answer" in data:
                answer = str(data["last_packet_answer"] or "")
                if answer and answer not in LAST_PACKET_ANSWERS:
                    return Response.json(
                        400, {"detail": f"last_packet_answer is one of {list(LAST_PACKET_ANSWERS)}"}
                    )
                with self.lock:
                    self.last_packet_answer = answer
            if "drop_after_next" in data:
                with self.lock:
                    self.drop_after_next = int(data["drop_after_next"])
            return None
        if action == "sessions" and request.method == "POST":
            with self.lock:
                self.require_session = bool(data.get("required", self.require_session))
                return Response.json(
                    200, {"required": self.require_session, "sessions": dict(self.sessions)}
                )
        if action == "streams" and request.method == "POST":
            register = data.get("register", [])
            if not isinstance(register, list):
                return Response.json(400, {"detail": "register takes a list of stream ids"})
            self.register_streams(map(str, register), strict=data.get("strict"))
            return Response.json(200, {"known_streams": self.state["known_streams"]})
        if action == "credentials" and request.method == "POST":
            self.add_credentials(str(data["username"]), str(data["password"]))
            return Response.json(200, {"username": data["username"]})
        return None

    # Wattics answers errors with a reason phrase (its Java client reads `getReasonPhrase()`), not
    # with a JSON envelope, so every error of this emulator is text.
    def error_for_fault(self, status: int) -> Response:
        return Response.text(status, REASONS.get(status, "Error"))

    def not_found(self, request: Request) -> Response:
        return Response.text(404, "Not Found")

    def method_not_allowed(self, request: Request) -> Response:
        return Response.text(405, "Method Not Allowed")

    def malformed(self, request: Request) -> Response:
        return Response.text(400, "Bad Request")

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        # A handler cannot drop the connection itself (the base answers what it returns), so it
        # marks the response and the marker is turned into a dropped connection here, after the
        # packet was processed and the state saved.
        marked = False

        def intercept(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal marked
            if any(name == DROP_MARKER for name, _ in headers):
                marked = True
                return None
            return start_response(status, headers, exc_info)

        if (
            environ.get("PATH_INFO") == MEASUREMENTS_PATH
            and environ.get("REQUEST_METHOD") == "POST"
        ):
            with self.lock:
                self.peers.add((environ.get("REMOTE_ADDR", ""), environ.get("REMOTE_PORT", "")))
        body = super().__call__(environ, intercept)
        if marked:
            return self._dropped(start_response)
        return body
