"""Wattics: push a meter's interval readings as packets, one per request, strictly in order.

Contract: docs/upstreams/wattics.md and the Wattics data integration guide
("REST API - Smart Meter Energy Data API", https://developers.wattics.com/). Three parts, none
touching the ORM:
1. pure packet builders (`value_packet`, `electrical_packet`, `encode_packet`, `local_timestamp`);
2. `WatticsClient`, named after the two upstream operations (push a packet, read the last one);
3. `StreamPusher`, which sends one stream's readings in order, retries each packet until Wattics
   acknowledges it, and never skips ahead: a hole or a discarded packet is data lost upstream.
"""

from __future__ import annotations

import base64
import json
import math
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

PacketFormat = Literal["value", "electrical"]

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


# --- client ---------------------------------------------------------------------------------------
class WatticsClient(UpstreamClient):
    """The Wattics push API: HTTP Basic auth, one JSON packet per request."""

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
        self.request(
            "POST",
            MEASUREMENTS_PATH,
            content=encode_packet(packet),
            headers={"Content-Type": "application/json"},
        )

    def last_packet(self, stream_id: str) -> dict[str, Any] | None:
        """The last packet Wattics processed for a stream, None when it has none (404).

        Guide, "Data Acknowledgement": "check the latest processed packet ... through a GET".
        """
        try:
            response = self.request("GET", MEASUREMENTS_PATH, params={"stream": stream_id})
        except UpstreamError as exc:
            if exc.status_code == 404:
                return None
            raise
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamError(
                "wattics answered the last packet with something that is not a JSON object",
                permanent=True,
                status_code=response.status_code,
            )
        return data


# --- pusher -------------------------------------------------------------------------------------
class PushOutcome(StrEnum):
    """How a push ended, which tells the caller what to do next."""

    DONE = "done"  # every row was acknowledged or reported late
    RETRY_LATER = "retry_later"  # a packet kept failing: push again later, from the cursor
    STOPPED = "stopped"  # retrying cannot help (credentials, a packet refused): needs a human


class ErrorAction(StrEnum):
    """What the pusher does about one failed call (see `error_action`)."""

    RETRY = "retry"
    RETRY_AFTER_CHECK = "retry_after_check"
    STOP = "stop"


def error_action(error: UpstreamError) -> ErrorAction:
    """What the pusher does about a failed push (the guide: retry the same packet until 200).

    - no status (timeout, lost connection), 500, 502, 504: Wattics may have processed the packet
      before the answer was lost, so ask it (GET last packet) before sending the packet again;
      sending blindly would be discarded at best.
    - 503 (documented as maintenance), 404 (a stream not registered *yet*: registration happens on
      the Wattics side), 408, 425, 429: retry the same packet with backoff.
    - 401/403 (credentials) and 400 (a packet we built wrongly): the same packet will meet the same
      answer, and skipping it would leave a hole, so stop and show the message. Once fixed, the next
      push starts from the cursor, i.e. with this very packet. Any other 4xx: stop likewise.
    """
    status = error.status_code
    if status is None and error.permanent:
        return ErrorAction.STOP  # not an HTTP answer but an unusable one (e.g. a malformed packet)
    if status is None or status in (500, 502, 504):
        return ErrorAction.RETRY_AFTER_CHECK
    if status >= 500 or status in (404, 408, 425, 429):
        return ErrorAction.RETRY
    return ErrorAction.STOP


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
    `pusher.push(rows after pusher.cursor)`; persist the cursor in `on_ack`; on RETRY_LATER let
    Celery retry the task (it starts again from the persisted cursor), on STOPPED record the error.
    The in-call retries only ride out short blips: `max_attempts` bounds the time a worker is held
    per packet (about 15 s with the defaults), and longer outages go back to Celery's backoff.
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
        """Set the cursor (and the register) from the last packet Wattics processed.

        After a crash the persisted cursor may be behind Wattics (the packet went through, the
        answer or our write did not): starting from Wattics' own last packet sends no duplicate and
        leaves no hole. When Wattics has nothing for the stream, everything is sent again from the
        start with the register at 0 Wh. Raises UpstreamError when Wattics cannot be asked.
        """
        packet = self.client.last_packet(self.stream_id)
        if packet is None:
            if self.cursor is not None:
                self.cursor = None
                self._total_mwh = 0
            return None
        self._adopt(packet)
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
        """Whether Wattics already holds `instant` (the packet went through, its answer did not)."""
        packet = self.client.last_packet(self.stream_id)
        if packet is None:
            return False
        try:
            upstream = packet_instant(packet)
        except ValueError as exc:
            raise UpstreamError(f"wattics last packet: {exc}", permanent=True) from exc
        if upstream < instant:
            return False
        self._adopt(packet)
        return True

    def _adopt(self, packet: dict[str, Any]) -> None:
        try:
            self.cursor = packet_instant(packet)
            if self.packet_format == "electrical":
                self._total_mwh = round(_finite(packet["pC_1"], "pC_1") * 1000)
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(
                f"wattics last packet for {self.stream_id} is not a {self.packet_format} packet "
                f"we can resume from: {exc}",
                permanent=True,
            ) from exc

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
