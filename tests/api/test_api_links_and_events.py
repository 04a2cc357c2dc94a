"""Upstream links through /api/v1/ (state, remote id, last error, history, "sync now") against the
in-process WattCarbon sandbox, and the Spark events an organization received."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from integrations import services as integration_services
from integrations.clients import forget_clients
from integrations.models import Connection, WebhookEndpoint, WebhookEvent
from integrations.sandbox import registry
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
from tests.factories import CustomerFactory, HomeFactory


@pytest.fixture
def wattcarbon(org, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    cache.clear()
    integration_services.save_connection(
        Connection(organization=org, platform="wattcarbon"),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    yield registry.emulator("wattcarbon")
    registry.reset_all()
    forget_clients()


def test_a_solar_device_made_through_the_api_goes_to_synced_on_wattcarbon(
    api, org, wattcarbon, django_capture_on_commit_callbacks
):
    home = HomeFactory(organization=org)
    with django_capture_on_commit_callbacks(execute=True):
        device = api.post(
            "/api/v1/devices",
            {
                "kind": "solar",
                "home": home.pk,
                "name": "Roof",
                "custom_id": "SOL-9",
                "details": {"nameplate_capacity_kw": 6},
            },
        ).json()
    integration_services.sync_now(org.pk)
    links = api.get(f"/api/v1/devices/{device['id']}/links").json()
    (record,) = [link for link in links if link["channel"] == "record"]
    assert (record["platform"], record["state"]) == ("wattcarbon", "synced")
    assert record["remote_id"]
    detail = api.get(f"/api/v1/links/{record['id']}").json()
    assert detail["history"][0]["method"] == "POST"
    assert detail["history"][0]["status_code"] in {200, 201}
    listed = api.get("/api/v1/links", {"platform": "wattcarbon", "state": "synced"}).json()
    assert record["id"] in [link["id"] for link in listed["items"]]
    queued = api.post(f"/api/v1/links/{record['id']}/sync")
    assert queued.status_code == 202 and queued.json()["queued"] == 1


def test_it_filters_links_by_record_platform_and_state(
    api, org, wattcarbon, django_capture_on_commit_callbacks
):
    home = HomeFactory(organization=org)
    with django_capture_on_commit_callbacks(execute=True):
        made = [
            api.post(
                "/api/v1/devices",
                {
                    "kind": "solar",
                    "home": home.pk,
                    "name": f"Roof {n}",
                    "custom_id": f"SOL-1{n}",
                    "details": {"nameplate_capacity_kw": 6},
                },
            ).json()
            for n in range(2)
        ]
    first = api.get("/api/v1/links", {"record_type": "device", "record_id": made[0]["id"]}).json()
    assert first["items"]
    assert {item["record_id"] for item in first["items"]} == {made[0]["id"]}
    assert (
        api.get("/api/v1/links", {"record_type": "home", "record_id": made[0]["id"]}).json()[
            "items"
        ]
        == []
    )
    assert api.get("/api/v1/links", {"state": "rejected"}).json()["items"] == []
    assert api.get("/api/v1/links", {"record_type": "toaster"}).status_code == 422


def test_it_lists_the_organizations_spark_events_only(api, org, other_org):
    customer = CustomerFactory(organization=org)
    ours = WebhookEvent.objects.create(
        organization=org,
        endpoint=WebhookEndpoint.objects.create(organization=org),
        notification_id="n-1",
        event_type="PriceCurveDelta",
        body={"eventType": "PriceCurveDelta"},
    )
    ours.customers.add(customer)
    WebhookEvent.objects.create(
        organization=other_org,
        endpoint=WebhookEndpoint.objects.create(organization=other_org),
        notification_id="n-2",
        body={},
    )
    page = api.get("/api/v1/events").json()
    assert [event["id"] for event in page["items"]] == [ours.pk]
    assert page["items"][0]["customers"] == [customer.pk]
    assert api.get("/api/v1/events", {"customer": customer.pk}).json()["items"][0]["id"] == ours.pk
    assert api.get(f"/api/v1/events/{ours.pk}").json()["event_type"] == "PriceCurveDelta"
