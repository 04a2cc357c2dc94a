"""Fixtures of the public API's tests: keys of each scope for the organization and for another."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.test import Client

from api.models import Scope
from api.services import create_api_key
from integrations.models import UpstreamLink, WebhookEndpoint, WebhookEvent
from readings.models import Upload, UploadStatus
from readings.services import series_for
from tests.factories import CustomerFactory, DeviceFactory, HomeFactory, MeterFactory

ALL_SCOPES = list(Scope.values)


class ApiClient:
    """Django's test client with a key in `Authorization` and JSON bodies."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    def get(self, path, data=None, **extra):
        return self.client.get(path, data, **extra)

    def post(self, path, data=None, **extra):
        if isinstance(data, dict) and not any(hasattr(v, "read") for v in data.values()):
            return self.client.post(path, data, content_type="application/json", **extra)
        return self.client.post(path, data or {}, **extra)

    def patch(self, path, data, **extra):
        return self.client.patch(path, data, content_type="application/json", **extra)

    def delete(self, path, **extra):
        return self.client.delete(path, **extra)


@pytest.fixture(autouse=True)
def _fresh_rate_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_key(db, owner) -> Callable[..., ApiClient]:
    def make(scopes=ALL_SCOPES, organization=None, **kwargs) -> ApiClient:
        org = organization or owner.memberships.get().organization
        new = create_api_key(org, name="test", scopes=scopes, created_by=owner, **kwargs)
        return ApiClient(new.plaintext)

    return make


@pytest.fixture
def api(make_key) -> ApiClient:
    """A key of the organization with every scope."""
    return make_key()


@pytest.fixture
def rival_api(db, other_org) -> ApiClient:
    """A key of another organization with every scope."""
    return ApiClient(create_api_key(other_org, name="rival", scopes=ALL_SCOPES).plaintext)


@pytest.fixture
def world(org, data_dir):
    """One record of every kind the API serves, in the organization."""
    customer = CustomerFactory(organization=org)
    home = HomeFactory(organization=org, customer=customer)
    meter = MeterFactory(organization=org, home=home)
    device = DeviceFactory(organization=org, home=home)
    link = UpstreamLink.objects.create(
        organization=org,
        platform="wattcarbon",
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
    )
    upload = Upload.objects.create(
        organization=org,
        series=series_for(device),
        filename="a.csv",
        sha256="0" * 64,
        status=UploadStatus.PREVIEW,
    )
    endpoint = WebhookEndpoint.objects.create(organization=org)
    event = WebhookEvent.objects.create(
        organization=org, endpoint=endpoint, notification_id="n-1", body={"eventType": "Test"}
    )
    return {
        "customers": customer.pk,
        "homes": home.pk,
        "meters": meter.pk,
        "devices": device.pk,
        "links": link.pk,
        "uploads": upload.pk,
        "events": event.pk,
    }
