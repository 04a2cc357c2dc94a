"""Interval data through /api/v1/: upload (dry run, real, rejected), check then confirm or
discard, query by resolution and zone, export; the uploads and their reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from readings.models import Reading, Upload, UploadStatus

START = datetime(2024, 6, 1, 4, tzinfo=UTC)  # midnight in New York


def csv_file(hours: int = 48, *, bad_row: int | None = None, name: str = "june.csv"):
    lines = ["datetime,value_kwh"]
    for n in range(hours):
        value = "oops" if bad_row is not None and n + 2 == bad_row else "1.5"
        lines.append(f"{(START + timedelta(hours=n)).isoformat()},{value}")
    return SimpleUploadedFile(name, ("\n".join(lines) + "\n").encode(), content_type="text/csv")


@pytest.fixture(autouse=True)
def _data(data_dir):
    return data_dir


def test_it_answers_the_preview_report_of_a_dry_run_and_stores_nothing(api, device):
    response = api.post(
        f"/api/v1/devices/{device.pk}/readings", {"file": csv_file(), "dry_run": "true"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["rows"], body["upload_id"]) == ("preview", 48, None)
    assert body["summary"]  # how the file was read: the page's preview, as JSON
    assert not Reading.objects.exists() and not Upload.objects.exists()


def test_it_stores_a_file_and_reimporting_changes_nothing(api, device):
    url = f"/api/v1/devices/{device.pk}/readings"
    body = api.post(url, {"file": csv_file()}).json()
    assert (body["status"], body["inserted"]) == ("stored", 48)
    assert Reading.objects.count() == 48
    again = api.post(url, {"file": csv_file()}).json()
    assert (again["inserted"], again["unchanged"]) == (0, 48)


def test_it_answers_a_rejected_file_in_the_error_shape_with_its_rows(api, meter):
    response = api.post(f"/api/v1/meters/{meter.pk}/readings", {"file": csv_file(bad_row=5)})
    assert response.status_code == 422
    body = response.json()
    assert body["errors"]["file"][0].startswith("Row 5, value_kwh: ")
    assert body["report"]["status"] == "rejected"
    assert "was not stored" in body["detail"]
    assert not Reading.objects.exists()


def test_it_asks_for_the_file_by_name(api, device):
    response = api.post(f"/api/v1/devices/{device.pk}/readings", {"dry_run": "1"})
    assert response.status_code == 422
    assert response.json()["errors"]["file"] == [
        "Attach the file of readings in the 'file' field (multipart/form-data)."
    ]


def test_it_checks_then_confirms_or_discards_as_the_uploads_page_does(api, device):
    checked = api.post(f"/api/v1/devices/{device.pk}/readings/check", {"file": csv_file()})
    assert checked.status_code == 202, checked.content
    upload = checked.json()
    assert (upload["status"], upload["record_type"], upload["record_id"]) == (
        "preview",
        "device",
        device.pk,
    )
    assert not Reading.objects.exists()
    detail = api.get(f"/api/v1/uploads/{upload['id']}").json()
    assert detail["report"]["error_count"] == 0
    confirmed = api.post(f"/api/v1/uploads/{upload['id']}/confirm")
    assert confirmed.status_code == 202 and confirmed.json()["status"] == "stored"
    assert Reading.objects.count() == 48
    assert api.post(f"/api/v1/uploads/{upload['id']}/confirm").status_code == 409
    other = api.post(
        f"/api/v1/devices/{device.pk}/readings/check", {"file": csv_file(name="b.csv")}
    ).json()
    discarded = api.post(f"/api/v1/uploads/{other['id']}/discard")
    assert discarded.status_code == 200 and discarded.json()["status"] == "discarded"
    listed = api.get("/api/v1/uploads", {"status": "discarded"}).json()["items"]
    assert [u["id"] for u in listed] == [other["id"]]
    assert Upload.objects.get(pk=other["id"]).status == UploadStatus.DISCARDED


def test_a_file_with_a_bad_row_is_stored_without_it_only_when_asked(api, device):
    checked = api.post(
        f"/api/v1/devices/{device.pk}/readings/check", {"file": csv_file(bad_row=5)}
    ).json()
    assert checked["status"] == "preview"
    url = f"/api/v1/uploads/{checked['id']}/confirm"
    refused = api.post(url)
    assert refused.status_code == 409 and "skip_rows=5" in refused.json()["detail"]
    assert api.post(f"{url}?skip_rows=6").status_code == 409  # not the row it offered
    malformed = api.post(f"{url}?skip_rows=5,abc")  # not silently read as "5"
    assert malformed.status_code == 422 and "skip_rows" in malformed.json()["errors"]
    assert not Reading.objects.exists()
    stored = api.post(f"{url}?skip_rows=5")
    assert stored.status_code == 202 and stored.json()["status"] == "stored"
    assert Reading.objects.count() == 47
    assert Upload.objects.get(pk=checked["id"]).report["skipped_rows"] == [5]


def test_it_queries_by_resolution_in_the_records_zone_or_utc(api, device):
    api.post(f"/api/v1/devices/{device.pk}/readings", {"file": csv_file()})
    url = f"/api/v1/devices/{device.pk}/readings"
    hourly = api.get(url, {"start": "2024-06-01", "end": "2024-06-01"}).json()
    assert hourly["timezone"] == "America/New_York"
    assert len(hourly["points"]) == 24
    assert hourly["points"][0]["start"] == "2024-06-01T00:00:00-04:00"
    daily = api.get(url, {"start": "2024-06-01", "end": "2024-06-02", "resolution": "day"}).json()
    assert [(p["start"], p["value_kwh"], p["hours"]) for p in daily["points"]] == [
        ("2024-06-01", 36.0, 24),
        ("2024-06-02", 36.0, 24),
    ]
    utc = api.get(
        url, {"start": "2024-06-01", "end": "2024-06-02", "resolution": "day", "zone": "utc"}
    ).json()
    assert [(p["start"], p["hours"]) for p in utc["points"]] == [
        ("2024-06-01", 20),
        ("2024-06-02", 24),
    ]
    monthly = api.get(
        url, {"start": "2024-06-01", "end": "2024-06-30", "resolution": "month"}
    ).json()
    assert [(p["start"], p["value_kwh"], p["expected_hours"]) for p in monthly["points"]] == [
        ("2024-06-01", 72.0, 720)
    ]
    bad = api.get(url, {"start": "June"})
    assert bad.status_code == 422 and "start" in bad.json()["errors"]
    assert api.get(url, {"resolution": "week"}).status_code == 422


def test_it_exports_csv_that_uploads_back_unchanged(api, device):
    api.post(f"/api/v1/devices/{device.pk}/readings", {"file": csv_file()})
    response = api.get(f"/api/v1/devices/{device.pk}/readings.csv", {"start": "2024-06-02"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert lines[0] == "datetime,value_kwh"
    assert lines[1] == "2024-06-02T00:00:00-04:00,1.5"
    assert len(lines) == 25
    back = SimpleUploadedFile("back.csv", text.encode(), content_type="text/csv")
    again = api.post(f"/api/v1/devices/{device.pk}/readings", {"file": back}).json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 24)
