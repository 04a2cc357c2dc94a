"""The back office shows sync state (its index promises it): links, calls, deliveries,
connections and uploads, read only, and never a credential."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from integrations import services
from integrations.models import Connection, LinkState, UpstreamLink
from portal.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db) -> Client:
    user = User.objects.create_superuser("root@example.test", "root-password-123")
    client = Client()
    client.force_login(user)
    return client


def test_the_back_office_lists_sync_state_and_uploads(staff, org, device):
    services.save_connection(
        Connection(organization=org, platform="wattshift"), api_key="very-secret-key-123"
    )
    for name in ["upstreamlink", "syncattempt", "webhookevent", "connection"]:
        page = staff.get(reverse(f"admin:integrations_{name}_changelist"))
        assert page.status_code == 200, name
        assert "very-secret-key-123" not in page.content.decode()
    for name in ["upload", "series"]:
        assert staff.get(reverse(f"admin:readings_{name}_changelist")).status_code == 200
    connection = Connection.objects.get(organization=org)
    page = staff.get(reverse("admin:integrations_connection_change", args=[connection.pk]))
    assert page.status_code == 200 and "very-secret-key-123" not in page.content.decode()
    assert "credentials_encrypted" not in page.content.decode()
    index = staff.get(reverse("admin:index")).content.decode()
    assert "Upstream links" in index and "Uploads" in index


def test_links_are_queued_again_from_the_back_office_not_edited(staff, org, device):
    link = UpstreamLink.objects.create(
        organization=org,
        platform="wattcarbon",
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        state=LinkState.FAILED,
    )
    changelist = reverse("admin:integrations_upstreamlink_changelist")
    staff.post(changelist, {"action": "retry", "_selected_action": [link.pk]})
    link.refresh_from_db()
    assert link.state == LinkState.PENDING
    change = reverse("admin:integrations_upstreamlink_change", args=[link.pk])
    staff.post(change, {"state": "synced", "remote_id": "forged"})
    link.refresh_from_db()
    assert link.remote_id == "" and link.state == LinkState.PENDING
