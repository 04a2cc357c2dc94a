"""A file with a few bad rows is not a dead end: the preview offers to store its valid readings
and skip those rows, explicitly; the report keeps what was skipped; nothing half-written."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from readings import services, store, uploads
from readings.models import Reading, Upload, UploadStatus

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, tzinfo=UTC)


def csv_file(hours: int, bad: dict[int, str]) -> bytes:
    """`hours` hourly rows (the header is row 1, the first reading row 2); `bad`: a row's value."""
    lines = ["datetime,value_kwh"]
    for i in range(hours):
        row = i + 2
        lines.append(f"{(START + timedelta(hours=i)).isoformat()},{bad.get(row, '1.5')}")
    return ("\n".join(lines) + "\n").encode()


def check(device, content: bytes, name: str = "year.csv") -> Upload:
    return uploads.check_upload(
        store.series_for(device), io.BytesIO(content), filename=name, user=None
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_one_bad_row_is_offered_to_skip_and_stored_without_it(member_client, device, data_dir):
    upload = check(device, csv_file(1465, {471: "n/a"}))
    assert upload.status == UploadStatus.PREVIEW and upload.stored_file
    assert upload.report["skippable_rows"] == [471]
    page = text(member_client.get(reverse("upload_detail", args=[upload.pk])))
    assert "Store the 1,464 valid readings, skip row 471" in page
    assert "Confirm and store" not in page
    assert Reading.objects.count() == 0

    response = member_client.post(
        reverse("upload_confirm", args=[upload.pk]), {"skip_rows": "471"}, follow=True
    )
    upload.refresh_from_db()
    assert upload.status == UploadStatus.STORED and upload.inserted == 1464
    assert Reading.objects.filter(series__device=device).count() == 1464
    # The report keeps what was skipped, and the page says so.
    assert upload.report["skipped_rows"] == [471]
    assert [e["row"] for e in upload.report["errors"]] == [471]
    page = text(response)
    assert "Skipped, as chosen: row 471" in page
    assert "is not a number" in page

    # Idempotent: choosing again changes nothing.
    again = member_client.post(reverse("upload_confirm", args=[upload.pk]), {"skip_rows": "471"})
    assert again.status_code == 302
    upload.refresh_from_db()
    assert upload.inserted == 1464 and Reading.objects.count() == 1464


def test_the_choice_must_name_the_rows_offered(member_client, device, data_dir):
    upload = check(device, csv_file(10, {3: "x", 7: "y"}))
    assert upload.report["skippable_rows"] == [3, 7]
    for sent in ({}, {"skip_rows": "3"}, {"skip_rows": "3, 7, 9"}):
        response = member_client.post(reverse("upload_confirm", args=[upload.pk]), sent)
        assert response.status_code == 302
        assert Upload.objects.get(pk=upload.pk).status == UploadStatus.PREVIEW
    assert Reading.objects.count() == 0
    with pytest.raises(ValueError, match="offers no choice"):
        services.confirm_upload(upload, (3,))
    assert Reading.objects.count() == 0

    member_client.post(reverse("upload_confirm", args=[upload.pk]), {"skip_rows": "3, 7"})
    assert Upload.objects.get(pk=upload.pk).inserted == 8


def test_a_file_of_only_bad_rows_offers_nothing(member_client, device, data_dir):
    upload = check(device, csv_file(3, {2: "x", 3: "y", 4: "z"}))
    assert upload.status == UploadStatus.REJECTED and not upload.stored_file
    assert "skippable_rows" not in upload.report
    page = text(member_client.get(reverse("upload_detail", args=[upload.pk])))
    assert "skip row" not in page and "Nothing was stored" in page


def test_a_doubt_about_the_whole_file_offers_nothing(device, data_dir):
    content = csv_file(4, {}).replace(b"2024-01-01T02:00:00+00:00", b"2024-01-01T02:00:00")
    upload = check(device, content)  # one naive time among aware ones: mixed offsets
    assert upload.status == UploadStatus.REJECTED
    assert "skippable_rows" not in upload.report


def test_the_stored_file_is_checked_again_before_skipping(device, data_dir):
    """The preview offered rows 5; if the file now reads otherwise (another zone on the home),
    the choice does not cover it: rejected, nothing written."""
    upload = check(device, csv_file(6, {5: "x"}))
    report = dict(upload.report, skippable_rows=[4])  # as if the preview had offered another row
    Upload.objects.filter(pk=upload.pk).update(report=report)
    upload.refresh_from_db()
    stored = services.confirm_upload(upload, (4,))
    assert stored.status == UploadStatus.REJECTED
    assert Reading.objects.count() == 0


def test_a_big_file_stores_the_chosen_rows_in_the_background(
    device, data_dir, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(uploads, "PROCESS_IN_BACKGROUND_ROWS", 5)
    upload = check(device, csv_file(20, {10: "x"}))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.confirm_upload(upload, (10,)).status == UploadStatus.PROCESSING
    upload.refresh_from_db()
    assert upload.status == UploadStatus.STORED and upload.inserted == 19
    assert upload.report["skipped_rows"] == [10]


def test_a_quoted_value_spanning_lines_offers_nothing(device, data_dir):
    """An unbalanced quote swallows the rows after it into one value: which rows are bad is in
    doubt, so none is offered to be skipped."""
    content = csv_file(6, {}).replace(b"01T02:00:00+00:00,1.5", b'01T02:00:00+00:00,"1.5', 1)
    upload = check(device, content)
    assert upload.status == UploadStatus.REJECTED and upload.report["error_count"]
    assert "skippable_rows" not in upload.report
