"""Volue Spark through the engine: users first, then vehicles, meters and resources; the signed
webhook receiver; events linked to customers; charge reports."""

from __future__ import annotations

import json

import httpx
import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.models import Meter
from integrations import engine, services, spark, webhooks
from integrations.models import Connection, LinkState, UpstreamLink, WebhookEndpoint, WebhookEvent
from tests.factories import CustomerFactory, HomeFactory, MeterFactory
from tests.integrations.vectors import vector_bytes


@pytest.fixture
def spark_emulator(org, sandbox):
    services.save_connection(
        Connection(organization=org, platform="spark"),
        username="sandbox-spark-client",
        password="sandbox-spark-secret",
    )
    return sandbox.emulator("spark")


def link(record) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="spark",
    )


def vehicle_for(org, home) -> Device:
    return device_services.save_device(
        Device(
            organization=org,
            home=home,
            kind="vehicle",
            name="Family car",
            custom_id="EV-1",
            details={
                "brand": "Tesla",
                "model": "Model 3",
                "year": 2019,
                "vin": "5YJ3E1EA2KF317000",
            },
        )
    )


@pytest.mark.django_db
def test_it_sends_a_vehicle_only_after_its_customer_has_a_spark_user(org, spark_emulator):
    home = HomeFactory(
        organization=org
    )  # created before the connection: its customer has no link yet
    vehicle = vehicle_for(org, home)
    engine.run_link(link(vehicle).pk)
    waiting = link(vehicle)
    assert waiting.state == LinkState.PENDING and "user" in waiting.waiting_for
    assert not spark_emulator.state["users"]
    engine.sync_now(org.pk)
    user = link(home.customer)
    assert user.state == link(vehicle).state == LinkState.SYNCED
    stored = spark_emulator.state["users"][user.remote_id]["vehicles"]["EV-1"]
    assert stored["metadata"] == {
        "resourceType": "Vehicle",
        "brand": "Tesla",
        "model": "Model 3",
        "year": 2019,
        "vin": "5YJ3E1EA2KF317000",
    }


@pytest.mark.django_db
def test_it_sends_meters_with_the_homes_address_and_resources(org, spark_emulator):
    home = home_services.save_home(
        HomeFactory.build(
            organization=org,
            customer=CustomerFactory(organization=org),
            street="1 Main St",
            city="Crows Landing",
            zip_code="95313",
            latitude=None,
            longitude=None,
        )
    )
    meter = home_services.save_meter(
        Meter(organization=org, home=home, meter_number="E-42", meter_point_id="MP-42")
    )
    tank = device_services.save_device(
        Device(
            organization=org,
            home=home,
            kind="hot_water_tank",
            name="Tank",
            custom_id="HWT-1",
            details={
                "brand": "OSO",
                "model": "Saga",
                "capacity_l": 200,
                "heating_elements_w": "2000, 1000",
            },
        )
    )
    counts = engine.sync_now(org.pk)
    assert counts.get("synced") == 3 and not counts.get("rejected")
    user = spark_emulator.state["users"][link(home.customer).remote_id]
    sent_meter = user["meters"][link(meter).remote_id]
    assert sent_meter["address"] == {
        "street": "1 Main St",
        "city": "Crows Landing",
        "zipCode": "95313",
    }
    assert sent_meter["meterNumber"] == "E-42" and sent_meter["locationType"] == "Residential"
    assert -90 <= sent_meter["location"]["latitude"] <= 90  # the zip code's centre
    assert user["resources"]["HWT-1"]["metadata"] == {
        "resourceType": "HotWaterTank",
        "brand": "OSO",
        "model": "Saga",
        "capacity": 200,
        "heatingElements": [2000, 1000],
    }
    assert link(tank).remote_id == "HWT-1"


@pytest.mark.django_db
def test_it_verifies_the_published_signature_vector(org):
    endpoint = WebhookEndpoint(organization=org)
    endpoint.set_secret(vector_bytes("spark-webhook", "signing-key.txt").decode())
    endpoint.save()
    body = vector_bytes("spark-webhook", "price-curve-event.json")
    signature = (
        vector_bytes("spark-webhook", "price-curve-event.json.hmacsha256b64").decode().strip()
    )
    url = reverse("spark_webhook", args=[endpoint.token])
    client = Client(enforce_csrf_checks=True)
    for header in ("HTTP_X_PAYLOAD_SIGNATURE", "HTTP_SPARK_SIGNATURE"):
        WebhookEvent.objects.all().delete()
        response = client.post(url, body, content_type="application/json", **{header: signature})
        assert response.status_code == 200, header
    assert (
        client.post(
            url, body[:-1], content_type="application/json", HTTP_SPARK_SIGNATURE=signature
        ).status_code
        == 401
    )  # the trailing newline is signed
    tampered = body.replace(b"0.96313495300801624", b"0.96313495300801625")
    assert (
        client.post(
            url, tampered, content_type="application/json", HTTP_SPARK_SIGNATURE=signature
        ).status_code
        == 401
    )
    assert client.post(url, body, content_type="application/json").status_code == 401
    wrong = spark.sign(body, "not-the-secret")
    assert (
        client.post(
            url, body, content_type="application/json", HTTP_SPARK_SIGNATURE=wrong
        ).status_code
        == 401
    )
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_it_stores_a_replayed_event_once_and_refuses_bad_bodies(org):
    endpoint = WebhookEndpoint(organization=org)
    endpoint.set_secret("s3cret")
    endpoint.save()
    url = reverse("spark_webhook", args=[endpoint.token])
    body = json.dumps(
        {
            "notificationId": "n-1",
            "eventId": "e-1",
            "eventType": "PriceDelta",
            "payload": {"payloadType": "PriceDelta", "targets": []},
        }
    ).encode()
    headers = {"HTTP_SPARK_SIGNATURE": spark.sign(body, "s3cret")}
    # The published webhook server answers 200; Spark retries anything else (a repeat too).
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 200
    assert Client().post(url, body, content_type="application/json", **headers).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.deliveries == 2
    not_json = b"not json"
    assert (
        Client()
        .post(
            url,
            not_json,
            content_type="application/json",
            HTTP_SPARK_SIGNATURE=spark.sign(not_json, "s3cret"),
        )
        .status_code
        == 400
    )
    no_id = b'{"payload": {}}'
    assert (
        Client()
        .post(
            url,
            no_id,
            content_type="application/json",
            HTTP_SPARK_SIGNATURE=spark.sign(no_id, "s3cret"),
        )
        .status_code
        == 400
    )
    nested = b"[" * 100_000 + b"]" * 100_000  # signed, small, and too deep for the parser
    assert (
        Client()
        .post(
            url,
            nested,
            content_type="application/json",
            HTTP_SPARK_SIGNATURE=spark.sign(nested, "s3cret"),
        )
        .status_code
        == 400
    )
    huge = b'{"notificationId": "big", "pad": "' + b"x" * 1_000_001 + b'"}'
    assert (
        Client()
        .post(
            url,
            huge,
            content_type="application/json",
            HTTP_SPARK_SIGNATURE=spark.sign(huge, "s3cret"),
        )
        .status_code
        == 413
    )
    assert (
        Client()
        .post(
            reverse("spark_webhook", args=["no-such-token"]),
            body,
            content_type="application/json",
            **headers,
        )
        .status_code
        == 404
    )
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_it_links_an_event_only_to_the_receiving_organizations_customers(
    org, other_org, spark_emulator
):
    mine = HomeFactory(
        organization=org,
        customer=home_services.save_customer(CustomerFactory.build(organization=org)),
    )
    engine.sync_now(org.pk)
    theirs = CustomerFactory(organization=other_org)
    user_id = link(mine.customer).remote_id
    UpstreamLink.objects.create(
        organization=other_org,
        platform="spark",
        content_type=ContentType.objects.get_for_model(theirs),
        object_id=theirs.pk,
        remote_id="their-user",
        state="synced",
    )
    # Someone sends org's user id to the other organization's URL: it links nothing of org.
    endpoint = WebhookEndpoint(organization=other_org)
    endpoint.set_secret("other")
    endpoint.save()
    body = json.dumps(
        {
            "notificationId": "x-1",
            "payload": {
                "payloadType": "PriceDelta",
                "userIds": [user_id, "their-user"],
            },
        }
    ).encode()
    receipt = webhooks.receive(endpoint, body, {"Spark-Signature": spark.sign(body, "other")})
    assert receipt.status == 200
    event = WebhookEvent.objects.get()
    webhooks.process_event(event.pk)
    assert list(event.customers.all()) == [theirs]


def spark_link(organization, record, remote_id: str) -> UpstreamLink:
    return UpstreamLink.objects.create(
        organization=organization,
        platform="spark",
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        remote_id=remote_id,
        state="synced",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "linked_customers", "linked_meters"),
    [
        ({"payloadType": "PriceDelta", "userIds": ["u-1"]}, {"user"}, set()),
        ({"payloadType": "PriceDelta", "userId": "u-1"}, {"user"}, set()),
        ({"payloadType": "PriceDelta", "meterIds": ["m-1"]}, {"meter"}, {"meter"}),
        ({"payloadType": "PriceDelta", "meterId": "m-1"}, {"meter"}, {"meter"}),
        (
            {"payloadType": "PriceCurve", "targets": [{"resourceId": "EV-1", "locationId": "l"}]},
            {"vehicle"},
            set(),
        ),
        ({"payloadType": "UserEligibility", "addedUsers": ["u-1"]}, {"user"}, set()),
        ({"payloadType": "PriceDelta", "details": {"userIds": ["u-1"]}}, {"user"}, set()),
        # The shape our emulator once invented: ids inside `targets` that the docs do not give.
        (
            {"payloadType": "PriceDelta", "targets": [{"userId": "u-1", "meterId": "m-1"}]},
            set(),
            set(),
        ),
    ],
)
def test_it_links_an_event_through_the_documented_id_fields_only(
    org, payload, linked_customers, linked_meters
):
    by_user = CustomerFactory(organization=org)
    meter = MeterFactory(organization=org)
    vehicle = vehicle_for(org, HomeFactory(organization=org))
    spark_link(org, by_user, "u-1")
    spark_link(org, meter, "m-1")
    spark_link(org, vehicle, "EV-1")
    customers = {"user": by_user, "meter": meter.home.customer, "vehicle": vehicle.home.customer}
    endpoint = WebhookEndpoint(organization=org)
    endpoint.set_secret("s")
    endpoint.save()
    body = json.dumps({"notificationId": "n-1", "payload": payload}).encode()

    assert (
        webhooks.receive(endpoint, body, {"X-Payload-Signature": spark.sign(body, "s")}).status
        == 200
    )
    event = WebhookEvent.objects.get()
    webhooks.process_event(event.pk)

    assert set(event.customers.all()) == {customers[name] for name in linked_customers}
    assert set(event.meters.all()) == ({meter} if linked_meters else set())


@pytest.mark.django_db
def test_it_links_the_emulators_price_delta_to_the_users_meters_and_resources_it_names(
    org, spark_emulator, django_capture_on_commit_callbacks
):
    metered = HomeFactory(
        organization=org,
        customer=home_services.save_customer(CustomerFactory.build(organization=org)),
    )
    meter = home_services.save_meter(
        Meter(organization=org, home=metered, meter_number="E-1", meter_point_id="MP-1")
    )
    named_user = home_services.save_customer(CustomerFactory.build(organization=org))
    vehicle = vehicle_for(
        org,
        HomeFactory(
            organization=org,
            customer=home_services.save_customer(CustomerFactory.build(organization=org)),
        ),
    )
    bystander = home_services.save_customer(CustomerFactory.build(organization=org))
    engine.sync_now(org.pk)
    endpoint = webhooks.register_webhook(org)
    spark_emulator.background = False
    spark_emulator.deliver = lambda url, body, headers: (
        Client()
        .post(
            reverse("spark_webhook", args=[endpoint.token]),
            body,
            content_type="application/json",
            HTTP_SPARK_SIGNATURE=headers["Spark-Signature"],
        )
        .status_code
    )

    with django_capture_on_commit_callbacks(execute=True):
        spark_emulator.emit_price_delta(
            user_ids=[link(named_user).remote_id],
            meter_ids=[link(meter).remote_id],
            resource_ids=["EV-1"],
        )

    assert spark_emulator.state["deliveries"][-1]["attempt_statuses"] == [200]
    event = WebhookEvent.objects.get()
    assert set(event.customers.all()) == {metered.customer, named_user, vehicle.home.customer}
    assert bystander not in event.customers.all()
    assert list(event.meters.all()) == [meter]


@pytest.mark.django_db(transaction=True)
def test_it_receives_the_emulators_signed_test_event_and_a_price_change_at_the_live_receiver(
    org, owner, live_server, settings, sandbox
):
    settings.PUBLIC_BASE_URL = live_server.url
    services.save_connection(
        Connection(organization=org, platform="spark"),
        username="sandbox-spark-client",
        password="sandbox-spark-secret",
    )
    home = HomeFactory(
        organization=org,
        customer=home_services.save_customer(CustomerFactory.build(organization=org)),
    )
    engine.sync_now(org.pk)
    endpoint = webhooks.register_webhook(org)
    webhooks.send_test_event(org)
    emulator = sandbox.emulator("spark")
    assert emulator.wait_for_deliveries(15)
    test_event = WebhookEvent.objects.get(organization=org)
    assert test_event.is_test and test_event.endpoint == endpoint
    emulator.emit_price_delta(user_ids=[link(home.customer).remote_id])
    assert emulator.wait_for_deliveries(15)
    price = WebhookEvent.objects.exclude(pk=test_event.pk).get()
    assert price.is_price_event and list(price.customers.all()) == [home.customer]
    client = Client()
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(home.customer.get_absolute_url()).content.decode()
    assert "Price events from Spark" in page
    assert (
        httpx.get(f"{live_server.url}{reverse('spark_webhook', args=[endpoint.token])}").status_code
        == 405
    )


@pytest.mark.django_db
def test_it_sends_a_charge_report_from_a_vehicle_page_after_validating_ranges(
    org, member_client, spark_emulator
):
    vehicle = vehicle_for(org, HomeFactory(organization=org))
    engine.sync_now(org.pk)
    url = reverse("charge_report", args=[vehicle.pk])
    bad = member_client.post(
        url, {"action": "Start", "power_w": -5, "state_of_charge": 140, "battery_capacity_wh": 0}
    )
    assert set(bad.context["form"].errors) == {"power_w", "state_of_charge", "battery_capacity_wh"}
    member_client.post(
        url,
        {"action": "Start", "power_w": 7400, "state_of_charge": 35, "battery_capacity_wh": 75000},
    )
    engine.sync_now(org.pk)
    report = spark_emulator.state["reports"]
    assert len(report) == 1
    sent = next(iter(report.values()))["payloads"][0]
    assert (
        sent["resourceId"] == "EV-1"
        and sent["stateOfCharge"] == 0.35
        and sent["actionType"] == "Start"
    )
    assert "Synced" in member_client.get(vehicle.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_it_keeps_webhook_pages_to_their_roles(org, member_client, viewer_client, outsider_client):
    assert member_client.post(reverse("spark_webhook_register")).status_code == 403
    assert viewer_client.get(reverse("webhook_events")).status_code == 200
    event = WebhookEvent.objects.create(
        organization=org,
        endpoint=WebhookEndpoint.objects.create(organization=org, secret_encrypted="x"),
        notification_id="n",
        body={},
    )
    assert outsider_client.get(reverse("webhook_event", args=[event.pk])).status_code == 404
    assert viewer_client.get(reverse("charge_report", args=[1])).status_code == 403
