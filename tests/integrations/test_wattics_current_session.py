"""Wattics' current documents ask clients to keep the HTTPS session (its cookies) open: a stream's
run keeps one session, cookie included, from its first call to its last packet (and the next run
of the connection goes on in it). The emulator can require the cookie, as the platform asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.contrib.contenttypes.models import ContentType

from homes import services as home_services
from integrations import engine, services
from integrations.forms import ConnectionForm
from integrations.models import Connection, LinkState, UpstreamLink
from integrations.sandbox.wattics import SANDBOX_PASSWORD, SANDBOX_USERNAME
from portal.signals import readings_changed
from readings.models import Reading, Series
from tests.factories import HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, 6, tzinfo=UTC)
PATH = "/measurements/v2/unifiedjson/"


@pytest.fixture
def meter(org, wattics):
    services.save_connection(
        Connection(organization=org, platform="wattics", base_url=wattics.base_url),
        username=SANDBOX_USERNAME,
        password=SANDBOX_PASSWORD,
    )
    home = HomeFactory(organization=org, timezone="America/Chicago")
    return home_services.save_meter(
        MeterFactory.build(organization=org, home=home, wattics_stream_id="stream-s")
    )


def store(meter, start: datetime, hours: int) -> None:
    series, _ = Series.objects.get_or_create(
        organization=meter.organization, meter=meter, defaults={"quantity": "consumption"}
    )
    Reading.objects.bulk_create(
        [
            Reading(series=series, instant=start + timedelta(hours=h), value_kwh=1.5)
            for h in range(hours)
        ]
    )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=hours - 1)
    )


def stream_link(meter) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(meter), object_id=meter.pk
    )


def test_a_run_keeps_one_session_with_its_cookie_and_the_next_run_goes_on_in_it(
    org, meter, wattics
):
    wattics.app.require_session = True
    store(meter, START, 3)
    engine.sync_now(org.pk)
    link = stream_link(meter)
    assert link.state == LinkState.SYNCED and link.cursor == START + timedelta(hours=2)
    # The run's first call (the last-packet read: 404, nothing yet) opened the session; every
    # packet carried its cookie, so none was refused for want of it.
    assert wattics.app.state["refused"] == {"404": 1}
    assert list(wattics.app.sessions.values()) == [4]
    assert wattics.app.state["streams"]["stream-s"]["accepted"] == 3

    store(meter, START + timedelta(hours=3), 2)
    engine.sync_now(org.pk)
    assert stream_link(meter).cursor == START + timedelta(hours=4)
    assert len(wattics.app.sessions) == 1 and "400" not in wattics.app.state["refused"]


def test_the_emulator_refuses_a_packet_whose_cookie_was_not_kept(wattics):
    wattics.app.require_session = True
    auth = (SANDBOX_USERNAME, SANDBOX_PASSWORD)
    packet = {"id": "stream-x", "tsISO8601": "2024-03-01T00:00:00.000-06:00", "value": 1.0}
    # A new connection for each call, and no cookie jar: no session is ever kept.
    refused = httpx.post(f"{wattics.base_url}{PATH}", json=packet, auth=auth)
    assert refused.status_code == 400 and "wattics_session" in refused.headers["set-cookie"]
    again = httpx.post(f"{wattics.base_url}{PATH}", json=packet, auth=auth)
    assert again.status_code == 400
    with httpx.Client(base_url=wattics.base_url, auth=auth) as session:
        assert session.post(PATH, json=packet).status_code == 400  # opens the session
        assert session.post(PATH, json=packet).status_code == 200  # in it


def test_a_session_the_collector_forgot_is_replaced_at_the_next_run(org, meter, wattics):
    wattics.app.require_session = True
    store(meter, START, 2)
    engine.sync_now(org.pk)
    assert stream_link(meter).state == LinkState.SYNCED
    (session,) = wattics.app.sessions
    wattics.app.sessions.clear()  # the collector forgets the session (a restart, an expiry)
    store(meter, START + timedelta(hours=2), 1)
    engine.sync_now(org.pk)
    # The stale cookie opened a new session; the retry in it went through, nothing skipped.
    link = stream_link(meter)
    assert link.state == LinkState.SYNCED and link.cursor == START + timedelta(hours=2)
    assert session not in wattics.app.sessions and len(wattics.app.sessions) == 1


def test_the_form_offers_both_collectors_with_production_the_default(org):
    form = ConnectionForm(organization=org, platform="wattics")
    help_text = str(form.fields["base_url"].help_text)
    assert "https://web-collector.wattics.com" in help_text
    assert "https://dev-web-collector.wattics.com" in help_text
    assert form.fields["base_url"].widget.attrs["list"] == "base-url-choices"
    assert form.address_choices == [
        "https://web-collector.wattics.com",
        "https://dev-web-collector.wattics.com",
    ]


def test_its_session_control_turns_the_requirement_on_and_lists_the_sessions(wattics):
    control = f"{wattics.base_url}/_sandbox/sessions"
    assert httpx.post(control, json={"required": True}).json() == {"required": True, "sessions": {}}
    auth = (SANDBOX_USERNAME, SANDBOX_PASSWORD)
    with httpx.Client(base_url=wattics.base_url, auth=auth) as session:
        session.get(PATH, params={"stream": "stream-y"})
    listed = httpx.post(control, json={}).json()
    assert listed["required"] is True and list(listed["sessions"].values()) == [1]
