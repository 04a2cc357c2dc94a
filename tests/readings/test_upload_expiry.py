"""Checked uploads never confirmed: they expire (file deleted, row kept as "expired"), a member may
discard one, and an organization's unconfirmed files may hold only so many bytes."""

from __future__ import annotations

import io
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from readings import services, store, tasks, uploads, views
from readings.models import Reading, Upload, UploadStatus
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db

TZ = "America/New_York"
TTL_S = 24 * 3600


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.UPLOAD_PENDING_TTL_S = TTL_S


@pytest.fixture
def device(org):
    return DeviceFactory(
        organization=org,
        home=HomeFactory(organization=org, timezone=TZ),
        custom_id="SP-00012",
        name="Roof array",
        kind="electrification",
        details={},
    )


@pytest.fixture
def their_device(other_org):
    return DeviceFactory(
        organization=other_org,
        home=HomeFactory(organization=other_org, timezone=TZ),
        custom_id="SP-00012",
        kind="electrification",
        details={},
    )


def _csv(hours: int = 24, day: int = 1) -> bytes:
    start = datetime(2024, 3, day, 5, tzinfo=UTC)
    rows = "".join(f"{(start + timedelta(hours=i)).isoformat()},1.5\n" for i in range(hours))
    return ("datetime,value_kwh\n" + rows).encode()


def _check(owner, content: bytes, name: str = "SP-00012.csv") -> Upload:
    return uploads.check_upload(
        store.series_for(owner), io.BytesIO(content), filename=name, user=None
    )


def _age(upload: Upload, seconds: float) -> None:
    """Make the upload (and its kept file) look `seconds` old."""
    then = timezone.now() - timedelta(seconds=seconds)
    Upload.objects.filter(pk=upload.pk).update(created_at=then, updated_at=then)
    if upload.stored_file:
        os.utime(upload.stored_file, (then.timestamp(), then.timestamp()))


def _files(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "uploads").rglob("*") if p.is_file())


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


# ---- expiry ----------------------------------------------------------------------------------


def test_it_expires_an_unconfirmed_upload_deleting_its_file_and_keeping_its_row(
    device, django_capture_on_commit_callbacks
):
    old = _check(device, _csv(day=1))
    fresh = _check(device, _csv(day=2))
    _age(old, TTL_S + 60)
    _age(fresh, TTL_S - 60)
    os.utime(old.stored_file)  # a file touched lately is deleted all the same

    with django_capture_on_commit_callbacks(execute=True):
        sweep = services.expire_pending_uploads()

    assert sweep.expired == 1
    old.refresh_from_db()
    assert (old.status, old.stored_file) == (UploadStatus.EXPIRED, "")
    assert old.rows == 24 and old.report["ok"] is True  # what it held is still shown
    assert not Path(uploads.uploads_dir() / f"{old.pk}.bin").exists()
    fresh.refresh_from_db()
    assert fresh.status == UploadStatus.PREVIEW and Path(fresh.stored_file).is_file()
    assert services.expire_pending_uploads().expired == 0  # nothing left to do


def test_it_leaves_confirmed_and_rejected_uploads_alone(device):
    stored = uploads.confirm_upload(_check(device, _csv(day=1)))
    rejected = _check(device, b"datetime,value_kwh\nnot a time,1\n", name="bad.csv")
    assert (stored.status, rejected.status) == (UploadStatus.STORED, UploadStatus.REJECTED)
    for upload in (stored, rejected):
        _age(upload, 30 * 24 * 3600)

    assert services.expire_pending_uploads().expired == 0

    assert Upload.objects.get(pk=stored.pk).status == UploadStatus.STORED
    assert Upload.objects.get(pk=rejected.pk).status == UploadStatus.REJECTED
    assert Reading.objects.count() == 24


def test_it_expires_a_failed_store_that_kept_its_file_and_a_stuck_background_check(
    device, django_capture_on_commit_callbacks
):
    failed = _check(device, _csv(day=1))
    Upload.objects.filter(pk=failed.pk).update(status=UploadStatus.FAILED)
    incoming = uploads.uploads_dir() / "incoming"
    incoming.mkdir()
    stuck = Upload.objects.create(
        organization=device.organization,
        series=store.series_for(device),
        filename="big.csv",
        size_bytes=10,
        status=UploadStatus.PROCESSING,
        stored_file=str(incoming / "999.bin"),
    )
    Path(stuck.stored_file).write_bytes(b"0123456789")
    for upload in (failed, stuck):
        _age(upload, TTL_S + 60)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_pending_uploads().expired == 2

    assert _files(uploads.uploads_dir().parent) == []
    assert set(Upload.objects.values_list("status", flat=True)) == {UploadStatus.EXPIRED}


def test_it_removes_old_files_no_waiting_upload_names(device, tmp_path):
    kept = _check(device, _csv(day=1))
    root = uploads.uploads_dir()
    orphan = root / "4242.bin"  # its device (and uploads) deleted since
    half_checked = root / ".checking-x1y2.bin"  # a process killed mid-check
    recent_orphan = root / "4343.bin"
    for path in (orphan, half_checked, recent_orphan):
        path.write_bytes(b"x")
    day_old = time.time() - TTL_S - 60
    for path in (orphan, half_checked, Path(kept.stored_file)):
        os.utime(path, (day_old, day_old))

    sweep = services.expire_pending_uploads()

    assert (sweep.expired, sweep.orphans_removed) == (0, 2)
    assert _files(tmp_path) == sorted([f"{kept.pk}.bin", "4343.bin"])


def test_it_runs_the_sweep_from_beat_and_from_the_command(device, settings, capsys):
    schedule = settings.CELERY_BEAT_SCHEDULE["expire-pending-uploads"]
    assert schedule["task"] == tasks.expire_pending_uploads.name
    first, second = _check(device, _csv(day=1)), _check(device, _csv(day=2))
    _age(first, TTL_S + 60)
    assert tasks.expire_pending_uploads.apply().get() == 1
    _age(second, TTL_S + 60)
    call_command("expire_uploads")
    assert "1 upload unconfirmed for over 24 hours expired" in capsys.readouterr().out
    assert Upload.objects.get(pk=second.pk).status == UploadStatus.EXPIRED


def test_it_tells_on_an_expired_uploads_page_that_it_expired_and_offers_to_upload_again(
    member_client, device
):
    upload = _check(device, _csv())
    _age(upload, TTL_S + 60)
    services.expire_pending_uploads()

    page = _text(member_client.get(reverse("upload_detail", args=[upload.pk])))
    assert "This upload expired; nothing was stored." in page
    assert "upload the file again" in page
    assert f'action="{reverse("device_readings_check", args=[device.pk])}"' in page
    assert "Confirm and store" not in page and "Discard" not in page

    confirm = member_client.post(reverse("upload_confirm", args=[upload.pk]), follow=True)
    assert confirm.status_code == 200
    assert "can&#x27;t be stored: it is expired" in confirm.content.decode()
    assert member_client.get(reverse("upload_chart", args=[upload.pk])).status_code == 404
    assert "Expired (never confirmed)" in _text(member_client.get(reverse("upload_list")))
    assert uploads.confirm_upload(upload).status == UploadStatus.EXPIRED  # a late task: no 500


def test_it_tells_on_a_waiting_uploads_page_when_its_file_will_be_deleted(member_client, device):
    upload = _check(device, _csv())
    deadline = timezone.localtime(upload.updated_at + timedelta(seconds=TTL_S), ZoneInfo(TZ))
    page = _text(member_client.get(reverse("upload_detail", args=[upload.pk])))
    assert f"Unconfirmed, the file is deleted {deadline:%Y-%m-%d %H:%M}" in page


# ---- discarding ------------------------------------------------------------------------------


def test_it_lets_a_member_discard_a_waiting_upload(
    member_client, device, django_capture_on_commit_callbacks
):
    upload = _check(device, _csv())
    assert "Discard" in _text(member_client.get(reverse("upload_detail", args=[upload.pk])))

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse("upload_discard", args=[upload.pk]), follow=True)

    assert "its file was deleted and nothing was stored" in _text(response)
    upload.refresh_from_db()
    assert (upload.status, upload.stored_file) == (UploadStatus.DISCARDED, "")
    assert _files(uploads.uploads_dir().parent) == []
    assert Reading.objects.count() == 0


def test_it_answers_the_drop_zone_script_with_the_discarded_card(member_client, device):
    upload = _check(device, _csv())
    response = member_client.post(
        reverse("upload_discard", args=[upload.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'data-upload-status="discarded"' in response.content.decode()


def test_it_refuses_to_discard_a_stored_upload(member_client, device):
    upload = uploads.confirm_upload(_check(device, _csv()))
    response = member_client.post(reverse("upload_discard", args=[upload.pk]), follow=True)
    assert "can&#x27;t be discarded: it is stored" in response.content.decode()
    assert Upload.objects.get().status == UploadStatus.STORED
    htmx = member_client.post(
        reverse("upload_discard", args=[upload.pk]), headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 409


def test_it_lets_only_members_of_the_organization_discard(viewer_client, outsider_client, device):
    upload = _check(device, _csv())
    assert viewer_client.post(reverse("upload_discard", args=[upload.pk])).status_code == 403
    assert outsider_client.post(reverse("upload_discard", args=[upload.pk])).status_code == 404
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PREVIEW and Path(upload.stored_file).is_file()


# ---- the cap on unconfirmed bytes ------------------------------------------------------------


def _post(client, device, content: bytes, name: str = "SP-00012.csv", **kwargs):
    return client.post(
        reverse("device_readings_check", args=[device.pk]),
        {"files": [SimpleUploadedFile(name, content, content_type="text/csv")]},
        **kwargs,
    )


def test_it_refuses_a_file_past_the_organizations_cap_on_the_page_with_what_to_do(
    member_client, device, settings, tmp_path
):
    first, second = _csv(day=1), _csv(day=2)
    settings.UPLOAD_PENDING_MAX_BYTES_PER_ORG = len(first) + len(second) - 1
    _post(member_client, device, first)
    assert Upload.objects.get().status == UploadStatus.PREVIEW

    response = _post(member_client, device, second, follow=True)

    page = _text(response)
    assert response.status_code == 200
    assert "SP-00012.csv was not checked." in page
    limit = f"{(len(first) + len(second) - 1) / 1024:,.1f} KB"
    assert f"of the {limit} they may hold" in page
    assert "Confirm or discard the uploads waiting on the Uploads page" in page
    assert Upload.objects.count() == 1  # nothing recorded of the refused file
    assert _files(tmp_path) == [f"{Upload.objects.get().pk}.bin"]  # nor kept

    fragment = _post(member_client, device, second, headers={"HX-Request": "true"})
    assert fragment.status_code == 422
    assert "Confirm or discard the uploads waiting" in _text(fragment)


def test_it_refuses_a_big_file_past_the_cap_before_handing_it_to_a_worker(
    member_client, device, settings, monkeypatch, tmp_path, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(views, "BACKGROUND_BYTES", 100)
    settings.UPLOAD_PENDING_MAX_BYTES_PER_ORG = len(_csv(day=1)) + 10
    _check(device, _csv(day=1))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _post(member_client, device, _csv(day=2), follow=True)
    assert "Confirm or discard the uploads waiting" in _text(response)
    assert queued == [] and Upload.objects.count() == 1
    assert not any((tmp_path / "uploads" / "incoming").glob("*"))


def test_it_makes_room_once_a_waiting_upload_is_confirmed_discarded_or_expired(
    member_client, device, settings
):
    settings.UPLOAD_PENDING_MAX_BYTES_PER_ORG = len(_csv(day=1)) + 10
    waiting = _check(device, _csv(day=1))
    with pytest.raises(uploads.PendingUploadsFull):
        _check(device, _csv(day=2))
    services.discard_upload(waiting)
    second = _check(device, _csv(day=2))
    uploads.confirm_upload(second)
    third = _check(device, _csv(day=3))
    _age(third, TTL_S + 60)  # past its time, even before the sweep: it counts no more
    assert _check(device, _csv(day=4)).status == UploadStatus.PREVIEW


def test_it_counts_only_the_organizations_own_waiting_uploads(
    member_client, device, their_device, settings
):
    settings.UPLOAD_PENDING_MAX_BYTES_PER_ORG = len(_csv(day=1)) + 10
    _check(their_device, _csv(day=1))  # theirs: as much as the cap allows
    _post(member_client, device, _csv(day=2))
    assert Upload.objects.get(organization=device.organization).status == UploadStatus.PREVIEW
    refused = _post(member_client, device, _csv(day=3), follow=True)  # ours: now full
    assert "Confirm or discard the uploads waiting" in _text(refused)
    assert Upload.objects.filter(organization=device.organization).count() == 1
