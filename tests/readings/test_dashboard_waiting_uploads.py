"""The dashboard names the uploads waiting for confirmation, and links to them."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from readings.services import check_file, series_for

pytestmark = pytest.mark.django_db


def test_the_dashboard_names_uploads_waiting_for_confirmation(
    member_client, member, device, data_dir
):
    page = member_client.get(reverse("dashboard")).content.decode()
    assert "waiting for confirmation" not in page
    for name in ("a.csv", "b.csv"):
        check_file(
            series_for(device),
            io.BytesIO(b"datetime,value_kwh\n2026-01-15T12:00:00-08:00,1.5\n"),
            filename=name,
            user=member,
            in_background=False,
        )
    page = member_client.get(reverse("dashboard")).content.decode()
    assert "2 uploads waiting for confirmation</a>" in page
    assert 'href="/uploads/?status=preview"' in page
    listed = member_client.get("/uploads/?status=preview")
    assert sorted(u.filename for u in listed.context["object_list"]) == ["a.csv", "b.csv"]
