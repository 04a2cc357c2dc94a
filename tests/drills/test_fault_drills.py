"""Fault drills on PostgreSQL and Redis with a real Celery worker: each upstream down for a while
then back; tokens expiring mid-run; the broker restarted; a worker killed with SIGKILL mid-sync;
the database connection dropped during an upload.

After each: every record synced exactly once upstream (checked in the emulators' state), no reading
lost or duplicated, no link stuck. The harness (worker subprocess, own redis-server, emulators with
traps) is in harness.py beside this file, its fixtures in conftest.py; harness_current.py has what
differs on the `current` contract profile (its emulators, the calls held, the checks).

Profiles: every drill runs on both but the database one (`ALL_PROFILES`); the upload dropped by
the database is the same code on both (the platforms see only what it queued: nothing), so it runs
on the quickstart alone, which keeps the drills' CI time near what it was.
"""

from __future__ import annotations

import io
import json
import os
import shutil

import pytest
from django.conf import settings
from django.db import OperationalError

from homes.directory import lookup_utilities
from homes.models import Meter
from integrations import engine
from integrations.models import LinkState, SyncChunk, UpstreamLink
from integrations.sandbox.wattics import MEASUREMENTS_PATH
from readings.models import Reading, Upload, UploadStatus
from readings.store import series_for
from readings.uploads import check_upload, confirm_upload, import_readings

from .harness import (
    YEAR_HOURS,
    ZIP_CODE,
    Trap,
    add_home,
    arrivals,
    build_portfolio,
    connection_dropped_before,
    csv_of,
    describe_links,
    failed_calls,
    link_states,
    settle,
    upload_all,
    wait_for,
)
from .harness_current import (
    CALLS,
    PROFILES,
    assert_exactly_once_as,
    assert_nothing_twice_nothing_refused_as,
    connect_as,
    nothing_upstream,
    resolve_in_doubt_as,
    upload_link_of,
)

if not os.environ.get("CELERY_BROKER_URL"):
    pytest.skip(
        "the fault drills need a real broker: set CELERY_BROKER_URL (CI runs them on Redis)",
        allow_module_level=True,
    )
if "postgresql" not in settings.DATABASES["default"]["ENGINE"]:
    pytest.skip(
        "the fault drills need PostgreSQL: set DATABASE_URL=postgres://... (CI does)",
        allow_module_level=True,
    )
if shutil.which("redis-server") is None:
    pytest.skip(
        "the fault drills start their own redis-server: none on PATH", allow_module_level=True
    )

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PLATFORMS = ("wattcarbon", "spark", "wattshift", "wattics")
ALL_PROFILES = pytest.mark.parametrize("profile", PROFILES)


@ALL_PROFILES
def test_it_syncs_everything_once_after_every_upstream_was_down_for_a_while(
    org, profile, upstreams, drill_settings, worker
):
    connect_as(profile, org, upstreams)
    lookup_utilities(org, ZIP_CODE)  # the wizard's lookup, before the outage
    upstreams.fault(fail_next=10**6, status=503)
    upstreams.fault(upstreams.wattcarbon, retry_after=1)  # WattCarbon says when to come back

    portfolio = build_portfolio(org)
    # Down for a while: every platform refused several attempts, and nothing reached any of them.
    assert wait_for(lambda: all(failed_calls(p, 503) >= 3 for p in PLATFORMS), timeout_s=30), (
        {p: failed_calls(p, 503) for p in PLATFORMS},
        describe_links(),
        worker.tail(),
    )
    assert nothing_upstream(profile, upstreams) == {}

    upstreams.fault(fail_next=0, retry_after=None)  # back
    settle(worker)
    assert_exactly_once_as(profile, upstreams, portfolio)


@ALL_PROFILES
def test_it_signs_in_again_when_tokens_expire_mid_run(
    org, profile, upstreams, drill_settings, worker
):
    # WattCarbon and Spark issue tokens (Wattics takes Basic auth, WattShift an API key). Each
    # platform revokes every token once, while a call carrying one is in flight: that call meets a
    # 401 when it lands, and so does the next call of every other worker process. (Once per
    # platform: a second revocation inside a client's sign-in-and-repeat would be a 401 after a
    # fresh sign-in, which the clients rightly treat as permanent.)
    connect_as(profile, org, upstreams)
    calls = CALLS[profile]
    holders = {
        upstreams.spark.app.arm(Trap("POST", calls["spark create"], nth=2)): upstreams.spark,
        upstreams.wattcarbon.app.arm(Trap("POST", calls["wattcarbon upload"], nth=10)): (
            upstreams.wattcarbon
        ),
    }
    portfolio = build_portfolio(org)
    for trap in arrivals(list(holders)):
        upstreams.fault(holders[trap], expire_tokens=True)
        trap.released.set()

    settle(worker)
    assert failed_calls("spark", 401) >= 1
    assert failed_calls("wattcarbon", 401) >= 1
    # A refused call did nothing: twelve uploads each.
    assert_exactly_once_as(profile, upstreams, portfolio)


@ALL_PROFILES
def test_it_loses_no_sync_when_the_broker_restarts(
    org, profile, upstreams, drill_settings, worker, broker
):
    connect_as(profile, org, upstreams)
    upstreams.fault(latency_ms=100)  # slow upstreams: work piles up in the broker
    portfolio = build_portfolio(org)
    assert broker.queued() > 0

    broker.stop()  # SHUTDOWN NOSAVE: the queue and the worker's unacknowledged tasks are gone
    upstreams.fault(latency_ms=0)
    add_home(org, portfolio, 3)  # saved while the broker is down: the outbox is the database
    upload_all(portfolio, slice(3, 4))
    broker.start()
    assert wait_for(lambda: worker.log_count("Connected to redis") >= 2, timeout_s=30), (
        worker.tail()
    )

    # Once the work in flight is over, nothing is queued and nothing runs, yet links are pending:
    # their tasks died with the broker (or were never sent), and only the sweep brings them back.
    assert wait_for(
        lambda: broker.queued() == 0 and link_states()[LinkState.SYNCING] == 0, timeout_s=30
    ), describe_links()
    assert link_states()[LinkState.PENDING] > 0
    settle(worker)
    assert_exactly_once_as(profile, upstreams, portfolio)


@ALL_PROFILES
def test_it_resumes_without_duplicates_when_a_worker_child_is_killed_mid_push(
    org, profile, upstreams, drill_settings, worker
):
    connect_as(profile, org, upstreams)
    portfolio = build_portfolio(org, readings=False)
    settle(worker)  # the records are upstream; now their data
    timeseries = upstreams.wattcarbon.app.arm(
        Trap("POST", CALLS[profile]["wattcarbon upload"], nth=5)
    )
    packets = upstreams.wattics.app.arm(Trap("POST", MEASUREMENTS_PATH, nth=100))
    upload_all(portfolio)

    link_of = {timeseries: timeseries_link_of, packets: stream_link_of}
    for trap in arrivals([timeseries, packets]):
        pid = worker.kill_child_on_port(trap.wait())
        link = link_of[trap](trap)
        assert link.state == LinkState.SYNCING  # claimed by the dead child until its lease ends
        # The call in flight still lands upstream: its answer goes to a process that is gone.
        trap.released.set()
        assert wait_for(lambda pid=pid: pid not in worker.children(), timeout_s=10)
    assert wait_for(lambda: len(worker.children()) == 2, timeout_s=10)  # the pool replaced them

    settle(worker)
    # The month in flight, sent again.
    assert_exactly_once_as(profile, upstreams, portfolio, resent_months=1)


@ALL_PROFILES
def test_it_registers_each_record_once_when_a_worker_child_is_killed_mid_create(
    org, profile, upstreams, drill_settings, worker
):
    connect_as(profile, org, upstreams)
    calls = CALLS[profile]
    traps = [
        upstreams.wattcarbon.app.arm(Trap("POST", calls["wattcarbon create"])),
        upstreams.spark.app.arm(Trap("POST", calls["spark create"])),
        upstreams.wattshift.app.arm(Trap("POST", calls["wattshift create"])),
    ]
    portfolio = build_portfolio(org, homes=1)
    for trap in arrivals(traps):
        worker.kill_child_on_port(trap.wait())
        trap.released.set()  # the platform creates the record; nobody reads the answer

    # Once the dead children's leases ran out, the engine found nothing it could tell apart where
    # the platform chose the id (quickstart: the WattCarbon customId is there, WattCarbon has no
    # lookup by it; Spark and WattShift chose the ids. Current: WattCarbon's meter and
    # WattShift's home): each waits in doubt, nothing was created twice, nothing refused. Spark's
    # current user has the id we chose: the engine sends it again and finds it there.
    settle(worker, until_settled_anyhow=True)
    assert_nothing_twice_nothing_refused_as(profile, upstreams, portfolio)
    in_doubt = resolve_in_doubt_as(profile, upstreams)
    if profile == "current":
        assert in_doubt == {"wattcarbon": 1, "wattshift": 1}
    else:
        assert in_doubt == {"wattcarbon": 1, "spark": 1, "wattshift": 1}
    settle(worker)  # the person's answers, then what waited for them (meter, solar, readings)
    assert_exactly_once_as(profile, upstreams, portfolio)


def test_it_stores_an_upload_all_or_nothing_when_the_database_connection_drops(
    org, upstreams, drill_settings, worker
):
    connect_as("quickstart", org, upstreams)
    portfolio = build_portfolio(org, homes=2, readings=False)
    settle(worker)  # the records are upstream: from here on only the uploads change the links
    device, meter = portfolio.devices[0], portfolio.meters[0]
    device_file = csv_of(portfolio.device_readings[device.custom_id])
    meter_file = csv_of(portfolio.meter_readings[meter.wattics_stream_id])

    # The command and the API: import_readings checks and stores in one step.
    series = series_for(device)
    outbox = outbox_state()
    with (
        connection_dropped_before('UPDATE "devices_series"', series) as dropped,
        pytest.raises(OperationalError),
    ):
        import_readings(series, io.BytesIO(device_file), filename="array.csv")
    assert dropped["readings"] == YEAR_HOURS  # the transaction had copied the whole file in
    assert_nothing_stored(series, outbox)
    assert not Upload.objects.filter(series=series).exists()
    retried = import_readings(series_for(device), io.BytesIO(device_file), filename="array.csv")
    assert (retried.status, retried.inserted, retried.updated) == ("stored", YEAR_HOURS, 0)

    # The upload page: the file is checked, kept, then stored when the user confirms.
    settle(worker)
    series = series_for(meter)
    checked = check_upload(series, io.BytesIO(meter_file), filename="meter.csv", user=None)
    outbox = outbox_state()
    with (
        connection_dropped_before('UPDATE "devices_series"', series) as dropped,
        pytest.raises(OperationalError),
    ):
        confirm_upload(checked)
    assert dropped["readings"] == len(portfolio.meter_readings[meter.wattics_stream_id])
    assert_nothing_stored(series, outbox)
    checked.refresh_from_db()
    assert checked.status == UploadStatus.FAILED  # the page says so, and keeps the file
    confirmed = confirm_upload(checked)  # "Try again"
    assert (confirmed.status, confirmed.inserted, confirmed.updated) == (
        "stored",
        len(portfolio.meter_readings[meter.wattics_stream_id]),
        0,
    )

    again = import_readings(series_for(device), io.BytesIO(device_file), filename="array.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, YEAR_HOURS)
    upload_all(portfolio, slice(1, 2))
    settle(worker)
    # The failed attempts queued nothing upstream.
    assert_exactly_once_as("quickstart", upstreams, portfolio)


def outbox_state() -> list[tuple]:
    """The links and their chunks as they stand (what an upload would mark pending)."""
    links = UpstreamLink.objects.order_by("pk").values_list(
        "pk", "state", "payload_hash", "cursor", "next_attempt_at"
    )
    chunks = SyncChunk.objects.order_by("pk").values_list("pk", "dirty", "payload_hash")
    return [*links, *chunks]


def assert_nothing_stored(series, outbox: list[tuple]) -> None:
    """The failed attempt left no reading, no count, and nothing queued for the platforms."""
    series.refresh_from_db()
    assert Reading.objects.filter(series=series).count() == 0
    assert (series.reading_count, series.first_instant, series.last_instant) == (0, None, None)
    assert outbox_state() == outbox
    assert engine.due_link_ids() == []


def timeseries_link_of(trap: Trap) -> UpstreamLink:
    """The timeseries link whose upload `trap` holds (/devices/<WattCarbon device id>/timeseries,
    /meters/<WattCarbon meter id>/intervals)."""
    return upload_link_of(trap.request_path.split("/")[2])


def stream_link_of(trap: Trap) -> UpstreamLink:
    """The Wattics stream link whose packet `trap` holds."""
    meter = Meter.objects.get(wattics_stream_id=json.loads(trap.body)["id"])
    return UpstreamLink.objects.get(platform="wattics", channel="packets", object_id=meter.pk)
