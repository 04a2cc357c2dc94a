"""The JSON readings upload endpoints (readings/views_api.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from readings.models import Reading, Upload, UploadStatus
from readings.store import series_for
from tests.factories import DeviceFactory, MeterFactory

JSON = {"accept": "application/json"}
START = datetime(2024, 6, 1, tzinfo=UTC)


def csv_file(hours: int = 24, *, bad_row: int | None = None, name: str = "june.csv"):
    lines = ["datetime,value_kwh"]
    for n in range(hours):
        value = "oops" if bad_row is not None and n + 2 == bad_row else f"{0.5 + n / 100:g}"
        lines.append(f"{(START + timedelta(hours=n)).isoformat()},{value}")
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


@pytest.fixture
def device(org):
    return DeviceFactory(organization=org)


@pytest.fixture
def device_url(device) -> str:
    return reverse("device_readings_upload", args=[device.pk])


def test_it_stores_an_upload_and_answers_with_the_counts(member_client, device_url):
    response = member_client.post(device_url, {"file": csv_file()}, headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "stored"
    assert (body["rows"], body["inserted"], body["updated"], body["unchanged"]) == (24, 24, 0, 0)
    assert body["errors"] == []
    assert isinstance(body["warnings"], list)
    assert body["upload_id"] == Upload.objects.get().pk
    assert Reading.objects.count() == 24

    again = member_client.post(device_url, {"file": csv_file()}, headers=JSON).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 24)


def test_it_answers_422_with_every_error_of_a_rejected_file(member_client, device_url):
    response = member_client.post(device_url, {"file": csv_file(bad_row=5)}, headers=JSON)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "rejected"
    assert body["error_count"] == 1
    error = body["errors"][0]
    assert (error["row"], error["column"]) == (5, "value_kwh")
    assert "oops" in error["message"]
    assert set(error) >= {"row", "column", "message"}
    assert (body["inserted"], body["updated"], body["unchanged"]) == (0, 0, 0)
    assert Reading.objects.count() == 0
    assert Upload.objects.get().status == UploadStatus.REJECTED


def test_it_previews_a_dry_run_without_storing(member_client, device_url):
    response = member_client.post(device_url, {"file": csv_file(), "dry_run": "1"}, headers=JSON)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "preview"
    assert body["rows"] == 24
    assert body["upload_id"] is None
    assert Reading.objects.count() == 0
    assert Upload.objects.count() == 0


def test_it_takes_a_meters_consumption(member_client, org):
    meter = MeterFactory(organization=org)
    url = reverse("meter_readings_upload", args=[meter.pk])
    response = member_client.post(url, {"file": csv_file(6)}, headers=JSON)
    assert response.status_code == 200
    assert response.json()["inserted"] == 6
    assert series_for(meter).reading_count == 6


def test_it_answers_400_naming_the_field_when_the_file_is_missing(member_client, device_url):
    response = member_client.post(device_url, {"dry_run": "1"}, headers=JSON)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "file"
    assert "'file' field" in body["errors"]["file"][0]


def test_it_answers_400_for_a_body_that_is_not_multipart(member_client, device_url):
    response = member_client.post(
        device_url,
        b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\n',
        content_type="multipart/form-data; boundary=xyz",
        headers=JSON,
    )
    assert response.status_code == 400
    assert response.json()["field"] == "file"


def test_it_redirects_a_browser_to_the_device_with_a_message(member_client, device, device_url):
    response = member_client.post(device_url, {"file": csv_file()}, follow=False)
    assert response.status_code == 302
    assert response.url == device.get_absolute_url()
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["june.csv: 24 hourly readings stored (24 new, 0 changed, 0 unchanged)."]


def test_it_forbids_viewers(viewer_client, device_url):
    response = viewer_client.post(device_url, {"file": csv_file()}, headers=JSON)
    assert response.status_code == 403
    assert Reading.objects.count() == 0


def test_it_hides_another_organizations_device(outsider_client, device_url):
    response = outsider_client.post(device_url, {"file": csv_file()}, headers=JSON)
    assert response.status_code == 404
    assert Reading.objects.count() == 0


def test_it_sends_anonymous_users_to_sign_in(client, device_url):
    response = client.post(device_url, {"file": csv_file()})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_only_accepts_posts(member_client, device_url):
    assert member_client.get(device_url, headers=JSON).status_code == 405
