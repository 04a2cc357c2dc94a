"""The sweep (engine.due_link_ids, tasks.sweep): exactly the links that should run, the longest
due first, at most its limit a run, each query a range of a partial index on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from integrations import engine, tasks
from integrations.models import LinkState, UpstreamLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_link(org):
    device_type = ContentType.objects.get_for_model(Device)
    made = iter(range(1, 10_000))

    def make(state: str = LinkState.PENDING, *, organization=None, **fields) -> int:
        return UpstreamLink.objects.create(
            organization=organization or org,
            content_type=device_type,
            object_id=next(made),
            platform="wattcarbon",
            state=state,
            **fields,
        ).pk

    return make


def test_it_finds_the_due_and_the_abandoned_links_the_longest_due_first(make_link):
    now = timezone.now()
    due_late = make_link(next_attempt_at=now - timedelta(hours=2))
    due_soon = make_link(next_attempt_at=now - timedelta(seconds=5))
    marked = make_link()  # pending since it was marked: no time set
    abandoned = make_link(LinkState.SYNCING, claimed_until=now - timedelta(minutes=1))
    make_link(next_attempt_at=now + timedelta(hours=1))  # backing off
    make_link(paused=True)
    make_link(claimed_until=now + timedelta(minutes=5))  # a worker still sends it
    make_link(LinkState.SYNCING, claimed_until=now + timedelta(minutes=5))
    for state in (LinkState.SYNCED, LinkState.FAILED, LinkState.REJECTED, LinkState.IN_DOUBT):
        make_link(state)
    assert engine.due_link_ids() == [due_late, due_soon, marked, abandoned]
    assert engine.due_link_ids(limit=3) == [due_late, due_soon, marked]
    assert engine.due_link_ids(limit=1) == [due_late]


def test_it_keeps_to_one_organization_when_asked(make_link, org, other_org):
    ours = make_link()
    theirs = make_link(organization=other_org)
    assert engine.due_link_ids(org.pk) == [ours]
    assert engine.due_link_ids(other_org.pk) == [theirs]


def test_a_sweep_queues_at_most_its_limit(make_link, settings):
    now = timezone.now()
    ids = [make_link(next_attempt_at=now - timedelta(minutes=n)) for n in range(1, 6)]
    settings.SYNC_SWEEP_LIMIT = 3
    with mock.patch.object(tasks.sync_link, "delay") as delay:
        assert tasks.sweep() == 3
    assert [call.args[0] for call in delay.call_args_list] == ids[::-1][:3]


def test_each_query_of_the_sweep_reads_a_partial_index(org):
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN's plans are PostgreSQL's; run with DATABASE_URL=postgres://...")
    now = timezone.now()
    device_type = ContentType.objects.get_for_model(Device)
    # A portfolio's proportions: most links synced, some backing off, few due.
    states = [
        (LinkState.SYNCED, None, None),
        (LinkState.PENDING, now + timedelta(hours=1), None),
        (LinkState.PENDING, now - timedelta(minutes=1), None),
        (LinkState.PENDING, None, None),
        (LinkState.SYNCING, None, now - timedelta(minutes=1)),
        (LinkState.SYNCING, None, now + timedelta(minutes=5)),
    ]
    UpstreamLink.objects.bulk_create(
        UpstreamLink(
            organization=org,
            content_type=device_type,
            object_id=n,
            platform="wattcarbon",
            state=state,
            next_attempt_at=next_at,
            claimed_until=claimed,
        )
        for n in range(3000)
        for state, next_at, claimed in [
            states[0 if n % 100 < 85 else 1 if n % 100 < 97 else n % 4 + 2]
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE integrations_upstreamlink")
    with CaptureQueriesContext(connection) as captured:
        engine.due_link_ids()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert len(plans) == 3
    assert "link_pending_due_idx" in plans[0]
    # The links marked pending (no time set): this index's NULLs or (state, next_attempt_at), as
    # the planner guesses their number; never the table.
    assert "Seq Scan" not in plans[1] and "Index" in plans[1]
    assert "link_syncing_lease_idx" in plans[2]
