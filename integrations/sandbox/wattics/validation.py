"""The Wattics emulator's contract checks: the JSON packet, its keys, its timestamp."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from typing import Any

# The seed's "JSON Packet Format" list, written out again on purpose (see the package docstring).
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
