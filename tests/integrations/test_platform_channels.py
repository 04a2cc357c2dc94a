"""What each platform gets of a record with two channels (issue #18): WattCarbon counts generation
and reduced consumption as positive, so a device that also draws (a battery's charge) sends
delivered minus received each hour, under both profiles; Wattics' registers count energy consumed,
so a meter's received channel never reaches its stream, and the meter page says so."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from integrations import engine
from integrations.models import Channel, LinkState
from portal.signals import readings_changed
from readings.models import Reading, ReadingChannel, Series
from tests.integrations.test_sync_engine import link_of
from tests.integrations.test_sync_engine import new_device as quickstart_device
from tests.integrations.test_wattcarbon_current_sync import new_device as current_device
from tests.integrations.test_wattics_sync import accepted, drain, stream_link
from tests.integrations.test_wattics_sync import meter as meter  # the fixture

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 1, tzinfo=UTC)


def store(owner, channel: str, values: dict[int, float]) -> Series:
    """Readings of `owner`'s `channel` at START + hour, and the change announced."""
    field = "meter" if owner.__class__.__name__ == "Meter" else "device"
    quantity = "consumption" if field == "meter" else "generation"
    series, _ = Series.objects.get_or_create(
        organization=owner.organization,
        channel=channel,
        defaults={"quantity": quantity},
        **{field: owner},
    )
    for hour, value in values.items():
        Reading.objects.update_or_create(
            series=series, instant=START + timedelta(hours=hour), defaults={"value_kwh": value}
        )
    readings_changed.send(
        sender=Series,
        series=series,
        start=START + timedelta(hours=min(values)),
        end=START + timedelta(hours=max(values)),
    )
    return series


def hour(h: int) -> str:
    return (START + timedelta(hours=h)).isoformat()


# Delivered (discharged) 2.0 kWh an hour for six hours; received (charged) in four of them, and
# more than was given in hour 2; hour 5 has no received reading, so its energy is not known.
DELIVERED = {h: 2.0 for h in range(6)}
RECEIVED = {0: 0.5, 1: 0.0, 2: 3.2, 3: 1.9, 4: 0.25}
NET = {hour(0): 1.5, hour(1): 2.0, hour(2): -1.2, hour(3): 0.1, hour(4): 1.75}


def test_wattcarbon_quickstart_gets_delivered_minus_received_and_a_received_change(
    org, wattcarbon, wattcarbon_connection
):
    device = quickstart_device(org, kind="solar", commenced_operation_date=date(2024, 1, 1))
    store(device, ReadingChannel.DELIVERED, DELIVERED)
    store(device, ReadingChannel.RECEIVED, RECEIVED)
    engine.sync_now(org.pk)
    timeseries = link_of(device, Channel.TIMESERIES)
    assert timeseries.state == LinkState.SYNCED
    held = wattcarbon.app.state["timeseries"][timeseries.remote_id]
    assert held == NET  # 2.0 - 1.9 is sent as 0.1, not 0.10000000000000009
    # A change to the received channel alone makes the month pending and sends the difference.
    store(device, ReadingChannel.RECEIVED, {5: 0.5})
    timeseries.refresh_from_db()
    assert timeseries.state == LinkState.PENDING
    engine.sync_now(org.pk)
    assert wattcarbon.app.state["timeseries"][timeseries.remote_id] == {**NET, hour(5): 1.5}


def test_a_device_without_a_received_channel_sends_its_delivered_readings(
    org, wattcarbon, wattcarbon_connection
):
    device = quickstart_device(org, kind="solar", commenced_operation_date=date(2024, 1, 1))
    store(device, ReadingChannel.DELIVERED, DELIVERED)
    engine.sync_now(org.pk)
    timeseries = link_of(device, Channel.TIMESERIES)
    held = wattcarbon.app.state["timeseries"][timeseries.remote_id]
    assert held == {hour(h): 2.0 for h in range(6)}


def test_wattcarbon_current_meter_intervals_of_a_battery_are_its_discharge_minus_its_charge(
    org, wattcarbon_current, wattcarbon_current_connection
):
    from tests.integrations.test_exactly_once import settle_all

    device = current_device(org, kind="battery")
    # Only the received channel is stored first: nothing is known to send yet.
    store(device, ReadingChannel.RECEIVED, RECEIVED)
    store(device, ReadingChannel.DELIVERED, DELIVERED)
    settle_all(org)
    intervals = link_of(device, Channel.TIMESERIES)
    assert intervals.state == LinkState.SYNCED
    assert wattcarbon_current.app.state["intervals"][intervals.remote_id] == NET
    store(device, ReadingChannel.RECEIVED, {2: 1.0})
    intervals.refresh_from_db()
    assert intervals.state == LinkState.PENDING
    settle_all(org)
    held = wattcarbon_current.app.state["intervals"][intervals.remote_id]
    assert held == {**NET, hour(2): 1.0}


def test_a_meters_received_readings_never_reach_wattics_and_its_page_says_so(
    org, meter, wattics, owner_client
):
    store(meter, ReadingChannel.DELIVERED, {h: 1.25 for h in range(5)})
    page = reverse("meter_detail", args=[meter.pk])
    assert b"data-exports-held" not in owner_client.get(page).content
    # Received readings in the same hours and after them: none is streamed.
    store(meter, ReadingChannel.RECEIVED, {h: 9.0 for h in range(10)})
    drain(org)
    link = stream_link(meter)
    assert link.state == LinkState.SYNCED
    stream = accepted(wattics)
    assert stream["accepted"] == 5 and stream["discarded"] == 0
    assert stream["instants_ms"][-1] == (START + timedelta(hours=4)).timestamp() * 1000
    assert stream["values"] == [1.25] * 5  # the delivered readings, none of the 9.0 received
    content = owner_client.get(page).content.decode()
    assert "data-exports-held" in content
    assert "Export readings are not sent to Wattics: its contract names no register" in content
