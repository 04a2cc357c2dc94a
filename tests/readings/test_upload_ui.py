"""The readings upload pages: drop zones that check files, the preview that explains time, confirm,
the row-level report as CSV, the Uploads page's routing by customId, big files in a Celery task,
and who may do what."""

from __future__ import annotations

import csv
import gzip
import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from readings import store, tasks, uploads, views
from readings.models import Reading, Upload, UploadStatus
from tests.factories import DeviceFactory

# The site (home, device, meter) and DATA_DIR are tests/conftest.py's.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

TZ = "America/New_York"


@pytest.fixture
def other_device(org, home):
    return DeviceFactory(
        organization=org,
        home=home,
        custom_id="SP-00013",
        name="Garage array",
        kind="electrification",
        details={},
    )


def _csv(rows: list[tuple[str, str]], header: str = "datetime,value_kwh") -> bytes:
    return (header + "\n" + "".join(f"{t},{v}\n" for t, v in rows)).encode()


def _hours(start_day: int, count: int, *, month: int = 3, value: str = "1.5") -> list:
    """``count`` consecutive hours from local midnight of 2024-<month>-<start_day>, written with
    the site's UTC offset of each hour."""
    zone = ZoneInfo(TZ)
    start = datetime(2024, month, start_day, tzinfo=zone).astimezone(UTC)
    return [
        ((start + timedelta(hours=i)).astimezone(zone).isoformat(), value) for i in range(count)
    ]


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def _upload(series_owner, name: str, content: bytes, user=None) -> Upload:
    return uploads.check_upload(
        store.series_for(series_owner), io.BytesIO(content), filename=name, user=user
    )


# ---- the HTML flow, without JavaScript ---------------------------------------------------------


def test_it_checks_a_file_then_stores_it_on_confirm_without_javascript(member_client, device):
    # Three days across the spring change: 24 + 23 + 24 hourly readings with UTC offsets.
    rows = _hours(9, 71)
    response = member_client.post(
        reverse("device_readings_check", args=[device.pk]),
        {"files": [_file("roof.csv", _csv(rows))]},
    )
    upload = Upload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("upload_detail", args=[upload.pk])
    assert upload.status == UploadStatus.PREVIEW
    assert Reading.objects.count() == 0  # nothing stored before the confirmation

    page = _text(member_client.get(response["Location"]))
    assert "Checked; nothing is stored yet." in page
    assert "71 hourly from 71 rows" in page
    assert "Sat 2024-03-09 00:00 EST to Mon 2024-03-11 23:00 EDT" in page
    assert "2024-03-10</strong>: 23-hour day: the clocks go forward at 02:00 to 03:00" in page
    assert "Confirm and store 71 readings" in page

    confirmed = member_client.post(reverse("upload_confirm", args=[upload.pk]))
    assert confirmed.status_code == 302
    upload.refresh_from_db()
    assert upload.status == UploadStatus.STORED
    assert (upload.inserted, upload.updated, upload.unchanged) == (71, 0, 0)
    assert Reading.objects.filter(series__device=device).count() == 71
    page = _text(member_client.get(confirmed["Location"]))
    assert "71 new, 0 changed, 0 unchanged" in page
    assert "Confirm and store" not in page


def test_it_shows_every_problem_of_a_rejected_file_by_row(member_client, device):
    content = _csv(
        [
            ("2024-03-10T00:00:00", "1.0"),
            ("2024-03-10T01:00:00", "1.0"),
            ("2024-03-10T02:00:00", "1.0"),  # row 4: this hour does not exist in New York
            ("2024-03-10T03:00:00", "1.0"),
            ("2024-03-10T03:00:00", "2.0"),  # row 6: same hour, another value
            ("2024-03-10T04:00:00", "1,5"),  # row 7: not a number (a decimal comma)
            ("2024-03-10T05:00:00", "1.0"),
        ],
    )
    # The decimal comma makes row 7 one field too many in a comma file: quote it to get a bad
    # number rather than a column count error.
    content = content.replace(b"1,5", b'"1,5"')
    response = member_client.post(
        reverse("device_readings_check", args=[device.pk]),
        {"files": [_file("broken.csv", content)]},
        follow=True,
    )
    upload = Upload.objects.get()
    # Each error is confined to its row: the file waits for a person's choice (skipping them).
    assert upload.status == UploadStatus.PREVIEW
    page = _text(response)
    assert "3 rows of 7 have errors" in page
    errors = re.findall(
        r"<tr><td class=\"nowrap\">(\d+)</td><td class=\"mono\">([^<]*)</td><td>([^<]*)</td>", page
    )
    by_row = {int(row): (column, message) for row, column, message in errors}
    assert set(by_row) == {4, 6, 7}
    assert "does not exist in America/New_York" in by_row[4][1]
    assert "is also on row 5 with a different value" in by_row[6][1]
    assert by_row[7][0] == "value_kwh" and "is not a number" in by_row[7][1]
    assert "Confirm and store" not in page
    assert reverse("upload_report_csv", args=[upload.pk]) in page
    assert "Store the 4 valid readings, skip rows 4, 6, 7" in page
    assert Reading.objects.count() == 0
    # A plain confirmation stores nothing: the rows to skip must be chosen.
    assert member_client.post(reverse("upload_confirm", args=[upload.pk])).status_code == 302
    assert Upload.objects.get().status == UploadStatus.PREVIEW
    assert Reading.objects.count() == 0


def test_it_shows_the_first_errors_and_all_of_them_on_demand(member_client, device):
    rows = [(f"2024-01-01T{h:02d}:00:00-05:00", "x") for h in range(15)]
    upload = _upload(device, "bad.csv", _csv(rows))
    page = _text(member_client.get(reverse("upload_detail", args=[upload.pk])))
    assert "15 errors" in page
    assert "Show all 15 errors" in page
    first, rest = page.split("Show all 15 errors", 1)
    assert first.count("is not a number") == 10
    assert rest.count("is not a number") == 5


def test_it_downloads_the_report_with_formulas_neutralised(member_client, device):
    upload = _upload(device, "bad.csv", _csv([("2024-01-01T00:00:00-05:00", "=1+2")]))
    # Whatever a report holds (it is shown as written), the CSV must not be a spreadsheet formula.
    upload.report = {
        **upload.report,
        "errors": [
            *upload.report["errors"],
            {"row": 9, "column": "=cmd|'/c calc'!A1", "message": "@SUM(A1:A9)", "code": "x"},
            {"row": 10, "column": None, "message": "+1", "code": "x"},
        ],
        "error_count": upload.report["error_count"] + 2,
    }
    upload.save()
    response = member_client.get(reverse("upload_report_csv", args=[upload.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["severity", "row", "column", "message"]
    assert ["error", "2", "value_kwh", "'=1+2' is not a number."] in rows
    assert ["error", "9", "'=cmd|'/c calc'!A1", "'@SUM(A1:A9)"] in rows
    assert ["error", "10", "", "'+1"] in rows
    for row in rows[1:]:
        assert not row[2].startswith(("=", "+", "-", "@")), row
        assert not row[3].startswith(("=", "+", "-", "@")), row


# ---- the Uploads page: several files, each naming its device or meter ----------------------------


def test_it_routes_files_by_custom_id_in_the_file_name_and_in_a_customid_column(
    member_client, device, other_device, meter
):
    by_name = _file("2024_SP-00012_hourly.csv", _csv(_hours(1, 3)))
    in_column = _file(
        "export.csv",
        _csv([(t, v + ",SP-00013") for t, v in _hours(1, 3)], header="datetime,value_kwh,customId"),
    )
    gzipped = SimpleUploadedFile("m-77.csv.gz", gzip.compress(_csv(_hours(1, 3))))
    response = member_client.post(
        reverse("uploads_check"), {"files": [by_name, in_column, gzipped]}
    )
    assert response.status_code == 302
    uploads = {u.filename: u for u in Upload.objects.select_related("series")}
    assert uploads["2024_SP-00012_hourly.csv"].series.device == device
    assert uploads["export.csv"].series.device == other_device
    assert uploads["m-77.csv.gz"].series.meter == meter
    assert all(u.status == UploadStatus.PREVIEW for u in uploads.values())
    assert response["Location"].startswith(reverse("upload_list") + "?checked=")

    page = _text(member_client.get(response["Location"]))
    assert "Just checked" in page
    for upload in uploads.values():
        assert f'id="upload-{upload.pk}"' in page


def test_it_refuses_a_file_that_names_no_known_device(member_client, device):
    response = member_client.post(
        reverse("uploads_check"),
        {
            "files": [
                _file("readings.csv", _csv(_hours(1, 3))),
                _file("SP-00012.csv", _csv(_hours(1, 3))),
            ]
        },
        follow=True,
    )
    page = _text(response)
    assert "readings.csv was not checked. It names no device or meter of Acme Solar" in page
    assert [u.filename for u in Upload.objects.all()] == ["SP-00012.csv"]

    unknown_column = _file(
        "SP-00012.csv",
        _csv([(t, v + ",SP-99999") for t, v in _hours(1, 2)], header="datetime,value_kwh,customId"),
    )
    fragment = member_client.post(
        reverse("uploads_check"), {"files": [unknown_column]}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 422
    text = _text(fragment)
    assert "<html" not in text
    assert "SP-99999" in text and "which is no device custom id or meter number" in text
    assert Upload.objects.count() == 1


def test_it_refuses_on_a_device_page_a_file_for_another_device(member_client, device, other_device):
    content = _csv(
        [(t, v + ",SP-00013") for t, v in _hours(1, 2)], header="datetime,value_kwh,customId"
    )
    response = member_client.post(
        reverse("device_readings_check", args=[device.pk]),
        {"files": [_file("x.csv", content)]},
        follow=True,
    )
    assert "not Roof array (SP-00012)" in _text(response)
    assert not Upload.objects.exists()


def test_it_answers_the_drop_zone_script_with_preview_fragments(member_client, meter):
    response = member_client.post(
        reverse("meter_readings_check", args=[meter.pk]),
        {"files": [_file("m.csv", _csv(_hours(1, 5)))]},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    text = _text(response)
    upload = Upload.objects.get()
    assert "<html" not in text
    assert f'id="upload-{upload.pk}"' in text
    assert f'hx-post="{reverse("upload_confirm", args=[upload.pk])}"' in text
    confirmed = member_client.post(
        reverse("upload_confirm", args=[upload.pk]), headers={"HX-Request": "true"}
    )
    assert confirmed.status_code == 200
    assert 'data-upload-status="stored"' in confirmed.content.decode()
    assert Reading.objects.filter(series__meter=meter).count() == 5


def test_it_charts_the_preview_from_the_kept_file_and_the_stored_readings(member_client, device):
    upload = _upload(device, "SP-00012.csv", _csv(_hours(9, 48)))
    data = member_client.get(reverse("upload_chart", args=[upload.pk])).json()
    assert data["bucket"] == "hour" and data["timezone"] == TZ
    assert len(data["x"]) == 48 and data["y"][0] == 1.5
    assert data["x"][1] - data["x"][0] == 3600
    uploads.confirm_upload(upload)
    again = member_client.get(reverse("upload_chart", args=[upload.pk])).json()
    assert again["x"] == data["x"] and again["y"] == data["y"]


# ---- big files: a Celery task, progress polled in place ------------------------------------------


def test_it_checks_and_stores_a_big_file_in_celery_tasks_with_progress(
    member_client, device, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(views, "BACKGROUND_BYTES", 100)
    monkeypatch.setattr(uploads, "PROCESS_IN_BACKGROUND_ROWS", 10)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = member_client.post(
            reverse("device_readings_check", args=[device.pk]),
            {"files": [_file("big.csv", _csv(_hours(9, 48)))]},
        )
    upload = Upload.objects.get()
    assert upload.status == UploadStatus.PROCESSING and len(queued) == 1
    page = _text(member_client.get(response["Location"]))
    assert f'hx-get="{reverse("upload_progress", args=[upload.pk])}" hx-trigger="every 1s"' in page
    assert "<progress" in page and "Checking the file in the background" in page

    # What the worker runs (apply: in this process, whatever the broker).
    assert tasks.check_upload_task.apply(args=[upload.pk]).get() == UploadStatus.PREVIEW
    assert Upload.objects.count() == 1  # the worker's result is on the polled row
    upload.refresh_from_db()
    assert (upload.status, upload.rows, upload.progress) == (UploadStatus.PREVIEW, 48, 100)
    card = _text(member_client.get(reverse("upload_progress", args=[upload.pk])))
    assert "hx-trigger" not in card.split("card-header")[0]
    assert "Confirm and store 48 readings" in card

    with django_capture_on_commit_callbacks(execute=False) as queued:
        member_client.post(reverse("upload_confirm", args=[upload.pk]))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PROCESSING and len(queued) == 1
    assert "Storing the readings in the background" in _text(
        member_client.get(reverse("upload_progress", args=[upload.pk]))
    )
    tasks.confirm_upload_task.apply(args=[upload.pk])
    upload.refresh_from_db()
    assert upload.status == UploadStatus.STORED
    assert Reading.objects.count() == 48


def test_it_checks_and_stores_a_big_file_in_the_request_when_the_broker_is_down(
    member_client, device, monkeypatch, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(views, "BACKGROUND_BYTES", 100)
    monkeypatch.setattr(uploads, "PROCESS_IN_BACKGROUND_ROWS", 10)
    monkeypatch.setattr("readings.background.enqueue", broker_down)  # both steps' hand-over
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            reverse("device_readings_check", args=[device.pk]),
            {"files": [_file("big.csv", _csv(_hours(9, 48)))]},
        )
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert (upload.status, upload.rows) == (UploadStatus.PREVIEW, 48)  # checked all the same
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = member_client.post(reverse("upload_confirm", args=[upload.pk]))
    assert confirmed.status_code in (200, 302)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.STORED
    assert Reading.objects.count() == 48


# ---- who may do what -------------------------------------------------------------------------


def test_it_lets_a_viewer_read_uploads_but_not_check_or_confirm(viewer_client, member, device):
    upload = _upload(device, "SP-00012.csv", _csv(_hours(1, 3)), user=member)
    listing = _text(viewer_client.get(reverse("upload_list")))
    assert "SP-00012.csv" in listing and "Member" in listing
    assert reverse("uploads_check") not in listing  # no drop zone for a viewer
    detail = _text(viewer_client.get(reverse("upload_detail", args=[upload.pk])))
    assert "Confirm and store" not in detail
    assert viewer_client.post(reverse("upload_confirm", args=[upload.pk])).status_code == 403
    assert Upload.objects.get().status == UploadStatus.PREVIEW
    refused = viewer_client.post(
        reverse("device_readings_check", args=[device.pk]),
        {"files": [_file("x.csv", _csv(_hours(1, 3)))]},
    )
    assert refused.status_code == 403
    assert Upload.objects.count() == 1


def test_it_answers_404_to_an_outsider_on_every_url(outsider_client, device, meter):
    upload = _upload(device, "SP-00012.csv", _csv(_hours(1, 3)))
    gets = [
        reverse("upload_detail", args=[upload.pk]),
        reverse("upload_progress", args=[upload.pk]),
        reverse("upload_report_csv", args=[upload.pk]),
        reverse("upload_chart", args=[upload.pk]),
    ]
    posts = [reverse("upload_confirm", args=[upload.pk])]
    for kind, owner in (("device", device), ("meter", meter)):
        gets += [
            reverse(f"{kind}_readings", args=[owner.pk]),
            reverse(f"{kind}_readings_chart", args=[owner.pk]),
            reverse(f"{kind}_readings_csv", args=[owner.pk]),
        ]
        posts.append(reverse(f"{kind}_readings_check", args=[owner.pk]))
    for url in gets:
        assert outsider_client.get(url).status_code == 404, url
    for url in posts:
        response = outsider_client.post(url, {"files": [_file("SP-00012.csv", _csv(_hours(1, 3)))]})
        assert response.status_code == 404, url
    # Their own Uploads page lists nothing of ours, even when asked for our upload by id; a
    # file naming our device's custom id names nothing in their organization.
    listing = _text(outsider_client.get(f"{reverse('upload_list')}?checked={upload.pk}"))
    assert "SP-00012.csv" not in listing
    outsider_client.post(
        reverse("uploads_check"), {"files": [_file("SP-00012.csv", _csv(_hours(1, 3)))]}
    )
    assert Upload.objects.count() == 1
    assert Upload.objects.get().status == UploadStatus.PREVIEW


def test_it_sends_anonymous_visitors_to_sign_in(client, device):
    upload = _upload(device, "SP-00012.csv", _csv(_hours(1, 3)))
    for url in (
        reverse("upload_list"),
        reverse("upload_detail", args=[upload.pk]),
        reverse("device_readings_csv", args=[device.pk]),
        reverse("device_readings_chart", args=[device.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
