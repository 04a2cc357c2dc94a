"""Wattics emulator: the meter-data push API (docs/upstreams/wattics.md; seed 004).

Enforces what the seed and the clarifications say, strictly, so that the client and the pusher are
tested against the rules rather than against our own assumptions:
- `POST /measurements/v2/unifiedjson/` with HTTP Basic auth (401 with a text body otherwise);
- the body is exactly one JSON object on one line (anything else: 400);
- an electrical packet (`id`, `tsISO8601`, a non-empty subset of the electrical keys) or a
  single-value packet (`id`, `tsISO8601`, `value`), never a mix, numbers only;
- `tsISO8601` is `YYYY-MM-DDThh:mm:ss.sss+hh:mm` (the meter's local time with its offset);
- per stream, a packet not later (as an instant) than the last accepted one is discarded: answered
  200, as the real platform does, but counted in the state so tests can assert it stays 0;
- `GET /measurements/v2/unifiedjson/?stream=<id>` returns the last processed packet (404 if none).

This module deliberately shares no code or constants with `integrations/wattics.py`: an emulator
that imported the client's key list would accept whatever the client gets wrong.

Extra sandbox controls (on top of the base's `/_sandbox/faults`, `/state`, `/reset`):
- `POST /_sandbox/faults {"drop_after_next": N}`: the next N packets are processed (accepted or
  discarded) and then the connection drops before the answer, the case that makes resuming after a
  crash hard. The base's `drop_next` drops *before* processing.
- `POST /_sandbox/faults {"last_packet_answer": NAME}`: every last-packet GET (with a stream and
  valid credentials) answers with the odd shape NAME of `LAST_PACKET_ANSWERS` instead of the
  packet, until set to "" or reset. The real answer's body is not published
  (`docs/upstreams/wattics.md`), so the client is tested against every shape it might meet.
- `POST /_sandbox/streams {"register": ["id", ...], "strict": true}`: known streams; in strict mode
  an unknown stream id answers 404, as an unregistered datapoint does on the real platform.
- `POST /_sandbox/credentials {"username": ..., "password": ...}`: add a Basic auth account.

State on disk (`state_path`): a year of 8,760 packets x 20 streams is ~175,000 points, a few MB of
JSON. Re-writing that after every packet would make a year's push quadratic, so accepted and
discarded packets are appended to a journal next to the snapshot (`<state>.journal`, one JSON line
per event, numbered) and the snapshot is rewritten only every `snapshot_every` events or on a
control change. Loading replays the journal lines newer than the snapshot's sequence number, so a
crash between writing the snapshot and truncating the journal applies nothing twice. A process
that finds the journal changed under it (another process sharing the state file) replays the new
lines before handling a call. With `state_path=None` (tests, benchmarks) nothing is serialised.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.sandbox.base import REASONS, Emulator, Request, Response

MEASUREMENTS_PATH = "/measurements/v2/unifiedjson/"

SANDBOX_USERNAME = "sandbox-wattics"
SANDBOX_PASSWORD = "sandbox-wattics-password"

# The seed's "JSON Packet Format" list, written out again on purpose (see the module docstring).
ELECTRICAL_KEYS = frozenset(
    [f"{prefix}_{phase}" for prefix in ("aP", "rP", "apP", "v", "c", "pC") for phase in (1, 2, 3)]
    + ["v_12", "v_13", "v_23"]
)
VALUE_KEY = "value"
IDENTITY_KEYS = frozenset({"id", "tsISO8601"})

# yyyy-mm-ddThh:mm:ss.sss+|-hh:mm, exactly (no `Z`, no missing milliseconds, no missing offset).
TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}")
# Real UTC offsets run from -12:00 to +14:00; anything outside is a bug in the sender.
MAX_OFFSET = timedelta(hours=14)

EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")
_JSON = [("Content-Type", "application/json")]

# Odd answers the last-packet GET can be told to give (see the module docstring). The first five
# say "nothing processed yet"; the rest cannot be read as a packet.
LAST_PACKET_ANSWERS = (
    "empty",  # 200 with an empty body
    "null",  # 200 `null`
    "empty_object",  # 200 `{}`
    "empty_array",  # 200 `[]`
    "not_found",  # 404, even for a stream with packets
    "html",  # 200 with an HTML page (a proxy's or a login page)
    "string",  # 200 with a bare JSON string
    "number",  # 200 with a bare JSON number
    "garbage",  # 200 with JSON cut short
    "list",  # 200 with the packet inside an array
    "no_timestamp",  # 200 with the packet without tsISO8601
    "odd_timestamp",  # 200 with the packet, tsISO8601 in UTC without milliseconds
)

# Internal header between push_packet() and __call__(); never sent to a client.
DROP_MARKER = "X-Sandbox-Drop-After-Processing"


class PacketError(ValueError):
    """A packet the platform refuses with 400; the message is the text body."""


def _refuse_constant(name: str) -> float:
    # json.loads accepts NaN and Infinity by default; they are not JSON and not numbers to Wattics.
    raise PacketError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A duplicated key is ambiguous (which value wins?), so the sandbox refuses it.
    packet: dict[str, Any] = {}
    for key, value in pairs:
        if key in packet:
            raise PacketError(f"duplicate key {key!r}")
        packet[key] = value
    return packet


def parse_body(body: bytes) -> dict[str, Any]:
    """The one JSON object in `body`, or PacketError ("one packet per request, on one line")."""
    if not body.strip():
        raise PacketError("empty body: send one JSON packet")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PacketError("body is not UTF-8") from exc
    if "\n" in text or "\r" in text:
        raise PacketError("the JSON packet must be sent in one line, no line breaks")
    try:
        # json.loads refuses trailing data, so two concatenated objects fail here too.
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise PacketError(f"not one JSON packet: {exc.msg} at character {exc.pos}") from exc
    if not isinstance(data, dict):
        raise PacketError("send one JSON object per request, not an array or a scalar")
    return data


def parse_timestamp(raw: Any) -> datetime:
    """`tsISO8601` as an aware datetime, or PacketError."""
    if not isinstance(raw, str) or not TIMESTAMP_RE.fullmatch(raw):
        raise PacketError(
            f"tsISO8601 {raw!r} is not yyyy-mm-ddThh:mm:ss.sss+hh:mm (local time with its offset)"
        )
    try:
        instant = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise PacketError(f"tsISO8601 {raw!r} is not a valid date and time") from exc
    offset = instant.utcoffset()
    if offset is None or abs(offset) > MAX_OFFSET:
        raise PacketError(f"tsISO8601 {raw!r} has no valid UTC offset")
    return instant


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python, but `true` is not a measurement.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_packet(packet: dict[str, Any]) -> tuple[str, str, int]:
    """(stream id, format, instant in epoch ms) of a valid packet, or PacketError."""
    stream_id = packet.get("id")
    if not isinstance(stream_id, str) or not stream_id.strip():
        raise PacketError("id (the data stream id, a string) is missing")
    if "tsISO8601" not in packet:
        raise PacketError("tsISO8601 is missing")
    instant = parse_timestamp(packet["tsISO8601"])
    measurement_keys = set(packet) - IDENTITY_KEYS
    unknown = measurement_keys - ELECTRICAL_KEYS - {VALUE_KEY}
    if unknown:
        raise PacketError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    if not measurement_keys:
        # "Any subset" cannot mean none: a packet with no measurement would still move the
        # stream's last timestamp and hide the data point that should have been there.
        raise PacketError("the packet carries no measurement")
    if VALUE_KEY in measurement_keys and len(measurement_keys) > 1:
        raise PacketError("value (single-value packet) cannot be mixed with electrical parameters")
    for key in sorted(measurement_keys):
        if not _is_number(packet[key]):
            raise PacketError(f"{key} must be a number, got {packet[key]!r}")
    packet_format = "value" if VALUE_KEY in measurement_keys else "electrical"
    return stream_id, packet_format, _epoch_ms(instant)


def _epoch_ms(instant: datetime) -> int:
    delta = instant - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


class WatticsEmulator(Emulator):
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
        super().__init__(state_path)
        if strict_streams and not self.state["strict_streams"]:
            self.state["strict_streams"] = True
            self._snapshot_due = True
            self.save()

    # --- state ----------------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {
            "credentials": {SANDBOX_USERNAME: SANDBOX_PASSWORD},
            "strict_streams": False,
            "known_streams": [],
            # Per stream: format, accepted, discarded, last_ms, last_packet, and the accepted
            # instants (epoch ms, UTC) with their value (`value`, or `pC_1` for electrical packets,
            # None when absent) as two flat lists, the compact form of a year of packets.
            "streams": {},
            # Refused calls by status ("400", "401", "404"), so a test can assert there were none.
            "refused": {},
            "journal_seq": 0,
        }

    @property
    def journal_path(self) -> Path | None:
        return (
            self.state_path.with_name(self.state_path.name + ".journal")
            if self.state_path
            else None
        )

    def load(self) -> None:
        super().load()
        for key, value in self.initial_state().items():
            self.state.setdefault(key, value)  # a snapshot written by an older emulator
        journal = self.journal_path
        if journal is None or not journal.exists():
            self._journal_stamp = None
            return
        # Only events newer than the state in hand: after the snapshot on a restart, after the
        # events this process already holds on a reload.
        applied = self.state.get("journal_seq", 0)
        lines = 0
        with journal.open(encoding="utf-8") as stream:
            for line in stream:
                if not line.strip():
                    continue
                lines += 1
                try:
                    event = json.loads(line)
                except ValueError:
                    # A line torn by a crash mid-write: everything before it is good. Snapshot on
                    # the next save, or new lines appended after the torn one would be lost.
                    self._snapshot_due = True
                    break
                if event[0] <= applied:
                    continue  # already in the snapshot (crash between snapshot and truncation)
                self._apply(event)
                applied = event[0]
        self._journal_lines = lines
        self._journal_stamp = self._stat_journal()

    def _stat_journal(self) -> tuple[int, int] | None:
        journal = self.journal_path
        if journal is None or not journal.exists():
            return None
        stat = journal.stat()
        return (stat.st_mtime_ns, stat.st_size)

    def _reload_if_changed(self) -> None:
        """Also take the events another process (a `manage.py` command beside `make run`) has
        appended to the journal, which leave the snapshot's mtime, all the base checks, alone."""
        super()._reload_if_changed()
        if self.journal_path is not None and self._stat_journal() != self._journal_stamp:
            self.load()

    def save(self) -> None:
        """Append the pending events to the journal; rewrite the snapshot only now and then."""
        journal = self.journal_path
        if journal is None:
            self._pending.clear()
            return
        if self._snapshot_due or self._journal_lines + len(self._pending) >= self.snapshot_every:
            super().save()
            # After the snapshot is in place: a crash before this line leaves a journal whose
            # events are all <= journal_seq, which load() skips.
            journal.write_text("")
            self._journal_lines = 0
            self._snapshot_due = False
            self._journal_stamp = self._stat_journal()
        elif self._pending:
            with journal.open("a", encoding="utf-8") as stream:
                stream.write(
                    "".join(
                        json.dumps(event, separators=(",", ":")) + "\n" for event in self._pending
                    )
                )
            self._journal_lines += len(self._pending)
            self._journal_stamp = self._stat_journal()
        self._pending.clear()

    def reset(self) -> None:
        with self.lock:
            self.drop_after_next = 0
            self.last_packet_answer = ""
            self.peers.clear()
            self._pending.clear()
            self._snapshot_due = True
            super().reset()

    def _record(self, event: list[Any]) -> None:
        """Apply an event to the state and queue it for the journal."""
        self.state["journal_seq"] += 1
        event = [self.state["journal_seq"], *event]
        self._apply(event)
        if self.state_path:
            self._pending.append(event)

    def _apply(self, event: list[Any]) -> None:
        seq, kind, stream_id = event[0], event[1], event[2]
        self.state["journal_seq"] = max(self.state.get("journal_seq", 0), seq)
        if kind == "discard":
            self.state["streams"][stream_id]["discarded"] += 1
            return
        packet_format, instant_ms, packet = event[3], event[4], event[5]
        stream = self.state["streams"].setdefault(
            stream_id,
            {
                "format": packet_format,
                "accepted": 0,
                "discarded": 0,
                "last_ms": None,
                "last_packet": None,
                "instants_ms": [],
                "values": [],
            },
        )
        stream["accepted"] += 1
        stream["last_ms"] = instant_ms
        stream["last_packet"] = packet
        stream["instants_ms"].append(instant_ms)
        stream["values"].append(
            packet.get("value") if packet_format == "value" else packet.get("pC_1")
        )

    # --- setup ------------------------------------------------------------------------------------
    def add_credentials(self, username: str, password: str) -> None:
        """Accept another Basic auth account (credentials are agreed per partner, site or meter)."""
        with self.lock:
            self._reload_if_changed()  # do not snapshot over another process's events
            self.state["credentials"][username] = password
            self._snapshot_due = True
            self.save()

    def register_streams(self, stream_ids: Iterable[str], *, strict: bool | None = None) -> None:
        """Make streams known; with `strict`, unknown streams answer 404 from now on."""
        with self.lock:
            self._reload_if_changed()  # do not snapshot over another process's events
            known = set(self.state["known_streams"]) | set(stream_ids)
            self.state["known_streams"] = sorted(known)
            if strict is not None:
                self.state["strict_streams"] = strict
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
