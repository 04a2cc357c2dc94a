"""A demand-response device's events (the `events` kind field): what WattCarbon's current profile
sends as the asset's demand_response_events document. Entered one `start/end` per line on the
device form (or `;`-separated in a CSV cell), checked, stored in time order with their offsets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devices.kinds import display_details, form_initial, validate_details
from devices.models import Device
from tests.devices.test_device_import import _csv, _import, _row
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db

JULY = "2025-07-01T17:00-05:00/2025-07-01T20:00-05:00"
JUNE = "2025-06-03 16:00Z/2025-06-03 18:00Z"


def test_it_stores_events_in_time_order_with_their_offsets():
    cleaned, errors = validate_details("demand_response", {"events": f"{JULY}\n\n{JUNE}"})
    assert errors == {}
    assert cleaned["events"] == [
        ["2025-06-03T16:00:00+00:00", "2025-06-03T18:00:00+00:00"],
        ["2025-07-01T17:00:00-05:00", "2025-07-01T20:00:00-05:00"],
    ]
    assert validate_details("demand_response", {"events": cleaned["events"]})[0] == cleaned
    assert form_initial("demand_response", cleaned)["events"].splitlines() == [
        "2025-06-03T16:00:00+00:00/2025-06-03T18:00:00+00:00",
        "2025-07-01T17:00:00-05:00/2025-07-01T20:00:00-05:00",
    ]
    assert ("Events", "2 events, 2025-06-03 16:00:00+00:00 to 2025-07-01 20:00:00-05:00") in (
        display_details("demand_response", cleaned)
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-07-01T17:00", "Event 1: write it as start/end."),
        ("2025-07-01T17:00/2025-07-01T20:00-05:00", "has no UTC offset"),
        ("2025-07-01T20:00-05:00/2025-07-01T17:00-05:00", "Event 1: it ends before it starts."),
        (f"{JULY};2025-07-01T19:00-05:00/2025-07-01T21:00-05:00", "overlap"),
        (f"{JUNE}\nyesterday/today", "Event 2: 'yesterday' is not an ISO 8601"),
    ],
)
def test_it_refuses_an_event_it_cannot_place_in_time(text, message):
    cleaned, errors = validate_details("demand_response", {"events": text})
    assert message in errors["events"] and "events" not in cleaned


def dr_device(org) -> Device:
    return DeviceFactory(
        organization=org, home=HomeFactory(organization=org), kind="demand_response", details={}
    )


def post_events(client, device: Device, events: str):
    return client.post(
        reverse("device_edit", args=[device.pk]),
        {
            "name": device.name,
            "custom_id": device.custom_id,
            "home": device.home_id,
            "status": "active",
            "events": events,
        },
    )


def test_a_member_enters_events_on_the_device_form(org, member_client):
    device = dr_device(org)
    response = post_events(member_client, device, f"{JULY}\r\n{JUNE}")
    assert response.status_code == 302, response.content.decode()[:2000]
    device.refresh_from_db()
    assert len(device.details["events"]) == 2
    page = member_client.get(reverse("device_edit", args=[device.pk])).content.decode()
    assert "2025-07-01T17:00:00-05:00/2025-07-01T20:00:00-05:00" in page


def test_a_bad_event_on_the_form_names_the_field_and_writes_nothing(org, member_client):
    device = dr_device(org)
    response = post_events(member_client, device, "2025-07-01T17:00/2025-07-01T20:00")
    assert response.status_code == 200 and "has no UTC offset" in response.content.decode()
    device.refresh_from_db()
    assert "events" not in device.details


def test_it_imports_events_from_a_csv_cell(org):
    row = _row(name="Thermostats", customId="DR-1", kind="demand_response", events=f"{JULY};{JUNE}")
    result = _import(org, _csv([row], header=list(row)))
    assert result.errors == []
    assert len(Device.objects.get().details["events"]) == 2


def test_an_outsider_cannot_edit_the_events(org, outsider_client):
    response = post_events(outsider_client, dr_device(org), JULY)
    assert response.status_code == 404
