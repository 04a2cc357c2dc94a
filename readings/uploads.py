"""Uploads: check, confirm, import. The one pipeline behind the upload page, the JSON API, the command and tasks.

A file goes through :func:`readings.parser.parse_readings` (pure: the report and the hourly
series), then, only when the report has no error, through :func:`store_readings`, which writes the
series idempotently in one transaction and announces the changed range (``readings_changed``) in
that same transaction so ``integrations`` queues the platforms that take data.

Two ways in, one pipeline:

- ``check_upload`` then ``confirm_upload``: the upload page's preview step keeps the raw file under
  ``DATA_DIR/uploads/`` and stores it once the user confirms (``PROCESS_IN_BACKGROUND_ROWS`` tells
  the page when to hand the confirmation to a Celery task). The files kept for confirmation count
  against the organization's ``UPLOAD_PENDING_MAX_BYTES_PER_ORG`` (:func:`reserve_pending_bytes`)
  and are deleted when not confirmed within ``UPLOAD_PENDING_TTL_S``
  (``readings.services.expire_pending_uploads``);
- ``import_readings``: one step, for the command and the JSON API.

On PostgreSQL rows move by binary ``COPY`` (DESIGN.md, "Storing readings"); every other backend
(SQLite for the embedded default) takes a generic ORM path that gives the same counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, router, transaction
from django.db.models import Sum
from django.utils import timezone

from portal.models import Organization

from .counts import StoreCounts
from .models import PENDING_STATUSES, Series, Upload, UploadStatus
from .parser import (
    DEFAULT_LIMITS,
    ParseResult,
)
from .parser.report import report_to_dict, skippable_rows
from .store import content_key, lock_series, parse_and_store, parse_for, stored_unchanged

__all__ = [
    "PROCESS_IN_BACKGROUND_ROWS",
    "PendingUploadsFull",
    "check_upload",
    "choose_to_skip",
    "confirm_upload",
    "import_readings",
    "pending_bytes",
    "pending_cutoff",
    "reserve_pending_bytes",
    "uploads_dir",
]


# Above this many hourly readings the upload page confirms in a Celery task: a request should not
# hold a worker for the ~seconds a decade of data takes to parse and store.
PROCESS_IN_BACKGROUND_ROWS = 200_000


_READ_BYTES = 1 << 20


_CONFIRMABLE = {UploadStatus.PREVIEW, UploadStatus.PROCESSING, UploadStatus.FAILED}


# Its file is gone for good: confirming it again answers the upload as it is.
_GONE = {UploadStatus.STORED, UploadStatus.EXPIRED, UploadStatus.DISCARDED}


class Readable(Protocol):
    """What a file is read through here: a file opened "rb", an ``UploadedFile``, a
    ``background.ProgressReader``."""

    def read(self, size: int = -1, /) -> bytes: ...


class _Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


class _Tee:
    """A binary stream read once: for the parser, the sha256, the size and (optionally) a kept copy."""

    def __init__(self, source: Readable, sink: _Writable | None = None) -> None:
        self.source = source
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size)
        if chunk:
            if isinstance(chunk, str):
                raise TypeError("readings need a binary stream (open the file with 'rb')")
            self.sha256.update(chunk)
            self.size += len(chunk)
            if self.sink is not None:
                self.sink.write(chunk)
        return chunk

    def drain(self, *, keep: bool) -> None:
        """Read what the parser left (it stops early on a file it rejects), so the hash and size
        describe the whole file; but not past the upload limit, where the file was rejected as
        too large (and a pipe on standard input may never end)."""
        if not keep:
            self.sink = None
        while self.size <= DEFAULT_LIMITS.max_bytes and self.read(_READ_BYTES):
            pass


def _new_upload(
    series: Series,
    result: ParseResult,
    tee: _Tee,
    filename: str,
    user: Any,
    skips: tuple[int, ...] = (),
) -> Upload:
    """`skips`: the rows a person may choose to leave out (a checked file whose only errors are
    row errors waits for that choice instead of being rejected)."""
    summary = result.report.summary
    report = report_to_dict(result.report)
    if skips:
        report["skippable_rows"] = list(skips)
    return Upload(
        organization_id=series.organization_id,
        series=series,
        uploaded_by=user if getattr(user, "is_authenticated", False) else None,
        filename=filename,
        sha256=tee.sha256.hexdigest(),
        size_bytes=tee.size,
        rows=summary.readings,
        first_instant=summary.first,
        last_instant=summary.last,
        status=UploadStatus.PREVIEW if result.ok or skips else UploadStatus.REJECTED,
        report=report,
    )


def _clean_filename(filename: str) -> str:
    # Browsers and scripts may send a path; the record keeps the name as the user knows it.
    name = Path(str(filename or "").replace("\\", "/")).name or "readings.csv"
    return name[:255]


def uploads_dir() -> Path:
    """Where files wait for confirmation (``incoming/`` below it: for a background check)."""
    return Path(settings.DATA_DIR) / "uploads"


class PendingUploadsFull(Exception):
    """A file would take its organization's unconfirmed uploads past
    ``UPLOAD_PENDING_MAX_BYTES_PER_ORG``; the message says what to do."""


def pending_cutoff(now: datetime | None = None) -> datetime:
    """Uploads waiting for confirmation unchanged since before this instant have expired."""
    return (now or timezone.now()) - timedelta(seconds=settings.UPLOAD_PENDING_TTL_S)


def pending_bytes(organization_id: int, *, using: str | None = None) -> int:
    """What the organization's unexpired, unconfirmed uploads hold on disk."""
    total = (
        Upload.objects.using(using or router.db_for_read(Upload))
        .filter(
            organization_id=organization_id,
            status__in=PENDING_STATUSES,
            updated_at__gte=pending_cutoff(),
        )
        .exclude(stored_file="")
        .aggregate(total=Sum("size_bytes"))["total"]
    )
    return int(total or 0)


def reserve_pending_bytes(
    organization_id: int, size_bytes: int, *, using: str | None = None, lock: bool = True
) -> None:
    """Refuse (:class:`PendingUploadsFull`) a file of ``size_bytes`` to keep for confirmation when
    the organization's unconfirmed uploads would hold more than UPLOAD_PENDING_MAX_BYTES_PER_ORG.

    The one check of every file kept for confirmation (the upload pages' checks, in the request
    or in a task). With ``lock`` (inside the transaction that records the upload) the
    organization's row is locked, so two uploads at once cannot both pass on the same room.
    """
    using = using or router.db_for_write(Upload)
    organizations = Organization.objects.using(using).only("name")
    if lock:
        organizations = organizations.select_for_update(no_key=True)
    organization = organizations.get(pk=organization_id)
    limit = settings.UPLOAD_PENDING_MAX_BYTES_PER_ORG
    held = pending_bytes(organization_id, using=using)
    if held + size_bytes <= limit:
        return
    if not held:
        raise PendingUploadsFull(
            f"It is {_size_text(size_bytes)}, more than the {_size_text(limit)} that "
            f"{organization.name}'s checked uploads waiting for confirmation may hold; split it "
            "into smaller files."
        )
    hours = settings.UPLOAD_PENDING_TTL_S / 3600
    raise PendingUploadsFull(
        f"{organization.name}'s checked uploads waiting for confirmation already hold "
        f"{_size_text(held)} of the {_size_text(limit)} they may hold, and this file is "
        f"{_size_text(size_bytes)}. Confirm or discard the uploads waiting on the Uploads page "
        f"(they also expire {hours:g} hours after their last change), then upload this file again."
    )


def _size_text(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):,.1f} MB"
    return f"{n / 1024:,.1f} KB" if n >= 1024 else f"{n:,} bytes"


def check_upload(
    series: Series, fileobj: Readable, *, filename: str, user: Any, counted: bool = False
) -> Upload:
    """Parse and validate a file; record it as PREVIEW (kept for confirmation) or REJECTED.

    Nothing is written to the readings. The file is copied aside while it is parsed (one read),
    and kept as ``DATA_DIR/uploads/<upload id>.bin`` only when it passed, and only when the
    organization's unconfirmed uploads have room for it (else :class:`PendingUploadsFull`, with
    nothing kept or recorded). ``counted``: the file's bytes already count against that room (the
    background check of an upload ``background.start_background_check`` accepted).
    """
    filename = _clean_filename(filename)
    declared = getattr(fileobj, "size", None)
    if not counted and isinstance(declared, int):
        # Refuse a file that cannot fit before reading it; checked again, locked, when kept.
        reserve_pending_bytes(series.organization_id, declared, lock=False)
    directory = uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed in finally)
        dir=directory, prefix=".checking-", suffix=".bin", delete=False
    )
    pending = Path(handle.name)
    kept: Path | None = None
    try:
        with handle:
            tee = _Tee(fileobj, sink=handle)
            result = parse_for(series, tee, filename)
            skips = skippable_rows(result.report)
            keep = result.ok or bool(skips)
            tee.drain(keep=keep)
        upload = _new_upload(series, result, tee, filename, user, skips)
        using = router.db_for_write(Upload)
        with transaction.atomic(using=using):
            if keep and not counted:
                reserve_pending_bytes(series.organization_id, tee.size, using=using)
            upload.save()
            if keep:
                kept = directory / f"{upload.pk}.bin"
                pending.replace(kept)  # same directory: an atomic rename
                upload.stored_file = str(kept)
                upload.save(update_fields=["stored_file"])
        return upload
    except BaseException:
        if kept is not None:
            kept.unlink(missing_ok=True)  # the Upload row rolled back: nothing points at the file
        raise
    finally:
        pending.unlink(missing_ok=True)


def confirm_upload(upload: Upload) -> Upload:
    """Store a checked upload from its kept file; STORED with the counts, the kept file removed.

    A file whose only errors are row errors is stored without those rows when a person chose so
    (:func:`choose_to_skip`): the errors stay in the report, with ``skipped_rows``.

    Idempotent: an upload already stored (or expired, or discarded) is returned as it is. The
    upload row is locked while it is stored, so a double click (or a task retried while the first
    run still works) stores once.
    The file is re-parsed, not trusted from the preview: the home's timezone or the device's
    nameplate may have changed since; a report that now has errors rejects the upload.
    """
    using = router.db_for_write(Upload)
    try:
        with transaction.atomic(using=using):
            locked = (
                Upload.objects.using(using)
                .select_for_update(of=("self",))  # the series row is store_readings' to lock
                .select_related("series")
                .get(pk=upload.pk)
            )
            if locked.status not in _CONFIRMABLE:
                if locked.status in _GONE:
                    return _refresh(upload, locked)
                raise ValueError(
                    f"Upload {locked.pk} is {locked.get_status_display().lower()}; "
                    "only a checked upload can be stored."
                )
            if locked.status == UploadStatus.FAILED and not locked.stored_file:
                return _refresh(upload, locked)  # failed for good: the file is gone
            kept = Path(locked.stored_file) if locked.stored_file else None
            if kept is None or not kept.is_file():
                _fail_missing_file(locked)
                return _refresh(upload, locked)
            series = locked.series
            previewed = locked.report or {}
            # The rows a person chose to leave out (views: "store the valid rows, skip ...").
            chosen = (
                tuple(previewed.get("skippable_rows") or ()) if previewed.get("skip_chosen") else ()
            )
            with kept.open("rb") as stream:
                # The check hashed the whole file (Upload.sha256): no second read for the key.
                key = "" if chosen else content_key(series, locked.sha256)
                before = lock_series(series, using)
                previous = stored_unchanged(series, key, before, using)
                if previous is not None:
                    _store_again(locked, previous, key)
                    locked.stored_file = ""
                    locked.save()
                    transaction.on_commit(lambda: kept.unlink(missing_ok=True), using=using)
                    return _refresh(upload, locked)
                result, counts = parse_and_store(
                    series, stream, locked.filename, using, skip_rows=chosen, locked=before
                )
            summary = result.report.summary
            locked.report = report_to_dict(result.report)
            if counts is not None and not result.ok:
                locked.report["skipped_rows"] = list(chosen)  # the errors stay in the report
            locked.rows = summary.readings
            locked.first_instant = summary.first
            locked.last_instant = summary.last
            if counts is not None:
                _mark_stored(locked, counts)
                _remember_content(locked, result, counts, key, series)
            else:
                locked.status = UploadStatus.REJECTED
            locked.stored_file = ""
            locked.save()
            # Only once the readings are committed: a rollback leaves the file for a retry.
            transaction.on_commit(lambda: kept.unlink(missing_ok=True), using=using)
    except Exception:
        _mark_failed(upload.pk, using)
        raise
    return _refresh(upload, locked)


def choose_to_skip(upload: Upload, rows: tuple[int, ...]) -> bool:
    """Record a person's choice to store a checked upload without its bad rows, `rows` being the
    rows they were shown. False (nothing recorded) when the upload offers no such choice, no
    longer waits for confirmation, or the rows are not the ones it offers."""
    report = dict(upload.report or {})
    offered = tuple(report.get("skippable_rows") or ())
    if not offered or rows != offered:
        return False
    report["skip_chosen"] = True
    updated = Upload.objects.filter(pk=upload.pk, status=UploadStatus.PREVIEW).update(
        report=report, updated_at=timezone.now()
    )
    if updated:
        upload.report = report
    return bool(updated)


def _fail_missing_file(upload: Upload) -> None:
    report = dict(upload.report or {})
    report["ok"] = False
    report["error_count"] = int(report.get("error_count") or 0) + 1
    report["errors"] = [
        *report.get("errors", []),
        {
            "row": None,
            "column": None,
            "message": "The uploaded file is no longer available; upload it again.",
            "code": "file_missing",
        },
    ]
    upload.report = report
    upload.status = UploadStatus.FAILED
    upload.stored_file = ""
    upload.save()


def _mark_failed(pk: int, using: str) -> None:
    """Record that storing failed (the transaction rolled back, nothing was stored) so the page
    shows an outcome; the kept file stays, so confirming again retries."""
    # The row may be written concurrently (a retried task): a conditional update, not a save.
    with contextlib.suppress(DatabaseError):  # the original error is the one worth raising
        pending = Upload.objects.using(using).filter(
            pk=pk, status__in=[UploadStatus.PREVIEW, UploadStatus.PROCESSING]
        )
        report = dict(pending.values_list("report", flat=True).first() or {})
        report["errors"] = [
            *report.get("errors", []),
            {
                "row": None,
                "column": None,
                "message": "Storing the readings failed (an internal error); nothing was "
                "stored. Try again.",
                "code": "store_failed",
            },
        ]
        report["error_count"] = int(report.get("error_count") or 0) + 1
        report["ok"] = False
        pending.update(status=UploadStatus.FAILED, report=report, updated_at=timezone.now())


def _refresh(upload: Upload, source: Upload) -> Upload:
    for field in Upload._meta.concrete_fields:
        setattr(upload, field.attname, getattr(source, field.attname))
    return upload


def import_readings(
    series: Series,
    fileobj: Readable,
    *,
    filename: str,
    user: Any = None,
    dry_run: bool = False,
) -> Upload:
    """Check a file and, when it has no error, store it: the command's and the API's one step.

    A rejected file is recorded (REJECTED) and writes no reading. A dry run writes nothing at all:
    the Upload it returns is not saved (status PREVIEW or REJECTED, ``pk`` None). No file is kept
    either way, so the cap on files waiting for confirmation (:func:`reserve_pending_bytes`) does
    not concern this one-step path.
    """
    filename = _clean_filename(filename)
    tee = _Tee(fileobj)
    if dry_run:
        result = parse_for(series, tee, filename)
        tee.drain(keep=False)
        return _new_upload(series, result, tee, filename, user)
    using = router.db_for_write(Upload)
    with transaction.atomic(using=using):
        before = lock_series(series, using)
        # Only a series holding readings can hold this file already: read it once more for
        # its key then (a first upload is hashed as it is parsed, below).
        key = _content_key(series, fileobj) if before.reading_count else ""
        previous = stored_unchanged(series, key, before, using)
        if previous is not None:
            upload = Upload(
                organization_id=series.organization_id,
                series=series,
                uploaded_by=user if getattr(user, "is_authenticated", False) else None,
                filename=filename,
            )
            _store_again(upload, previous, key)
            upload.save(using=using)
            return upload
        result, counts = parse_and_store(series, tee, filename, using, locked=before)
        tee.drain(keep=False)
        upload = _new_upload(series, result, tee, filename, user)
        if counts is not None:
            _mark_stored(upload, counts)
            _remember_content(upload, result, counts, content_key(series, upload.sha256), series)
        upload.save(using=using)
    return upload


def _content_key(series: Series, fileobj: Readable) -> str:
    """The content key of a file that can be read twice (a file on disk, an uploaded file),
    from where it stands, which is put back; "" for a stream that is read once (standard
    input) or a file over the upload limit (the parser refuses it)."""
    seekable = getattr(fileobj, "seekable", None)
    tell, seek = getattr(fileobj, "tell", None), getattr(fileobj, "seek", None)
    if seekable is None or tell is None or seek is None or not seekable():
        return ""
    start = tell()
    digest = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(_READ_BYTES):
        if isinstance(chunk, str):
            raise TypeError("readings need a binary stream (open the file with 'rb')")
        digest.update(chunk)
        size += len(chunk)
        if size > DEFAULT_LIMITS.max_bytes:
            break
    seek(start)
    return "" if size > DEFAULT_LIMITS.max_bytes else content_key(series, digest.hexdigest())


def _remember_content(
    upload: Upload, result: ParseResult, counts: StoreCounts, key: str, series: Series
) -> None:
    """Keep the content key of a plain hourly CSV stored whole into this one series, with the
    series' revision after it: the same file again finds it (:func:`_store_again`). Files
    read through a column mapping, of several channels or stored without chosen rows are
    always read again."""
    summary = result.report.summary
    if (
        key
        and result.ok
        and summary.source_format == "csv"
        and not summary.channels
        and counts.total == summary.readings
        and summary.readings
    ):
        upload.content_key = key
        upload.series_revision = series.revision


def _store_again(upload: Upload, previous: Upload, key: str) -> None:
    """The same file as ``previous``, which the series still holds unchanged: every reading is
    unchanged, known without reading the file row by row; the report is the earlier one's."""
    upload.sha256 = previous.sha256
    upload.size_bytes = previous.size_bytes
    upload.rows = previous.rows
    upload.first_instant = previous.first_instant
    upload.last_instant = previous.last_instant
    upload.report = {**(previous.report or {}), "same_as_upload": previous.pk}
    upload.content_key = key
    upload.series_revision = previous.series_revision
    _mark_stored(
        upload, StoreCounts(0, 0, previous.inserted + previous.updated + previous.unchanged)
    )


def _mark_stored(upload: Upload, counts: StoreCounts) -> None:
    upload.status = UploadStatus.STORED
    upload.inserted, upload.updated, upload.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    upload.stored_at = timezone.now()
    upload.progress = 100
