"""Wattics: push a meter's interval readings as packets, one per request, strictly in order.

Contract: `docs/upstreams/wattics.md` and the Wattics data integration guide ("REST API - Smart
Meter Energy Data API", https://developers.wattics.com/). Four parts, none touching the ORM:
1. pure packet builders (`value_packet`, `electrical_packet`, `encode_packet`, `local_timestamp`);
2. `read_last_packet`, a tolerant reader of the last-packet answer, whose body is not published;
3. `WatticsClient`, named after the two upstream operations (push a packet, read the last one);
4. `StreamPusher`, which sends one stream's readings in order, retries each packet until Wattics
   acknowledges it, and never skips ahead: a hole or a discarded packet is data lost upstream;
   `retry_delay_s`, the capped backoff between runs of a stream that never gives up.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any, Literal

import httpx

from integrations.http import CallRecord, UpstreamClient, UpstreamError

MEASUREMENTS_PATH = "/measurements/v2/unifiedjson/"
# Wattics' two collectors (developers.wattics.com; the Java client's Config.java, the Ruby client's
# config.rb): production, the default, and development, for a partner's tests.
COLLECTORS = {
    "production": "https://web-collector.wattics.com",
    "development": "https://dev-web-collector.wattics.com",
}

PacketFormat = Literal["value", "electrical"]

# The answers that need a person (the credentials); every other error is retried until 200.
AUTH_STATUSES = frozenset({401, 403})

# Guide, "IMPORTANT NOTES": yyyy-mm-ddThh:mm:ss.sss+|-hh:mm, the meter's local time and offset.
_TIMESTAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}")


# --- packet builders ------------------------------------------------------------------------------
def _utc_ms(instant: datetime) -> datetime:
    """`instant` in UTC, cut to the millisecond: the precision of `tsISO8601`, so that the
    pusher's cursor compares exactly with what Wattics echoes back."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant!r} has no timezone: Wattics needs an instant")
    utc = instant.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)


def local_timestamp(instant_utc: datetime, tz: tzinfo) -> str:
    """`tsISO8601` of an instant for a meter in `tz`: local time with its offset, to the ms.

    The offset is what keeps the repeated autumn hour apart: in America/Chicago 06:00Z and 07:00Z on
    2024-11-03 are both 01:00 local, `-05:00` then `-06:00`.
    """
    text = _utc_ms(instant_utc).astimezone(tz).isoformat(timespec="milliseconds")
    if not _TIMESTAMP_RE.fullmatch(text):
        # Offsets with seconds (local mean time before ~1900) cannot be written as +hh:mm.
        raise ValueError(f"{text} cannot be written as yyyy-mm-ddThh:mm:ss.sss+hh:mm")
    return text


def _finite(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} {value!r} is not a finite number")
    return number


def value_packet(stream_id: str, instant: datetime, tz: tzinfo, value_kwh: float) -> dict[str, Any]:
    """Single-value packet (guide: "Single-value data points ... `value`") for one interval."""
    return {
        "id": stream_id,
        "tsISO8601": local_timestamp(instant, tz),
        "value": _finite(value_kwh, "value_kwh"),
    }


def electrical_packet(
    stream_id: str, instant: datetime, tz: tzinfo, cumulative_wh: float
) -> dict[str, Any]:
    """Electrical packet with only the energy register (guide: "If you only have one total value
    for a data point you must use the first parameter", `pC_1`, Wh consumed since the start)."""
    return {
        "id": stream_id,
        "tsISO8601": local_timestamp(instant, tz),
        "pC_1": _finite(cumulative_wh, "cumulative_wh"),
    }


def encode_packet(packet: dict[str, Any]) -> bytes:
    """The request body: compact JSON on one line (guide: "sent in one line, no line breaks").

    json.dumps escapes control characters inside strings, so the result never holds a line break;
    `allow_nan=False` because NaN is not JSON and Wattics would refuse the packet.
    """
    return json.dumps(packet, separators=(",", ":"), allow_nan=False).encode("utf-8")


def packet_instant(packet: dict[str, Any]) -> datetime:
    """The UTC instant of a packet's `tsISO8601` (e.g. one read back from Wattics)."""
    raw = packet.get("tsISO8601")
    if not isinstance(raw, str) or not _TIMESTAMP_RE.fullmatch(raw):
        raise ValueError(f"tsISO8601 {raw!r} is not yyyy-mm-ddThh:mm:ss.sss+hh:mm")
    return _utc_ms(datetime.fromisoformat(raw))


# --- the last-packet answer -------------------------------------------------------------------
@dataclass(frozen=True)
class LastPacket:
    """What Wattics answered about a stream's last processed packet.

    `packet` and `instant` are set when the answer names a packet the pusher can resume from.
    `note` says why an answer could not be used; it is empty when there was nothing (an empty
    body, `null`, `{}`, `[]`, 404) or when the answer was used.
    """

    packet: dict[str, Any] | None = None
    instant: datetime | None = None
    note: str = ""


NOTHING = LastPacket()


def _describe_body(content: bytes, content_type: str) -> str:
    # Describe, never show: the call history keeps no bodies (integrations/http.py).
    kind = content_type.split(";")[0].strip().lower() or "no content type"
    if "html" in kind or content.lstrip()[:1] == b"<":
        return f"an HTML page ({len(content)} bytes)"
    return f"{len(content)} bytes of {kind} that are not JSON"


def _json_kind(data: Any) -> str:
    if isinstance(data, bool):
        return "a boolean"
    if isinstance(data, int | float):
        return "a number"
    if isinstance(data, str):
        return f"a string of {len(data)} characters"
    if isinstance(data, list):
        return f"an array of {len(data)} items"
    return type(data).__name__


def read_last_packet(
    content: bytes, content_type: str = "", packet_format: PacketFormat | None = None
) -> LastPacket:
    """The last-packet answer, read tolerantly: its body is not published
    (`docs/upstreams/wattics.md`, "last packet"), so anything may come back.

    Nothing processed yet: an empty body, `null`, `{}`, `[]`. A packet: a JSON object whose
    `tsISO8601` is in the guide's format (and, for an electrical stream, with a numeric `pC_1` to
    continue the register from). Anything else is unreadable: a `LastPacket` with a note only.
    """
    if not content.strip():
        return NOTHING
    try:
        data = json.loads(content)
    except ValueError:  # also a body that is not UTF-8
        return LastPacket(note=f"the answer is {_describe_body(content, content_type)}")
    if data is None or data == {} or data == []:
        return NOTHING
    if not isinstance(data, dict):
        return LastPacket(note=f"the answer is {_json_kind(data)}, not a packet")
    if "tsISO8601" not in data:
        return LastPacket(note="the answer is an object without tsISO8601")
    try:
        instant = packet_instant(data)
    except ValueError:
        raw = data["tsISO8601"]
        shape = f"a string of {len(raw)} characters" if isinstance(raw, str) else _json_kind(raw)
        return LastPacket(
            note=f"its tsISO8601 is {shape}, not yyyy-mm-ddThh:mm:ss.sss+hh:mm as packets carry"
        )
    if packet_format == "electrical":
        register = data.get("pC_1")
        if not _is_number(register):
            return LastPacket(
                note="the electrical packet has no numeric pC_1 to continue the register from"
            )
    return LastPacket(packet=data, instant=instant)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- client ---------------------------------------------------------------------------------------
class WatticsClient(UpstreamClient):
    """The Wattics push API: HTTP Basic auth, one JSON packet per request.

    One HTTPS session, kept open as Wattics asks (its current docs and API clients): the client's
    httpx.Client keeps the connection alive and its cookie jar sends back every cookie Wattics
    sets. A connection has one client (`integrations.clients`), so a stream's run, from its
    last-packet read to its last packet, and the connection's later runs, go on in that session
    until the connection is saved again.
    """

    platform = "wattics"

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        transport: httpx.BaseTransport | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        if ":" in username:
            raise ValueError("a Basic auth username cannot contain ':' (RFC 7617)")
        super().__init__(base_url, transport=transport, on_call=on_call, http=http)
        # Sent per request rather than set on the httpx.Client, so that one shared client (one
        # keep-alive pool) can carry several organizations' credentials.
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._authorization = f"Basic {token}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization}

    def push_packet(self, packet: dict[str, Any]) -> None:
        """POST one packet; returns on 200, raises UpstreamError otherwise.

        Guide, "Step 2: Pushing data to Wattics": POST, basic authentication, one packet per HTTP
        transaction.
        """
        with self.carrying(f"the reading of {packet.get('tsISO8601', '?')}"):
            self.request(
                "POST",
                MEASUREMENTS_PATH,
                content=encode_packet(packet),
                headers={"Content-Type": "application/json"},
            )

    def last_packet(self, stream_id: str, packet_format: PacketFormat | None = None) -> LastPacket:
        """The last packet Wattics processed for a stream (`read_last_packet`); 404 is nothing.

        Guide, "Data Acknowledgement": "check the latest processed packet ... through a GET"; the
        answer's body is not published (`docs/upstreams/wattics.md`). An answer that cannot be
        read is no error: the call's history row says why, and the caller keeps its own cursor.
        Raises UpstreamError when the call itself fails (401, 503, no answer...).
        """
        answers: list[LastPacket] = []

        def note(response: httpx.Response) -> str:
            answers.append(
                read_last_packet(
                    response.content, response.headers.get("content-type", ""), packet_format
                )
            )
            reason = answers[-1].note
            return f"Last packet not readable: {reason}; our own cursor stays." if reason else ""

        try:
            self.request("GET", MEASUREMENTS_PATH, params={"stream": stream_id}, note=note)
        except UpstreamError as exc:
            if exc.status_code == 404:
                return NOTHING
            raise
        return answers[-1]


# --- pusher -------------------------------------------------------------------------------------
class PushOutcome(StrEnum):
    """How a push ended, which tells the caller what to do next."""

    DONE = "done"  # every row was acknowledged or reported late
    RETRY_LATER = "retry_later"  # a packet kept failing: push again later, from the cursor
    # Retrying cannot help: the credentials were refused (status_code 401/403), or a reading
    # cannot be written as a packet (no status_code). A person must act.
    STOPPED = "stopped"


class ErrorAction(StrEnum):
    """What the pusher does about one failed call (see `error_action`)."""

    RETRY = "retry"
    RETRY_AFTER_CHECK = "retry_after_check"
    STOP = "stop"


def error_action(error: UpstreamError) -> ErrorAction:
    """What the pusher does about a failed push. The guide lists 400, 401, 403, 404, 500 and 503
    and says "retry transmission until you get status=200" (`docs/upstreams/wattics.md`):

    - 401/403: the credentials. Repeating the call cannot change the answer, so stop; the stream
      pauses until a person saves the connection again, then starts with this very packet.
    - no status (timeout, lost connection), 500, 502, 504: Wattics may have processed the packet
      before the answer was lost, so ask it (GET last packet) before sending the packet again;
      sending blindly would be discarded at best.
    - anything else (400, 404 for a stream not registered *yet*, 429, 503 for maintenance, any
      other status): retry the same packet, with backoff, for as long as it takes. Skipping it
      would leave a hole; stopping for good would leave every later packet behind it.
    """
    status = error.status_code
    if status in AUTH_STATUSES:
        return ErrorAction.STOP
    if status is None or status in (500, 502, 504):
        return ErrorAction.RETRY_AFTER_CHECK
    return ErrorAction.RETRY


def retry_delay_s(
    failed_runs: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    jitter: Callable[[float, float], float] = random.uniform,
) -> float:
    """How long a stream waits before its next run after `failed_runs` failed runs in a row.

    Exponential from `base_s` with jitter, `Retry-After` winning, never more than `max_s`: a
    stream retries until 200 and never gives up (the guide), so the cap bounds how late it
    notices that Wattics is back. The exponent is bounded too: after days of retries
    2**failed_runs would no longer fit in a float.
    """
    exponent = min(max(failed_runs - 1, 0), 32)
    delay = base_s * 2**exponent * jitter(0.75, 1.25)
    if retry_after_s is not None:
        delay = retry_after_s
    return max(0.0, min(max_s, delay))


@dataclass
class PushResult:
    """What one `StreamPusher.push` did: enough for the ledger and for the caller's next step."""

    outcome: PushOutcome
    cursor: datetime | None  # last instant Wattics acknowledged (UTC)
    total_wh: float | None  # the register at the cursor (electrical streams only)
    acknowledged: int = 0  # packets acknowledged during this push
    late: list[datetime] = field(default_factory=list)  # rows at or before the cursor: not sent
    failed_calls: int = 0
    error: str = ""
    status_code: int | None = None
    retry_after_s: float | None = None  # Wattics asked for a pause longer than the pusher's cap


class StreamPusher:
    """Pushes one Wattics stream's readings in order, one packet at a time, retrying each packet.

    Typical use from a task: `pusher.resume()` (ask Wattics where the stream is), then
    `pusher.push(rows after pusher.cursor)`; persist the cursor in `on_ack`; on RETRY_LATER run
    again later (from the persisted cursor, after `retry_delay_s`), for as long as it takes; on
    STOPPED show the error to a person. The in-call retries only ride out short blips:
    `max_attempts` bounds the time a worker is held per packet (about 15 s with the defaults), and
    longer outages go back to the caller's backoff.
    """

    def __init__(
        self,
        client: WatticsClient,
        stream_id: str,
        tz: tzinfo,
        packet_format: PacketFormat,
        *,
        cursor: datetime | None = None,
        total_wh: float = 0.0,
        on_ack: Callable[[datetime, float | None], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        base_delay_s: float = 0.5,
        max_delay_s: float = 8.0,
    ) -> None:
        if packet_format not in ("value", "electrical"):
            raise ValueError(f"unknown Wattics packet format {packet_format!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.client = client
        self.stream_id = stream_id
        self.tz = tz
        self.packet_format = packet_format
        self.cursor = _utc_ms(cursor) if cursor is not None else None
        # The register in integer mWh: summing a year of float kWh would drift, integers do not.
        self._total_mwh = round(total_wh * 1000)
        self.on_ack = on_ack
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s

    @property
    def total_wh(self) -> float | None:
        return self._total_mwh / 1000 if self.packet_format == "electrical" else None

    def resume(self) -> datetime | None:
        """Move the cursor (and the register) forward to the last packet Wattics processed.

        After a crash the persisted cursor may be behind Wattics (the packet went through, the
        answer or our write did not): starting from Wattics' own later packet sends no duplicate
        and leaves no hole. Otherwise our own cursor, the last packet Wattics answered 200 to, is
        the authority (`docs/upstreams/wattics.md`): the answer's body is not published and Wattics
        may process a packet after acknowledging it, so nothing, an earlier packet, an unreadable
        answer or a failed GET leave the cursor where it is. Raises UpstreamError only when
        Wattics refuses the credentials.
        """
        try:
            answer = self.client.last_packet(self.stream_id, self.packet_format)
        except UpstreamError as exc:
            if exc.status_code in AUTH_STATUSES:
                raise
            return self.cursor  # the failed call is in the history; the push finds out the rest
        if answer.instant is not None and (self.cursor is None or answer.instant > self.cursor):
            self._adopt(answer)
        return self.cursor

    def push(self, rows: Iterable[tuple[datetime, float]]) -> PushResult:
        """Push `rows` ((instant, value_kwh), in time order) after the cursor, one at a time."""
        result = PushResult(PushOutcome.DONE, self.cursor, self.total_wh)
        for raw_instant, value_kwh in rows:
            try:
                instant = _utc_ms(raw_instant)
                if self.cursor is not None and instant <= self.cursor:
                    # Wattics already holds this instant or a later one and would discard it.
                    result.late.append(instant)
                    continue
                packet, total_mwh = self._build(instant, value_kwh)
            except ValueError as exc:
                return self._finish(
                    result, PushOutcome.STOPPED, error=f"reading at {raw_instant}: {exc}"
                )
            stop = self._deliver(packet, instant, result)
            if stop is not None:
                return stop
            if self.cursor is not None and self.cursor > instant:
                # Wattics turned out to hold a later packet (found by the check after a lost
                # answer): this row was superseded, not acknowledged.
                result.late.append(instant)
                continue
            self._acknowledge(instant, total_mwh)
            result.acknowledged += 1
        return self._finish(result, PushOutcome.DONE)

    # --- internals ------------------------------------------------------------------------------
    def _build(self, instant: datetime, value_kwh: float) -> tuple[dict[str, Any], int]:
        if self.packet_format == "value":
            return value_packet(self.stream_id, instant, self.tz, value_kwh), self._total_mwh
        value_mwh = round(_finite(value_kwh, "value_kwh") * 1_000_000)
        if value_mwh < 0:
            # pC_1 is "energy consumed since beginning": a register that goes down reads as a
            # meter reset on the Wattics side.
            raise ValueError(
                f"value_kwh {value_kwh} is negative; a cumulative register cannot fall"
            )
        total_mwh = self._total_mwh + value_mwh
        return electrical_packet(self.stream_id, instant, self.tz, total_mwh / 1000), total_mwh

    def _deliver(
        self, packet: dict[str, Any], instant: datetime, result: PushResult
    ) -> PushResult | None:
        """Send one packet until acknowledged; None on success, the final result otherwise."""
        check_first = False
        error: UpstreamError | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                if check_first and self._wattics_has(instant):
                    return None
                self.client.push_packet(packet)
                return None
            except UpstreamError as exc:
                error = exc
                result.failed_calls += 1
                action = error_action(exc)
                if action is ErrorAction.STOP:
                    return self._fail(result, PushOutcome.STOPPED, exc)
                check_first = check_first or action is ErrorAction.RETRY_AFTER_CHECK
                if attempt == self.max_attempts:
                    break
                delay_s = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
                if exc.retry_after_s is not None:
                    if exc.retry_after_s > self.max_delay_s:
                        # Do not hold a worker that long: Celery can wait instead.
                        return self._fail(result, PushOutcome.RETRY_LATER, exc)
                    delay_s = max(delay_s, exc.retry_after_s)
                self.sleep(delay_s)
        assert error is not None
        return self._fail(result, PushOutcome.RETRY_LATER, error)

    def _wattics_has(self, instant: datetime) -> bool:
        """Whether Wattics already holds `instant` (the packet went through, its answer did not).

        When the answer says nothing or cannot be read, the packet is sent again: a duplicate
        Wattics discards loses nothing, a packet never sent is a hole.
        """
        answer = self.client.last_packet(self.stream_id, self.packet_format)
        if answer.instant is None or answer.instant < instant:
            return False
        self._adopt(answer)
        return True

    def _adopt(self, answer: LastPacket) -> None:
        # read_last_packet checked the timestamp and, for an electrical stream, pC_1.
        assert answer.packet is not None and answer.instant is not None
        self.cursor = answer.instant
        if self.packet_format == "electrical":
            self._total_mwh = round(float(answer.packet["pC_1"]) * 1000)

    def _acknowledge(self, instant: datetime, total_mwh: int) -> None:
        self.cursor = instant
        self._total_mwh = total_mwh
        if self.on_ack is not None:
            # Raising here (the cursor could not be persisted) stops the push: safe, since the
            # next run resumes from Wattics' own last packet.
            self.on_ack(instant, self.total_wh)

    def _fail(self, result: PushResult, outcome: PushOutcome, error: UpstreamError) -> PushResult:
        result.status_code = error.status_code
        if outcome is PushOutcome.RETRY_LATER:
            result.retry_after_s = error.retry_after_s
        return self._finish(result, outcome, error=str(error))

    def _finish(self, result: PushResult, outcome: PushOutcome, *, error: str = "") -> PushResult:
        result.outcome = outcome
        result.error = error
        result.cursor = self.cursor
        result.total_wh = self.total_wh
        return result
