"""A Wattics stream is never stuck: whatever the last-packet GET answers, however long Wattics
refuses packets, it retries until 200 (seed 004), shows how far behind it is, and only waits for a
person when Wattics refuses the credentials; saving the connection resumes it. Against the
emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from homes import services as home_services
from homes.models import Meter
from integrations import engine, services
from integrations.models import Connection, LinkState, SyncAttempt, UpstreamLink
from integrations.sandbox.wattics import (
    LAST_PACKET_ANSWERS,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
)
from integrations.wattics import retry_delay_s
from portal.signals import readings_changed
from readings.models import Reading, Series
from tests.factories import HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, 6, tzinfo=UTC)  # 2024-01-01 00:00 in America/Chicago
# Answers that mean "nothing processed yet"; the other odd answers cannot be read.
NOTHING_ANSWERS = {"empty", "null", "empty_object", "empty_array", "not_found"}


def connect(org, wattics, password: str = SANDBOX_PASSWORD) -> Connection:
    connection = Connection.objects.filter(organization=org, platform="wattics").first()
    return services.save_connection(
        connection or Connection(organization=org, platform="wattics", base_url=wattics.base_url),
        username=SANDBOX_USERNAME,
        password=password,
    )


def add_meter(org, stream_id: str = "stream-1") -> Meter:
    home = HomeFactory(organization=org, timezone="America/Chicago")
    return home_services.save_meter(
        MeterFactory.build(
            organization=org, home=home, wattics_stream_id=stream_id, wattics_format="electrical"
        )
    )


@pytest.fixture
def meter(org, wattics) -> Meter:
    connect(org, wattics)
    return add_meter(org)


def store(meter: Meter, start: datetime, hours: int, value: float = 1.25) -> None:
    series, _ = Series.objects.get_or_create(
        organization=meter.organization, meter=meter, defaults={"quantity": "consumption"}
    )
    Reading.objects.bulk_create(
        [
            Reading(series=series, instant=start + timedelta(hours=h), value_kwh=value)
            for h in range(hours)
        ]
    )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=hours - 1)
    )


def stream_link(meter: Meter) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(meter),
        object_id=meter.pk,
        platform="wattics",
    )


def instants_ms(hours: int) -> list[int]:
    return [int((START + timedelta(hours=h)).timestamp() * 1000) for h in range(hours)]


def run_now(link: UpstreamLink) -> engine.Outcome:
    """One run, without waiting for the backoff."""
    UpstreamLink.objects.filter(pk=link.pk).update(next_attempt_at=None)
    return engine.run_link(link.pk)


def pages(meter: Meter, client) -> dict[str, str]:
    return {
        "meter": client.get(meter.get_absolute_url()).content.decode(),
        "integrations": client.get(reverse("integrations")).content.decode(),
        "dashboard": client.get(reverse("dashboard")).content.decode(),
    }


# --- the last packet: whatever the GET answers ---------------------------------------------------
@pytest.mark.parametrize("answer", LAST_PACKET_ANSWERS)
def test_it_pushes_every_packet_once_in_order_whatever_the_last_packet_answer(
    org, meter, wattics, answer
):
    wattics.app.last_packet_answer = answer
    store(meter, START, 24, value=1.25)
    engine.sync_now(org.pk)
    store(meter, START + timedelta(hours=24), 24, value=0.5)  # a second run, from our own cursor
    engine.sync_now(org.pk)

    link = stream_link(meter)
    assert (link.state, link.cursor, link.behind_since) == (
        LinkState.SYNCED,
        START + timedelta(hours=47),
        None,
    )
    stream = wattics.app.state["streams"]["stream-1"]
    assert stream["instants_ms"] == instants_ms(48)
    assert stream["discarded"] == 0
    # The register continued from our own total, not from what the GET said.
    assert stream["values"] == [1250.0 * (h + 1) for h in range(24)] + [
        30000.0 + 500.0 * (h + 1) for h in range(24)
    ]
    gets = list(SyncAttempt.objects.filter(link=link, method="GET").order_by("pk"))
    assert len(gets) == 2  # one resume per run
    if answer in NOTHING_ANSWERS:
        assert not any("not readable" in get.error for get in gets)
    else:
        assert all(get.status_code == 200 for get in gets)
        assert all(
            get.error.startswith("Last packet not readable:")
            and get.error.endswith("our own cursor stays.")
            for get in gets
        )


def test_it_sends_a_packet_again_when_its_answer_was_lost_and_the_last_packet_is_unreadable(
    org, meter, wattics
):
    wattics.app.last_packet_answer = "html"
    wattics.app.drop_after_next = 1  # the first packet goes through, its answer does not
    store(meter, START, 10)
    engine.sync_now(org.pk)

    stream = wattics.app.state["streams"]["stream-1"]
    assert stream_link(meter).state == LinkState.SYNCED
    assert stream["instants_ms"] == instants_ms(10)  # no hole
    assert stream["discarded"] == 1  # the duplicate, which Wattics drops: nothing lost


# --- retry until 200 -----------------------------------------------------------------------------
def test_it_waits_at_most_15_minutes_between_runs_however_long_it_has_been_failing(settings):
    assert settings.WATTICS_RETRY_MAX_S == 900
    shortest = partial(retry_delay_s, base_s=5.0, max_s=900.0, jitter=lambda low, high: low)
    longest = partial(retry_delay_s, base_s=5.0, max_s=900.0, jitter=lambda low, high: high)

    assert [shortest(n) for n in range(1, 5)] == [3.75, 7.5, 15.0, 30.0]
    assert [longest(n) for n in range(1, 5)] == [6.25, 12.5, 25.0, 50.0]
    assert longest(0) == 6.25
    assert all(longest(n) <= 900.0 for n in range(1, 2000))
    assert shortest(10) == 900.0  # 5 s x 2**9 x 0.75 = 1920 s, capped
    assert shortest(100_000) == 900.0  # weeks of retries: no float overflow, still 15 minutes
    assert longest(3, retry_after_s=2.0) == 2.0  # Retry-After wins...
    assert shortest(3, retry_after_s=3600.0) == 900.0  # ...up to the cap


def test_it_never_fails_a_stream_through_a_long_outage_and_shows_how_far_behind_it_is(
    org, meter, wattics, settings, owner_client
):
    settings.SYNC_MAX_ATTEMPTS = 2
    settings.WATTICS_PACKET_ATTEMPTS = 1
    store(meter, START, 30)
    link = stream_link(meter)
    wattics.app.faults.fail_next, wattics.app.faults.status = 10**6, 503

    first = run_now(link)
    link.refresh_from_db()
    since = link.behind_since
    delays = [first.retry_in_s] + [run_now(link).retry_in_s for _ in range(11)]
    wattics.app.faults.retry_after = 3600  # Wattics asks for an hour: 15 minutes at most
    delays.append(run_now(link).retry_in_s)

    link.refresh_from_db()
    assert (link.state, link.paused, link.attempts) == (LinkState.PENDING, False, 13)
    assert link.behind_since == since and since is not None  # since the first failed run
    assert all(0 < delay <= 900 for delay in delays)
    assert delays[-3:] == [900, 900, 900]
    assert link.next_attempt_at <= timezone.now() + timedelta(seconds=900)
    assert "stream-1" not in wattics.app.state["streams"]
    shown = pages(meter, owner_client)
    assert "Behind since" in shown["meter"] and "30 packets waiting" in shown["meter"]
    assert "503: Service Unavailable" in shown["meter"]
    for page in ("integrations", "dashboard"):
        assert "1 stream behind since" in shown[page]
        assert "30 packets waiting" in shown[page]
        assert "last error 503: Service Unavailable" in shown[page]

    wattics.app.faults.fail_next, wattics.app.faults.retry_after = 0, None  # Wattics is back
    run_now(link)

    link.refresh_from_db()
    assert (link.state, link.behind_since, link.attempts) == (LinkState.SYNCED, None, 0)
    stream = wattics.app.state["streams"]["stream-1"]
    assert stream["instants_ms"] == instants_ms(30) and stream["discarded"] == 0
    shown = pages(meter, owner_client)
    assert not any("behind" in page.lower() for page in shown.values())


@pytest.mark.parametrize("status", [400, 404, 429, 500, 503])
def test_it_retries_every_refusal_but_the_credentials_and_never_pauses_for_it(
    org, meter, wattics, settings, status
):
    settings.WATTICS_PACKET_ATTEMPTS = 1
    store(meter, START, 5)
    link = stream_link(meter)
    wattics.app.faults.fail_next, wattics.app.faults.status = 2, status  # the GET, then the POST

    failed = run_now(link)
    link.refresh_from_db()
    assert (failed.state, link.paused, link.last_status_code) == (LinkState.PENDING, False, status)
    assert failed.retry_in_s is not None

    assert run_now(link).state == LinkState.SYNCED
    assert wattics.app.state["streams"]["stream-1"]["instants_ms"] == instants_ms(5)


# --- credentials: the one thing that waits for a person ------------------------------------------
def test_it_pauses_on_refused_credentials_and_resumes_when_the_connection_is_saved(
    org, wattics, owner_client, django_capture_on_commit_callbacks
):
    connect(org, wattics, password="an-old-password")
    meter = add_meter(org)
    held = add_meter(org, "stream-2")  # paused by a person: stays paused
    store(meter, START, 20)
    store(held, START, 5)
    UpstreamLink.objects.filter(pk=stream_link(held).pk).update(paused=True)

    engine.sync_now(org.pk)

    link = stream_link(meter)
    assert (link.state, link.paused, link.paused_for_credentials) == (
        LinkState.PENDING,
        True,
        True,
    )
    assert link.last_status_code == 401 and "refused the credentials" in link.last_error
    assert link.behind_since is not None
    assert engine.run_link(link.pk).state == "skipped"
    assert wattics.app.state["streams"] == {}
    shown = pages(meter, owner_client)
    assert "paused: credentials refused" in shown["meter"]
    assert "20 packets waiting" in shown["meter"]
    assert "1 paused until the Wattics connection is saved again" in shown["dashboard"]
    cards = owner_client.get(reverse("dashboard")).context["cards"]
    assert {card.label: n for card, n in cards}["Needs attention"] == 1

    with django_capture_on_commit_callbacks(execute=False) as queued:
        connect(org, wattics)  # the right password this time

    link.refresh_from_db()
    assert (link.paused, link.paused_for_credentials, link.next_attempt_at) == (False, False, None)
    assert len(queued) == 1  # this stream's task; not the one a person paused
    engine.sync_now(org.pk)
    link.refresh_from_db()
    assert (link.state, link.behind_since) == (LinkState.SYNCED, None)
    assert wattics.app.state["streams"]["stream-1"]["instants_ms"] == instants_ms(20)
    assert "stream-2" not in wattics.app.state["streams"]
    assert stream_link(held).paused


def test_it_pauses_on_403_as_on_401(org, meter, wattics):
    store(meter, START, 5)
    wattics.app.faults.fail_next, wattics.app.faults.status = 1, 403

    engine.sync_now(org.pk)

    link = stream_link(meter)
    assert (link.paused_for_credentials, link.last_status_code) == (True, 403)
    assert link.state == LinkState.PENDING
