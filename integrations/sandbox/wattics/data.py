"""The Wattics emulator's data: sandbox credentials, streams, the journal the state persists in."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from integrations.sandbox.base import Emulator

MEASUREMENTS_PATH = "/measurements/v2/unifiedjson/"
# The emulator's session cookie (the real collector's cookie name is not published).
SESSION_COOKIE = "wattics_session"

SANDBOX_USERNAME = "sandbox-wattics"
SANDBOX_PASSWORD = "sandbox-wattics-password"

# Odd answers the last-packet GET can be told to give (see the package docstring). The first five
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


class WatticsState(Emulator):
    """The emulator's state, credentials and journal (mixed into WatticsEmulator)."""

    # Set by WatticsEmulator.__init__ (before the base constructor loads the state).
    snapshot_every: int
    drop_after_next: int
    last_packet_answer: str
    _pending: list[list[Any]]
    _journal_lines: int
    _snapshot_due: bool
    _journal_stamp: tuple[int, int] | None
    peers: set[tuple[str, str]]
    sessions: dict[str, int]
    require_session: bool

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
            self.sessions.clear()
            self.require_session = False
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
