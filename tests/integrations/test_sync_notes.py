"""Each call in a link's history says what it carried: a record created with its fields, the
fields a change changed, the readings a timeseries call sent and their range."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from devices import services as device_services
from integrations import engine
from integrations.models import Channel, SyncAttempt
from integrations.outcomes import payload_note
from portal.signals import readings_changed
from readings.models import Reading, Series
from tests.integrations.test_sync_engine import link_of, new_device, settle

pytestmark = pytest.mark.django_db


def test_payload_notes():
    assert payload_note({"a": 1, "b": 2}, {}, creating=True) == "created with 2 fields"
    before = {"a": "x", "b": "y"}
    from integrations.outcomes import field_hashes

    sent = field_hashes({"a": 1, "b": 2})
    assert payload_note({"a": 1, "b": 3}, sent, creating=False) == "changed b"
    assert payload_note({"a": 1, "c": 2}, sent, creating=False) == "changed b, c"
    assert payload_note({"a": 1, "b": 2}, sent, creating=False) == "sent 2 fields, none changed"
    assert payload_note({"a": 1}, {}, creating=False) == "sent 1 field"
    assert payload_note(["not", "an", "object"], before, creating=False) == "sent the record"


def test_the_history_says_what_each_call_carried(
    org, wattcarbon, wattcarbon_connection, owner_client
):
    device = new_device(org, commenced_operation_date=date(2024, 1, 1))
    link = settle(link_of(device))
    created = SyncAttempt.objects.filter(link=link, method="POST", path="/devices").get()
    assert created.note.startswith("created with ") and created.note.endswith(" fields")
    # The token grant made for it carries nothing.
    assert SyncAttempt.objects.get(link=link, path="/auth/token").note == ""

    device.name = "Renamed array"
    device_services.save_device(device)
    link = settle(link_of(device))
    assert SyncAttempt.objects.filter(link=link, method="PUT").get().note == "changed name"

    series = Series.objects.create(organization=org, device=device, quantity="generation")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    Reading.objects.bulk_create(
        Reading(series=series, instant=start + timedelta(hours=h), value_kwh=1.5)
        for h in range(40 * 24)
    )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=40 * 24 - 1)
    )
    engine.sync_now(org.pk)
    timeseries = link_of(device, Channel.TIMESERIES)
    notes = list(
        SyncAttempt.objects.filter(link=timeseries, path__endswith="/timeseries")
        .order_by("started_at", "pk")
        .values_list("note", flat=True)
    )
    assert sorted(notes) == [
        "readings from 2024-01-01T00:00:00+00:00 to 2024-01-31T23:00:00+00:00, 744 rows",
        "readings from 2024-02-01T00:00:00+00:00 to 2024-02-09T23:00:00+00:00, 216 rows",
    ]
    page = owner_client.get(reverse("link_history", args=[link.pk])).content.decode()
    assert "Changed name" in page and "Created with " in page
