from __future__ import annotations

import io

import pytest
from django.urls import reverse

from readings import store, uploads
from tests.factories import DeviceFactory


@pytest.mark.django_db
def test_it_counts_what_the_organization_has_and_lists_its_recent_uploads(
    org, other_org, owner, owner_client, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    device = DeviceFactory(organization=org)
    DeviceFactory.create_batch(2, organization=other_org)
    uploads.check_upload(
        store.series_for(device),
        io.BytesIO(b"datetime,value_kwh\n2024-01-01T00:00:00Z,1\n"),
        filename="mine.csv",
        user=owner,
    )
    response = owner_client.get(reverse("dashboard"))
    counts = {card.label: count for card, count in response.context["cards"]}
    assert counts["Devices"] == 1 and counts["Homes"] == 1 and counts["Needs attention"] == 0
    assert "mine.csv" in response.content.decode()


@pytest.mark.django_db
def test_it_shows_viewers_no_card_they_cannot_follow(org, viewer_client):
    labels = {card.label for card, _ in viewer_client.get(reverse("dashboard")).context["cards"]}
    assert "Devices" in labels and "Needs attention" not in labels
