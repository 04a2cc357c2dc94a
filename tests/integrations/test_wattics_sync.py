"""A meter's readings pushed to Wattics through the engine: in order, in local time, retried until
accepted, resumed after a crash with no duplicate and no hole, late readings reported not sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from homes import services as home_services
from integrations import engine, services
from integrations.adapters import wattics as mapping
from integrations.models import Connection, LinkState, UpstreamLink
from portal.signals import readings_changed
from readings.models import Reading, Series
from tests.factories import HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, 6, tzinfo=UTC)  # 2024-01-01 00:00 in America/Chicago


@pytest.fixture
def meter(org, wattics):
    services.save_connection(
        Connection(organization=org, platform="wattics", base_url=wattics.base_url),
        username="sandbox-wattics",
        password="sandbox-wattics-password",
    )
    home = HomeFactory(organization=org, timezone="America/Chicago")
    return home_services.save_meter(
        MeterFactory.build(organization=org, home=home, wattics_stream_id="stream-1")
    )


def store(meter, start: datetime, hours: int, value: float = 1.25) -> None:
    series, _ = Series.objects.get_or_create(
        organization=meter.organization, meter=meter, defaults={"quantity": "consumption"}
    )
    Reading.objects.bulk_create(
        [
            Reading(series=series, instant=start + timedelta(hours=h), value_kwh=value)
            for h in range(hours)
        ],
        update_conflicts=True,
        unique_fields=["series", "instant"],
        update_fields=["value_kwh"],
    )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=hours - 1)
    )


def stream_link(meter) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(meter),
        object_id=meter.pk,
        platform="wattics",
    )


def drain(org, rounds: int = 10) -> None:
    """sync_now, again and again without waiting for the backoff, until nothing is pending."""
    for _ in range(rounds):
        UpstreamLink.objects.filter(state=LinkState.PENDING).update(next_attempt_at=None)
        engine.sync_now(org.pk)
        if not UpstreamLink.objects.filter(state=LinkState.PENDING).exists():
            return


def accepted(wattics) -> dict:
    return wattics.app.state["streams"]["stream-1"]


def test_it_pushes_a_year_in_order_in_local_time_across_both_dst_changes(org, meter, wattics):
    store(meter, START, 8784)  # 2024 is a leap year
    engine.sync_now(org.pk)
    link = stream_link(meter)
    assert link.state == LinkState.SYNCED and link.cursor == START + timedelta(hours=8783)
    stream = accepted(wattics)
    assert stream["accepted"] == 8784 and stream["discarded"] == 0
    instants = stream["instants_ms"]
    assert instants == sorted(instants) and len(set(instants)) == 8784
    assert link.progress["acknowledged"] == 8784
    # The autumn change in Chicago: 01:00 CDT, then 01:00 CST.
    assert mapping.backlog(link, meter) == 0


def test_it_rides_out_a_503_storm_without_loss_or_reordering(org, meter, wattics):
    store(meter, START, 300)
    wattics.app.faults.fail_next = 4
    wattics.app.faults.status = 503
    drain(org)
    stream = accepted(wattics)
    assert stream["accepted"] == 300 and stream["discarded"] == 0
    assert stream["instants_ms"] == sorted(stream["instants_ms"])


def test_it_backs_off_when_an_outage_outlasts_the_packets_retries_then_catches_up(
    org, meter, wattics, settings
):
    settings.WATTICS_PACKET_ATTEMPTS = 2
    store(meter, START, 100)
    wattics.app.faults.fail_next = 10
    link = stream_link(meter)
    outcome = engine.run_link(link.pk)
    assert outcome.state == LinkState.PENDING and outcome.retry_in_s
    wattics.app.faults.fail_next = 0
    UpstreamLink.objects.filter(pk=link.pk).update(next_attempt_at=None)
    engine.sync_now(org.pk)
    assert accepted(wattics)["accepted"] == 100 and accepted(wattics)["discarded"] == 0


def test_it_resumes_after_a_worker_died_mid_stream_without_duplicate_or_hole(
    org, meter, wattics, monkeypatch
):
    store(meter, START, 2000)
    link = stream_link(meter)
    original = mapping.wattics.StreamPusher._acknowledge
    calls = {"n": 0}

    def dies_after_1234(self, instant, total):
        calls["n"] += 1
        if calls["n"] == 1234:
            raise SystemExit("worker killed")  # nothing after this line runs, as with SIGKILL
        return original(self, instant, total)

    monkeypatch.setattr(mapping.wattics.StreamPusher, "_acknowledge", dies_after_1234)
    with pytest.raises(SystemExit):
        engine.run_link(link.pk)
    monkeypatch.setattr(mapping.wattics.StreamPusher, "_acknowledge", original)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCING  # claimed by the dead worker
    assert link.cursor < START + timedelta(hours=1233)  # saved in batches: behind Wattics
    UpstreamLink.objects.filter(pk=link.pk).update(
        claimed_until=datetime(2000, 1, 1, tzinfo=UTC)
    )  # the lease ran out
    engine.sync_now(org.pk)
    stream = accepted(wattics)
    assert stream["accepted"] == 2000 and stream["discarded"] == 0
    assert len(set(stream["instants_ms"])) == 2000


def test_it_resumes_when_the_connection_drops_after_wattics_processed_a_packet(org, meter, wattics):
    store(meter, START, 50)
    wattics.app.drop_after_next = 3
    engine.sync_now(org.pk)
    stream = accepted(wattics)
    assert stream["accepted"] == 50 and stream["discarded"] == 0


def test_it_reports_late_readings_instead_of_sending_them(org, meter, wattics, owner_client):
    store(meter, START, 48)
    engine.sync_now(org.pk)
    store(meter, START - timedelta(hours=24), 24, value=9.0)  # earlier than the cursor
    engine.sync_now(org.pk)
    link = stream_link(meter)
    assert link.progress["late"] == 24
    assert accepted(wattics)["accepted"] == 48 and accepted(wattics)["discarded"] == 0
    page = owner_client.get(meter.get_absolute_url()).content.decode()
    assert "older than what Wattics already has" in page


def test_it_pauses_and_resumes_a_stream(org, meter, wattics, member_client):
    store(meter, START, 10)
    link = stream_link(meter)
    member_client.post(reverse("link_pause", args=[link.pk]))
    assert engine.run_link(link.pk).state == "skipped"
    member_client.post(reverse("link_resume", args=[link.pk]))
    engine.sync_now(org.pk)
    assert accepted(wattics)["accepted"] == 10


def test_it_starts_a_stream_when_a_meter_gets_its_stream_id(org, wattics):
    services.save_connection(
        Connection(organization=org, platform="wattics", base_url=wattics.base_url),
        username="sandbox-wattics",
        password="sandbox-wattics-password",
    )
    meter = home_services.save_meter(
        MeterFactory.build(
            organization=org, home=HomeFactory(organization=org, timezone="Europe/Dublin")
        )
    )
    store(meter, START, 24)
    assert not UpstreamLink.objects.filter(platform="wattics").exists()
    meter.wattics_stream_id = "stream-1"
    home_services.save_meter(meter)
    engine.sync_now(org.pk)
    assert accepted(wattics)["accepted"] == 24


def test_it_renews_its_lease_through_a_long_backlog_and_stops_if_another_worker_took_over(
    org, meter, wattics, monkeypatch, settings
):
    store(meter, START, 1600)
    link = stream_link(meter)
    leases = []
    original = engine.renew_claim

    def renew(held):
        original(held)
        leases.append(held.lease)
        if len(leases) == 2:
            # The lease ran out meanwhile (a stalled worker) and another worker claimed the link.
            UpstreamLink.objects.filter(pk=held.pk).update(
                claimed_until=timezone.now() + timedelta(hours=1)
            )

    monkeypatch.setattr(engine, "renew_claim", renew)
    outcome = engine.run_link(link.pk)
    assert leases[0] < leases[1]  # renewed at each save, from the time of the save
    assert outcome.state == "skipped"  # the third save found the lease gone: it stopped at once
    stream = accepted(wattics)
    assert stream["accepted"] == 1500 and stream["discarded"] == 0  # nothing after the takeover
