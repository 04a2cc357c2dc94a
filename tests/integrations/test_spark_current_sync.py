"""Volue Spark's current profile through the engine, against the current emulator over real HTTP:
users, locations, vehicles and resources under our own ids, updates of locations, every create
made once when its answer is lost, EnergyUsage reports from stored readings, and webhooks
registered, tested through the simulation calls and received on `X-Payload-Signature`."""

from __future__ import annotations

import json
from array import array
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.models import Meter
from integrations import engine, services, spark, webhooks
from integrations.models import (
    EnergyUsageReport,
    LinkState,
    SyncAttempt,
    UpstreamLink,
    WebhookEndpoint,
    WebhookEvent,
)
from readings.parser.types import HourlyReadings
from readings.store import series_for, store_readings
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

pytestmark = pytest.mark.django_db
HOUR0 = datetime(2026, 1, 5, tzinfo=UTC)


def link(record) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="spark",
    )


def settle(org, rounds: int = 12) -> None:
    """Run every pending Spark link of `org`, ignoring backoffs, until none is left."""
    for _ in range(rounds):
        ids = list(
            UpstreamLink.objects.filter(
                organization=org, platform="spark", state=LinkState.PENDING
            ).values_list("pk", flat=True)
        )
        if not ids:
            return
        for link_id in ids:
            engine.run_link(link_id, ignore_schedule=True)


@pytest.fixture
def site(org):
    """A home with coordinates, two meters and one device of each kind Spark takes."""
    home = HomeFactory(organization=org, latitude="41.6612", longitude="-91.5302")
    meters = [
        MeterFactory(organization=org, home=home, meter_number="M-1", meter_point_id="707-1"),
        MeterFactory(organization=org, home=home, meter_number="M-2", meter_point_id=""),
    ]
    devices = {
        "vehicle": DeviceFactory(
            organization=org,
            home=home,
            kind="vehicle",
            details={
                "brand": "Tesla",
                "model": "Model 3",
                "year": 2022,
                "vin": "5YJ3E1EA2KF317000",
            },
        ),
        "ev_charger": DeviceFactory(
            organization=org,
            home=home,
            kind="ev_charger",
            meter=meters[0],
            details={"power_kw": 11},
        ),
        "battery": DeviceFactory(
            organization=org, home=home, kind="battery", details={"capacity_kwh": 13.5}
        ),
    }
    return home, meters, devices


def test_it_registers_everything_under_our_own_ids_with_the_published_calls(
    org, site, spark_current_connection, spark_current
):
    home, _, devices = site
    engine.sync_now(org.pk)
    state = spark_current.app.state
    user = f"gridfolio-{org.pk}-customer-{home.customer.pk}"
    location = f"gridfolio-{org.pk}-home-{home.pk}"
    assert link(home.customer).remote_id == user and list(state["users"]) == [user]
    assert link(home).remote_id == location
    assert state["locations"][location] == {
        "locationId": location,
        "locationType": "Residential",
        "coordinates": {"latitude": 41.6612, "longitude": -91.5302},
        "meterPointId": "707-1",
        "meterPointIds": ["707-1", "M-2"],
        "userId": user,
    }
    resources = state["resources"]
    vehicle, charger, battery = (
        resources[f"gridfolio-{org.pk}-device-{devices[kind].pk}"]
        for kind in ("vehicle", "ev_charger", "battery")
    )
    assert vehicle == {
        "resourceId": link(devices["vehicle"]).remote_id,
        "resourceType": "Vehicle",
        "userId": user,
        "locationId": None,
        "meterPointId": None,
    }
    assert (charger["resourceType"], charger["locationId"], charger["meterPointId"]) == (
        "Charger",
        location,
        "707-1",
    )
    assert (battery["resourceType"], battery["meterPointId"]) == ("Generic", None)
    paths = set(SyncAttempt.objects.values_list("method", "path"))
    assert ("POST", "/users") in paths
    assert ("POST", f"/users/{user}/locations") in paths
    assert ("POST", f"/users/{user}/vehicles") in paths
    assert ("POST", f"/users/{user}/locations/{location}/resources") in paths
    # Meters are the location's meter points: no record of their own on Spark.
    meter_type = ContentType.objects.get_for_model(Meter)
    assert not UpstreamLink.objects.filter(platform="spark", content_type=meter_type).exists()


def test_a_home_without_coordinates_sends_none_and_its_meters_type(org, spark_current_connection):
    home = HomeFactory(organization=org)
    MeterFactory(organization=org, home=home, meter_number="C-1", location_type="commercial")
    engine.ensure_links(org.pk, "spark", "current")  # made after the connection, without services
    engine.sync_now(org.pk)
    assert link(home).state == LinkState.SYNCED, link(home).last_error
    sent = engine_payload(home)
    assert "coordinates" not in sent and sent["locationType"] == "Commercial"


def engine_payload(home) -> dict:
    from integrations.adapters.spark.current import SparkLocation

    return SparkLocation().payload(home, "")


def test_a_new_meter_is_sent_as_an_update_of_the_location(
    org, site, spark_current_connection, spark_current
):
    home, _, _ = site
    engine.sync_now(org.pk)
    home_services.save_meter(Meter(organization=org, home=home, meter_number="M-3"))
    assert link(home).state == LinkState.PENDING
    engine.sync_now(org.pk)
    location = link(home)
    assert location.state == LinkState.SYNCED and not location.unsent
    stored = spark_current.app.state["locations"][location.remote_id]
    assert stored["meterPointIds"] == ["707-1", "M-2", "M-3"]
    assert ("PUT", f"/users/{link(home.customer).remote_id}/locations/{location.remote_id}") in [
        (method, path) for method, path, _ in spark_current.app.calls
    ]


def test_a_resource_change_has_no_update_call_and_shows_as_out_of_date(
    org, site, spark_current_connection
):
    _, meters, devices = site
    engine.sync_now(org.pk)
    charger = devices["ev_charger"]
    charger.meter = meters[1]
    device_services.save_device(charger)
    engine.sync_now(org.pk)
    assert link(charger).unsent == "out_of_date"
    assert "no update call for resources" in link(charger).unsent_note


def test_a_new_meter_point_id_updates_the_location_and_flags_its_devices(
    org, site, spark_current_connection, spark_current
):
    home, meters, devices = site
    engine.sync_now(org.pk)
    meters[0].meter_point_id = "707-NEW"
    home_services.save_meter(meters[0])
    engine.sync_now(org.pk)
    location = spark_current.app.state["locations"][link(home).remote_id]
    assert location["meterPointIds"] == ["707-NEW", "M-2"]
    charger = link(devices["ev_charger"])
    assert charger.unsent == "out_of_date"
    assert {change["field"] for change in charger.unsent_changes} == {"meterPointId"}


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (r"/users", "customer"),
        (r"/users/[^/]+/locations", "home"),
        (r"/users/[^/]+/vehicles", "vehicle"),
        (r"/users/[^/]+/locations/[^/]+/resources", "ev_charger"),
    ],
)
def test_a_create_whose_answer_is_lost_is_found_by_its_id_never_made_twice(
    org, site, spark_current_connection, spark_current, path, kind
):
    home, _, devices = site
    record = {"customer": home.customer, "home": home}.get(kind) or devices[kind]
    spark_current.app.drop_answers(1, path)
    settle(org)
    assert spark_current.app.faults.drop_answer_next == 0  # the answer was lost
    synced = link(record)
    assert synced.state == LinkState.SYNCED, synced.last_error
    assert synced.create_sent_at is None
    state = spark_current.app.state
    assert len(state["users"]) == 1 and len(state["locations"]) == 1
    assert len(state["resources"]) == 3
    recovering = {
        "customer": f"/users/{synced.remote_id}",
        "home": f"/users/{link(home.customer).remote_id}/locations/{synced.remote_id}",
    }.get(kind, f"/resources/{synced.remote_id}")
    assert ("GET", recovering) in [(method, p) for method, p, _ in spark_current.app.calls]


def store(device: Device, values: list[float], first: datetime = HOUR0) -> None:
    epochs = [int((first + timedelta(hours=n)).timestamp()) for n in range(len(values))]
    store_readings(series_for(device), HourlyReadings(array("q", epochs), array("d", values)))


def test_it_sends_an_energy_usage_report_of_the_stored_readings(
    org, site, spark_current_connection, spark_current, member_client
):
    home, _, devices = site
    charger = devices["ev_charger"]
    store(charger, [1.5, 2.0, 0.25, 4.0])
    engine.sync_now(org.pk)
    page = member_client.get(reverse("energy_usage_report", args=[charger.pk]))
    assert page.status_code == 200
    answer = member_client.post(
        reverse("energy_usage_report", args=[charger.pk]),
        {"start": "2026-01-05T00:00", "end": "2026-01-05T03:00"},
    )
    assert answer.status_code == 302
    engine.sync_now(org.pk)
    report = EnergyUsageReport.objects.get()
    assert link(report).state == LinkState.SYNCED, link(report).last_error
    [stored] = spark_current.app.state["reports"].values()
    assert stored["payloads"] == [
        {
            "payloadType": "EnergyUsage",
            "resourceId": link(charger).remote_id,
            "resolution": "01:00:00",
            "points": [
                {"timestamp": "2026-01-05T00:00:00+00:00", "kiloWattHours": 1.5},
                {"timestamp": "2026-01-05T01:00:00+00:00", "kiloWattHours": 2.0},
                {"timestamp": "2026-01-05T02:00:00+00:00", "kiloWattHours": 0.25},
            ],
            "locationId": link(home).remote_id,
            "meterPointId": "707-1",
        }
    ]
    # Its call in the history says what it carried.
    [sent] = SyncAttempt.objects.filter(link=link(report), method="POST", path="/reports")
    assert sent.note == (
        "EnergyUsage: 3 hourly points from 2026-01-05T00:00:00+00:00 to 2026-01-05T02:00:00+00:00"
    )
    device_page = member_client.get(charger.get_absolute_url()).content.decode()
    assert "Energy usage reports to Spark" in device_page
    assert "2026-01-05 00:00 to 2026-01-05 03:00 UTC" in device_page


def test_a_report_period_without_readings_is_refused_with_a_message(
    org, site, spark_current_connection, member_client, outsider_client
):
    charger = site[2]["ev_charger"]
    url = reverse("energy_usage_report", args=[charger.pk])
    answer = member_client.post(url, {"start": "2026-02-01T00:00", "end": "2026-02-01T05:00"})
    assert answer.status_code == 200
    assert "has no readings between 2026-02-01 00:00 and 2026-02-01 05:00 UTC" in (
        answer.content.decode()
    )
    assert not EnergyUsageReport.objects.exists()
    assert outsider_client.get(url).status_code == 404


def test_a_report_whose_answer_is_lost_is_left_to_a_person(
    org, site, spark_current_connection, spark_current
):
    charger = site[2]["ev_charger"]
    store(charger, [1.0, 2.0])
    engine.sync_now(org.pk)
    report = services.create_energy_usage_report(
        device=charger, event=None, start=HOUR0, end=HOUR0 + timedelta(hours=2)
    )
    spark_current.app.drop_answers(1, "/reports")
    settle(org)
    assert link(report).state == LinkState.IN_DOUBT
    assert len(spark_current.app.state["reports"]) == 1  # made once; Spark chose its id


# --- webhooks --------------------------------------------------------------------------------------
def deliver_collected(spark_current) -> list[int]:
    """Post what the emulator delivered to our receiver (as Spark would over the internet)."""
    statuses = []
    for url, body, headers in spark_current.app.collected:
        path = url.split("://", 1)[1].split("/", 1)[1]
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        extra.pop("HTTP_CONTENT_TYPE")
        statuses.append(
            Client().post(f"/{path}", body, content_type="application/json", **extra).status_code
        )
    spark_current.app.collected.clear()
    return statuses


def test_it_registers_the_webhook_with_the_published_fields(
    org, spark_current_connection, spark_current
):
    endpoint = services.register_spark_webhook(org, notification_types=["PriceCurveCreated"])
    assert endpoint.profile == "current" and endpoint.event_types == ["PriceCurveCreated"]
    stored = spark_current.app.state["webhooks"][endpoint.remote_id]
    assert stored["webhookUrl"] == endpoint.url
    assert stored["webhookSecret"] == endpoint.secret
    assert stored["name"] == f"Gridfolio: {org.name}"
    assert stored["notificationTypes"] == ["PriceCurveCreated"]


def test_the_test_event_goes_through_the_simulation_and_names_our_records(
    org, site, spark_current_connection, spark_current, django_capture_on_commit_callbacks
):
    home, _, devices = site
    engine.sync_now(org.pk)
    services.register_spark_webhook(org)
    services.send_spark_test_event(org, "pricecurve")
    assert ("POST", "/simulation/events/pricecurve") in [
        (m, p) for m, p, _ in spark_current.app.calls
    ]
    assert not any("/test" in p for _, p, _ in spark_current.app.calls)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_collected(spark_current) == [200]
    event = WebhookEvent.objects.get()
    assert event.notification_type == "PriceCurveCreated" and event.event_type == "PriceCurve"
    assert event.targets == [
        {"resourceId": link(device).remote_id, "locationId": link(home).remote_id}
        for device in (devices["ev_charger"], devices["battery"])
    ]
    webhooks.process_event(event.pk)
    assert list(event.customers.all()) == [home.customer]
    assert set(event.meters.all()) == set(home.meters.all())


@pytest.mark.parametrize(
    ("simulation", "notification"),
    [
        ("usereligibility", "UserEligibilityUpdated"),
        ("lpc/locations", "LocationLPCRequested"),
        ("lpc/resources", "ResourceLPCRequested"),
    ],
)
def test_every_simulated_notification_type_is_stored_and_shown(
    org,
    site,
    spark_current_connection,
    spark_current,
    admin_client_,
    django_capture_on_commit_callbacks,
    simulation,
    notification,
):
    engine.sync_now(org.pk)
    services.register_spark_webhook(org)
    answer = admin_client_.post(reverse("spark_webhook_test"), {"simulation": simulation})
    assert answer.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver_collected(spark_current) == [200]
    event = WebhookEvent.objects.get()
    assert event.notification_type == notification
    listed = admin_client_.get(reverse("webhook_events")).content.decode()
    assert notification in listed
    detail = admin_client_.get(reverse("webhook_event", args=[event.pk])).content.decode()
    assert notification in detail


def signed_delivery(endpoint, notification_type: str, payload: dict) -> bytes:
    return (
        json.dumps(
            {
                "notificationId": f"n-{notification_type}",
                "eventId": "e-1",
                "eventCreatedAtUtc": "2026-01-05T00:00:00+00:00",
                "notificationSentUtc": "2026-01-05T00:00:01+00:00",
                "notificationType": notification_type,
                "payload": payload,
            }
        )
        + "\n"
    ).encode()


PRICE_CURVE = {
    "payloadType": "PriceCurve",
    "priceArea": "NO1",
    "priceCurveDelta": {
        "points": [
            {"price": 501.45, "timestamp": "2026-01-05T00:00:00+00:00"},
            {"price": 895.99, "timestamp": "2026-01-05T01:00:00+00:00"},
        ],
        "energyUnit": "MWh",
        "currency": "EUR",
        "resolution": "01:00:00",
    },
    "targets": [],
}


def test_a_current_registration_takes_x_payload_signature_only(org, spark_current_connection):
    endpoint = services.register_spark_webhook(org)
    url = reverse("spark_webhook", args=[endpoint.token])
    body = signed_delivery(endpoint, "PriceCurveCreated", PRICE_CURVE)
    signature = spark.sign(body, endpoint.secret)
    client = Client()
    refused = client.post(
        url, body, content_type="application/json", HTTP_SPARK_SIGNATURE=signature
    )
    assert refused.status_code == 401
    taken = client.post(
        url, body, content_type="application/json", HTTP_X_PAYLOAD_SIGNATURE=signature
    )
    assert taken.status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("notification_type", "payload"),
    [
        ("SomethingNewCreated", {"payloadType": "SomethingNew"}),  # not in the enum: kept too
        ("LPCReservationCreated", {"payloadType": "LPCReservation", "targets": []}),
    ],
)
def test_a_notification_type_without_a_simulation_or_unknown_is_stored_not_refused(
    org, spark_current_connection, notification_type, payload
):
    endpoint = services.register_spark_webhook(org)
    body = signed_delivery(endpoint, notification_type, payload)
    answer = Client().post(
        reverse("spark_webhook", args=[endpoint.token]),
        body,
        content_type="application/json",
        HTTP_X_PAYLOAD_SIGNATURE=spark.sign(body, endpoint.secret),
    )
    assert answer.status_code == 200
    assert WebhookEvent.objects.get().notification_type == notification_type


def test_the_event_page_shows_the_price_curve_and_offers_energy_usage_reports(
    org, site, spark_current_connection, admin_client_
):
    endpoint = services.register_spark_webhook(org)
    body = signed_delivery(endpoint, "PriceCurveCreated", PRICE_CURVE)
    Client().post(
        reverse("spark_webhook", args=[endpoint.token]),
        body,
        content_type="application/json",
        HTTP_X_PAYLOAD_SIGNATURE=spark.sign(body, endpoint.secret),
    )
    event = WebhookEvent.objects.get()
    event.customers.set([site[0].customer])
    assert event.period == (HOUR0, HOUR0 + timedelta(hours=2))
    page = admin_client_.get(reverse("webhook_event", args=[event.pk])).content.decode()
    assert "NO1" in page and "EUR/MWh" in page and "501.4500" in page
    report_url = reverse("energy_usage_report", args=[site[2]["ev_charger"].pk])
    assert f"{report_url}?event={event.pk}" in page
    form = admin_client_.get(f"{report_url}?event={event.pk}").content.decode()
    assert 'value="2026-01-05 ' in form  # the portal's one format (portal/widgets.py)


def test_the_integrations_page_offers_the_current_registration_and_simulations(
    org, spark_current_connection, admin_client_
):
    services.register_spark_webhook(org)
    page = admin_client_.get(reverse("integrations")).content.decode()
    assert 'name="notification_types" value="LPCReservationCreated"' in page
    assert 'name="operations"' not in page
    assert "/simulation/events/lpc/resources" in page
    assert "X-Payload-Signature" in page


def test_the_register_action_uses_the_connections_profile(
    org, spark_current_connection, spark_current, admin_client_
):
    answer = admin_client_.post(
        reverse("spark_webhook_register"), {"notification_types": ["UserEligibilityUpdated"]}
    )
    assert answer.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["UserEligibilityUpdated"]
    assert spark_current.app.state["webhooks"][endpoint.remote_id]["notificationTypes"] == [
        "UserEligibilityUpdated"
    ]
