"""One time policy (README, "Time"): a record's page shows its times in the record's own zone with
the zone's abbreviation, organization-wide pages in the organization's zone, "UTC" only where the
time is UTC; one date format (2026-01-15) and one clock (24-hour) everywhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from integrations.models import LinkState, SyncAttempt, UpstreamLink
from readings.models import Upload
from readings.services import import_readings, series_for

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 1, 15, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles, 15:00 in New York


@pytest.fixture
def place(org, home, device):
    org.timezone = "America/New_York"
    org.save()
    home.timezone = "America/Los_Angeles"
    home.save()
    link = UpstreamLink.objects.create(
        organization=org,
        platform="wattcarbon",
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        state=LinkState.REJECTED,
        remote_id="dev_1",
        synced_at=MOMENT,
    )
    SyncAttempt.objects.create(link=link, started_at=MOMENT, method="PUT", path="/devices/dev_1")
    upload = import_readings(
        series_for(device),
        io.BytesIO(b"datetime,value_kwh\n2026-01-15T12:00:00-08:00,1.5\n"),
        filename="one.csv",
    )
    Upload.objects.filter(pk=upload.pk).update(created_at=MOMENT)
    return {"device": device, "link": link, "upload": upload}


def test_a_record_page_shows_the_records_zone(member_client, place):
    history = member_client.get(reverse("link_history", args=[place["link"].pk])).content.decode()
    assert "2026-01-15 12:00:00 PST" in history and "When (UTC)" not in history
    assert "times on this page in America/Los_Angeles" in history
    device = member_client.get(place["device"].get_absolute_url()).content.decode()
    assert "times on this page in America/Los_Angeles" in device


def test_an_organization_wide_page_shows_the_organizations_zone(member_client, place):
    uploads = member_client.get(reverse("upload_list")).content.decode()
    assert "2026-01-15 15:00 EST" in uploads
    assert "times shown in America/New_York" in uploads
    dashboard = member_client.get(reverse("dashboard")).content.decode()
    assert "2026-01-15 15:00 EST" in dashboard


def test_utc_is_said_only_where_the_time_is_utc(member_client, place):
    card = member_client.get(reverse("upload_detail", args=[place["upload"].pk])).content.decode()
    assert "In UTC" in card and "2026-01-15 20:00" in card  # the file's range in UTC, so labelled
    assert "times on this page in America/Los_Angeles" in card


def test_no_page_uses_another_date_format_or_clock(member_client, place):
    pages = [
        place["device"].get_absolute_url(),
        reverse("link_history", args=[place["link"].pk]),
        reverse("upload_list"),
        reverse("dashboard"),
    ]
    for url in pages:
        text = member_client.get(url).content.decode()
        for foreign in (
            "Jan. 15",
            "Jan 15",
            "1/15/26",
            "01/15/2026",
            " p.m.",
            " a.m.",
            " PM",
            " AM",
        ):
            assert foreign not in text, (url, foreign)


def test_date_inputs_take_the_one_format_whatever_the_browsers_locale(member_client, place):
    """A browser's own date picker shows its locale's format (12/07/2026 in en-US): the portal's
    date fields are text inputs that say and check YYYY-MM-DD."""
    for url in (
        reverse("device_create_kind", args=["solar"]),
        reverse("device_readings", args=[place["device"].pk]),
    ):
        text = member_client.get(url).content.decode()
        assert 'type="date"' not in text and 'type="datetime-local"' not in text, url
        assert 'placeholder="YYYY-MM-DD"' in text and r'pattern="\d{4}-\d{2}-\d{2}"' in text, url
