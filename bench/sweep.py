"""The sync sweep (integrations.tasks.sweep, every minute) over 100,000 links, against the same
sweep over 1,000 links with the same links due: its work must not grow with the links that are
not due.

Set-up (not counted): a throwaway PostgreSQL database; one organization; links written on the
server (``INSERT ... SELECT generate_series``), no records behind them (the sweep reads only the
links). The same 100 links are due at both sizes: half pending past their backoff, a quarter
pending since they were marked (no time set), a quarter held by a worker whose lease ran out.
The others, in the proportions of a working portfolio: 80% synced, 5% failed, 10% pending and
backing off until later, 3% pending but paused, 2% held by a live worker. First 1,000 links (the
100 due among them), measured; then 99,000 more that are not due, measured again.

Measured, warm, median of 200 runs each: ``sweep()`` as beat runs it, every due link's task
queued (``sync_link.delay`` counts instead of sending: the broker's cost is the same at both
sizes and not the sweep's). The note names the indexes the sweep's queries use at 100,000
(EXPLAIN); a second row times the sweep's single query of before at both sizes.

Knobs: BENCH_SWEEP_LINKS (100000), BENCH_SWEEP_SMALL (1000), BENCH_SWEEP_DUE (100),
BENCH_SWEEP_RUNS (200), BENCH_TINY=1.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any
from unittest import mock

from bench import _fixtures as fx
from bench.common import Row

TARGET = 1.5


@dataclass
class Size:
    links: int
    small: int
    due: int
    runs: int

    @classmethod
    def from_env(cls) -> Size:
        if fx.tiny():
            return cls(links=2_000, small=200, due=20, runs=3)
        return cls(
            links=fx.env_int("BENCH_SWEEP_LINKS", 100_000),
            small=fx.env_int("BENCH_SWEEP_SMALL", 1_000),
            due=fx.env_int("BENCH_SWEEP_DUE", 100),
            runs=fx.env_int("BENCH_SWEEP_RUNS", 200),
        )


def run() -> list[Row]:
    reason = fx.skip_reason(needs_broker=False)
    if reason:
        print(f"sweep: skipped ({reason})")
        return []
    with fx.throwaway_database("sweep"):
        return _run(Size.from_env())


# Every column of a link, as the INSERT below lists them; ``{state}`` and the rest per kind.
_COLUMNS = (
    "created_at, updated_at, platform, channel, object_id, remote_id, state, payload_hash,"
    " attempts, next_attempt_at, claimed_until, last_error, waiting_for, paused, progress,"
    " content_type_id, organization_id, paused_for_credentials, create_payload, unsent,"
    " unsent_changes, unsent_note, former_remote_ids, profile, sent_fields"
)
_VALUES = (
    "now(), now(), 'wattcarbon', 'record', g, '', {state}, '', 0, {next_at}, {claimed},"
    " '', '', {paused}, '{{}}', %(ct)s, %(org)s, false, '{{}}', '', '[]', '', '{{}}',"
    " 'quickstart', '{{}}'"
)
# Links that are not due, by g % 100 (the proportions in the docstring).
_IDLE = {
    "state": "CASE WHEN g %% 100 < 80 THEN 'synced' WHEN g %% 100 < 85 THEN 'failed'"
    " WHEN g %% 100 < 98 THEN 'pending' ELSE 'syncing' END",
    "next_at": "CASE WHEN g %% 100 BETWEEN 85 AND 94 THEN now() + interval '1 hour' END",
    "claimed": "CASE WHEN g %% 100 >= 98 THEN now() + interval '10 minutes' END",
    "paused": "g %% 100 BETWEEN 95 AND 97",
}
# Links that are due, by g % 4: pending past their backoff (0, 1), marked (2), abandoned (3).
_DUE = {
    "state": "CASE WHEN g %% 4 = 3 THEN 'syncing' ELSE 'pending' END",
    "next_at": "CASE WHEN g %% 4 < 2 THEN now() - g * interval '1 second' END",
    "claimed": "CASE WHEN g %% 4 = 3 THEN now() - interval '1 minute' END",
    "paused": "false",
}


def _insert(kind: dict[str, str], first: int, last: int, ct: int, org: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO integrations_upstreamlink ({_COLUMNS})"
            f" SELECT {_VALUES.format(**kind)} FROM generate_series(%(first)s, %(last)s) AS g",
            {"ct": ct, "org": org, "first": first, "last": last},
        )


def _median_sweep(runs: int) -> tuple[float, int]:
    from integrations import tasks

    queued = 0
    timings = []
    with mock.patch.object(tasks.sync_link, "delay") as delay:
        tasks.sweep()  # warm: the plans, the pages
        for _ in range(runs):
            delay.reset_mock()
            began = time.perf_counter()
            tasks.sweep()
            timings.append(time.perf_counter() - began)
            queued = delay.call_count
    return statistics.median(timings), queued


def _old_query_s(runs: int) -> float:
    """The sweep's query before the partial indexes: one OR over both kinds, sorted."""
    from django.db.models import Q
    from django.utils import timezone

    from integrations.models import LinkState, UpstreamLink

    timings = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        now = timezone.now()
        unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        due = (
            Q(state=LinkState.PENDING)
            & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            & unclaimed
        )
        stale = Q(state=LinkState.SYNCING, claimed_until__lt=now)
        list(
            UpstreamLink.objects.filter(due | stale, paused=False)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:5000]
        )
        timings.append(time.perf_counter() - began)
    return statistics.median(timings[1:])


def _indexes_used() -> str:
    """The indexes of the sweep's queries, as EXPLAIN names them (capturing its SQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from integrations import engine

    with CaptureQueriesContext(connection) as captured:
        engine.due_link_ids()
    names: list[str] = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
            names += _index_names(cursor.fetchone()[0][0]["Plan"]) or ["no index"]
    return ", ".join(names)


def _index_names(plan: dict[str, Any]) -> list[str]:
    found = [plan["Index Name"]] if "Index Name" in plan else []
    for child in plan.get("Plans", []):
        found += _index_names(child)
    return found


def _run(size: Size) -> list[Row]:
    from django.contrib.contenttypes.models import ContentType

    from devices.models import Device
    from portal.models import Organization

    org = Organization.objects.create(name="Bench sweep", slug="bench-sweep", timezone="UTC")
    ct = ContentType.objects.get_for_model(Device).pk
    started = time.perf_counter()
    _insert(_DUE, 1, size.due, ct, org.pk)
    _insert(_IDLE, size.due + 1, size.small, ct, org.pk)
    fx.settle("integrations_upstreamlink")
    small_s, small_queued = _median_sweep(size.runs)
    old_small_s = _old_query_s(size.runs)
    _insert(_IDLE, size.small + 1, size.links, ct, org.pk)
    fx.settle("integrations_upstreamlink")
    print(f"set-up: {size.links:,} links in {time.perf_counter() - started:.1f} s", flush=True)
    big_s, big_queued = _median_sweep(size.runs)
    old_s = _old_query_s(size.runs)
    note = (
        f"{big_queued} vs {small_queued} queued (of {size.due} due); median of {size.runs}; "
        f"indexes: {_indexes_used()}"
    )
    return [
        Row(
            "sweep",
            f"{size.links:,} links vs {size.small:,}, {size.due} due",
            big_s,
            small_s,
            TARGET,
            note,
        ),
        Row(
            "sweep",
            "  the query of before, the same sizes",
            old_s,
            old_small_s,
            None,
            "one OR over pending and syncing, sorted (no target: what the indexes replaced)",
        ),
    ]
