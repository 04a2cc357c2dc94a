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
- `POST /_sandbox/sessions {"required": true}`: the HTTPS session Wattics asks clients to keep.
  Every answer to a call without a known session cookie sets one (`wattics_session`); when
  required, a packet sent outside a session is refused with 400 (and opens one). Sessions live
  in memory (`sessions`: id -> calls), like the peers.

State on disk (`state_path`): a year of 8,760 packets x 20 streams is ~175,000 points, a few MB of
JSON. Re-writing that after every packet would make a year's push quadratic, so accepted and
discarded packets are appended to a journal next to the snapshot (`<state>.journal`, one JSON line
per event, numbered) and the snapshot is rewritten only every `snapshot_every` events or on a
control change. Loading replays the journal lines newer than the snapshot's sequence number, so a
crash between writing the snapshot and truncating the journal applies nothing twice. A process
that finds the journal changed under it (another process sharing the state file) replays the new
lines before handling a call. With `state_path=None` (tests, benchmarks) nothing is serialised.

The package: `data.py` (credentials, streams, the journal), `validation.py` (the packet
checks), `app.py` (the routes).
"""

from __future__ import annotations

from .app import WatticsEmulator
from .data import (
    DROP_MARKER,
    LAST_PACKET_ANSWERS,
    MEASUREMENTS_PATH,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    WatticsState,
)
from .validation import (
    ELECTRICAL_KEYS,
    EPOCH,
    IDENTITY_KEYS,
    MAX_OFFSET,
    TIMESTAMP_RE,
    VALUE_KEY,
    PacketError,
    parse_body,
    parse_timestamp,
    validate_packet,
)

__all__ = [
    "DROP_MARKER",
    "ELECTRICAL_KEYS",
    "EPOCH",
    "IDENTITY_KEYS",
    "LAST_PACKET_ANSWERS",
    "MAX_OFFSET",
    "MEASUREMENTS_PATH",
    "SANDBOX_PASSWORD",
    "SANDBOX_USERNAME",
    "TIMESTAMP_RE",
    "VALUE_KEY",
    "PacketError",
    "WatticsEmulator",
    "WatticsState",
    "parse_body",
    "parse_timestamp",
    "validate_packet",
]
