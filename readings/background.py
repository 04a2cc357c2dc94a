"""The hand-over of a big file to a Celery worker: the file kept where the worker reads it, the
upload recorded as PROCESSING (``progress`` in percent, which the page polls), the task queued once
that row is committed (or, with the broker down, the work done in the request), and the worker's
outcome moved onto the row the page shows. The tasks themselves are ``readings.tasks``."""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from portal.queue import enqueue

from . import store, uploads
from .models import Series, Upload, UploadStatus

# readings/tasks.py defines these (and calls back into this module): enqueued by name.
CHECK_UPLOAD = "readings.tasks.check_upload_task"
CONFIRM_UPLOAD = "readings.tasks.confirm_upload_task"

log = logging.getLogger(__name__)


# Progress is written at most every this many percent (one UPDATE each).
_PROGRESS_STEP = 2


_COPIED_FIELDS = (
    "sha256",
    "size_bytes",
    "rows",
    "first_instant",
    "last_instant",
    "status",
    "report",
    "stored_file",
)


def _incoming_dir() -> Path:
    return Path(settings.DATA_DIR) / "uploads" / "incoming"


class ProgressReader:
    """A binary stream that writes how much of it has been read to ``Upload.progress``."""

    def __init__(self, stream: BinaryIO, total: int, upload_id: int, *, upto: int = 99) -> None:
        self.stream = stream
        self.total = max(total, 1)
        self.upload_id = upload_id
        self.upto = upto
        self.read_bytes = 0
        self.reported = -_PROGRESS_STEP

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.read_bytes += len(chunk)
        percent = min(self.upto, self.read_bytes * 100 // self.total)
        if percent - self.reported >= _PROGRESS_STEP:
            self.reported = percent
            # A conditional update: only while this upload is still processing.
            Upload.objects.filter(pk=self.upload_id, status=UploadStatus.PROCESSING).update(
                progress=percent
            )
        return chunk


def start_background_check(series: Series, fileobj: Any, *, filename: str, user: Any) -> Upload:
    """Keep the file where a worker can read it, record the upload as PROCESSING and queue the
    check once the row is committed. Returns the PROCESSING upload the page will poll.

    Raises ``uploads.PendingUploadsFull`` (nothing kept, nothing recorded) when the
    organization's unconfirmed uploads have no room for the file."""
    directory = _incoming_dir()
    directory.mkdir(parents=True, exist_ok=True)
    upload = Upload(
        organization_id=series.organization_id,
        series=series,
        uploaded_by=user if getattr(user, "is_authenticated", False) else None,
        filename=filename,
        size_bytes=getattr(fileobj, "size", 0) or 0,
        status=UploadStatus.PROCESSING,
        progress=0,
    )
    path: Path | None = None
    try:
        with transaction.atomic():
            uploads.reserve_pending_bytes(series.organization_id, upload.size_bytes)
            upload.save()
            path = directory / f"{upload.pk}.bin"
            fileobj.seek(0)
            with path.open("wb") as out:
                shutil.copyfileobj(fileobj, out, 1 << 20)
            upload.stored_file = str(path)
            upload.save(update_fields=["stored_file"])
            transaction.on_commit(lambda: _hand_over("check", upload.pk))
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)  # the row rolled back: nothing points at the file
        raise
    return upload


def _hand_over(step: str, upload_id: int) -> None:
    """Queue the step's task; with the broker down, do its work in this request instead: slower
    for the user, but the upload is not left "processing" with nobody to pick it up."""
    task = CHECK_UPLOAD if step == "check" else CONFIRM_UPLOAD
    run = run_background_check if step == "check" else run_background_confirm
    try:
        enqueue(task, upload_id)
    except BrokerUnavailable:
        log.warning("Broker unavailable: upload %s is processed in this request.", upload_id)
        run(upload_id)


def run_background_check(upload_id: int) -> str:
    """Check a PROCESSING upload's file with ``uploads.check_upload`` and put the outcome
    (PREVIEW or REJECTED, the report, the kept file) on this upload row."""
    upload = Upload.objects.select_related("series", "uploaded_by").filter(pk=upload_id).first()
    if upload is None or upload.status != UploadStatus.PROCESSING or upload.report:
        return "skipped"  # already done (a redelivered task) or gone
    incoming = Path(upload.stored_file)
    if not incoming.is_file():
        _fail(upload_id, "The uploaded file is no longer available; upload it again.")
        return UploadStatus.FAILED
    series = store.series_for(upload.series.owner)
    try:
        with incoming.open("rb") as raw:
            stream = ProgressReader(raw, incoming.stat().st_size, upload_id)
            checked = uploads.check_upload(
                series, stream, filename=upload.filename, user=upload.uploaded_by, counted=True
            )
    except Exception:
        # Not re-raised: a retry would fail the same way, and the page must show an outcome.
        log.exception("background check of upload %s failed", upload_id)
        _fail(upload_id, "The file could not be checked (an internal error); upload it again.")
        return UploadStatus.FAILED
    with transaction.atomic():
        updated = Upload.objects.filter(pk=upload_id, status=UploadStatus.PROCESSING).update(
            **{name: getattr(checked, name) for name in _COPIED_FIELDS},
            progress=100,
            updated_at=timezone.now(),
        )
        # The row check_upload made was only the vehicle; the page shows this one.
        Upload.objects.filter(pk=checked.pk).delete()
    if not updated:  # someone else settled the upload meanwhile: drop what this run kept
        with contextlib.suppress(OSError):
            Path(checked.stored_file).unlink(missing_ok=True)
    incoming.unlink(missing_ok=True)
    return checked.status


def start_background_confirm(upload: Upload) -> Upload:
    """Mark a checked upload PROCESSING and queue its storing; a second click finds it taken."""
    with transaction.atomic():
        claimed = Upload.objects.filter(pk=upload.pk, status=UploadStatus.PREVIEW).update(
            status=UploadStatus.PROCESSING, progress=0, updated_at=timezone.now()
        )
        if claimed:
            transaction.on_commit(lambda: _hand_over("confirm", upload.pk))
    upload.refresh_from_db()
    return upload


def run_background_confirm(upload_id: int) -> str:
    upload = Upload.objects.filter(pk=upload_id).first()
    if upload is None or upload.status != UploadStatus.PROCESSING:
        return "skipped"
    return uploads.confirm_upload(upload).status


def _fail(upload_id: int, message: str) -> None:
    report = {
        "ok": False,
        "error_count": 1,
        "warning_count": 0,
        "errors": [{"row": None, "column": None, "message": message, "code": "processing_failed"}],
        "warnings": [],
        "summary": {},
    }
    Upload.objects.filter(pk=upload_id, status=UploadStatus.PROCESSING).update(
        status=UploadStatus.FAILED, report=report, updated_at=timezone.now()
    )
