"""A Wattics stream is never stuck: whatever the last-packet GET answers, it pushes every packet
once, in order, from its own cursor. Against the emulator over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType

from devices.models import Reading, Series
from homes import services as home_services
from homes.models import Meter
from integrations import engine, services
from integrations.clients import forget_clients
from integrations.models import Connection, LinkState, SyncAttempt, UpstreamLink
from integrations.sandbox.base import RunningEmulator
from integrations.sandbox.wattics import (
    LAST_PACKET_ANSWERS,
    SANDBOX_PASSWORD,
    SANDBOX_USERNAME,
    WatticsEmulator,
)
from portal.signals import readings_changed
from tests.factories import HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, 6, tzinfo=UTC)  # 2024-01-01 00:00 in America/Chicago
# Answers that mean "nothing processed yet"; the other odd answers cannot be read.
NOTHING_ANSWERS = {"empty", "null", "empty_object", "empty_array", "not_found"}


@pytest.fixture(scope="module")
def wattics_server():
    with RunningEmulator(WatticsEmulator()) as running:
        yield running


@pytest.fixture
def wattics(wattics_server, settings):
    settings.WATTICS_RETRY_BASE_S = 0.01
    wattics_server.app.reset()
    forget_clients()
    yield wattics_server
    forget_clients()


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
    assert (link.state, link.cursor) == (LinkState.SYNCED, START + timedelta(hours=47))
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
