"""Store hourly readings: the one pipeline behind the upload page, the JSON API, the command and tasks.

A file goes through :func:`devices.readings_csv.parse_readings` (pure: the report and the hourly
series), then, only when the report has no error, through :func:`store_readings`, which writes the
series idempotently in one transaction and announces the changed range (``readings_changed``) in
that same transaction so ``integrations`` queues the platforms that take data.

Two ways in, one pipeline:

- ``check_upload`` then ``confirm_upload``: the upload page's preview step keeps the raw file under
  ``DATA_DIR/uploads/`` and stores it once the user confirms (``PROCESS_IN_BACKGROUND_ROWS`` tells
  the page when to hand the confirmation to a Celery task). The files kept for confirmation count
  against the organization's ``UPLOAD_PENDING_MAX_BYTES_PER_ORG`` (:func:`reserve_pending_bytes`)
  and are deleted when not confirmed within ``UPLOAD_PENDING_TTL_S``
  (``devices.services.expire_pending_uploads``);
- ``import_readings``: one step, for the command and the JSON API.

On PostgreSQL rows move by binary ``COPY`` (DESIGN.md, "Storing readings"); every other backend
(SQLite for the embedded default) takes a generic ORM path that gives the same counts.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import struct
import tempfile
from array import array
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from operator import lt
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import psycopg
from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Max, Min, Sum
from django.utils import timezone
from psycopg import pq
from psycopg.adapt import Dumper

from homes.models import Meter
from portal.models import Organization
from portal.signals import readings_changed

from .models import PENDING_STATUSES, Device, Reading, Series, SeriesQuantity, Upload, UploadStatus
from .readings_csv import (
    DEFAULT_LIMITS,
    HourlyReadings,
    Issue,
    ParseResult,
    Report,
    SeriesContext,
    Sink,
    parse_readings,
)

__all__ = [
    "PROCESS_IN_BACKGROUND_ROWS",
    "PendingUploadsFull",
    "StoreCounts",
    "check_upload",
    "confirm_upload",
    "context_for",
    "import_readings",
    "lock_series_before_delete",
    "pending_bytes",
    "pending_cutoff",
    "report_to_dict",
    "reserve_pending_bytes",
    "series_for",
    "store_readings",
    "uploads_dir",
]

# Above this many hourly readings the upload page confirms in a Celery task: a request should not
# hold a worker for the ~seconds a decade of data takes to parse and store.
PROCESS_IN_BACKGROUND_ROWS = 200_000

# Rows per COPY buffer and per comparison query: bounds memory (~40 bytes a row) whatever the file.
_CHUNK_ROWS = 65_536
# Rows per read of existing values on the generic path.
_GENERIC_CHUNK_ROWS = 10_000
_READ_BYTES = 1 << 20

# PostgreSQL's binary formats (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4):
# a timestamptz is int64 microseconds since 2000-01-01 UTC, every field is preceded by its length.
_PG_EPOCH_S = 946_684_800
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_COPY_TRAILER = b"\xff\xff"
_FIELD8 = struct.pack(">i", 8)
_ZERO8 = bytes(8)
_TIMESTAMPTZ_OID = 1184
_FLOAT8_OID = 701
_TIMESTAMPTZ_ARRAY_OID = 1185
_FLOAT8_ARRAY_OID = 1022
_TEMP_TABLE = "gridfolio_incoming_readings"

_CONFIRMABLE = {UploadStatus.PREVIEW, UploadStatus.PROCESSING, UploadStatus.FAILED}
# Its file is gone for good: confirming it again answers the upload as it is.
_GONE = {UploadStatus.STORED, UploadStatus.EXPIRED, UploadStatus.DISCARDED}


@dataclass(frozen=True, slots=True)
class StoreCounts:
    """What storing a series did: every reading of the file is exactly one of the three."""

    inserted: int
    updated: int
    unchanged: int

    @property
    def changed(self) -> int:
        return self.inserted + self.updated

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass(frozen=True, slots=True)
class _Outcome:
    counts: StoreCounts
    changed_from: int | None  # epoch seconds of the first and last reading that changed
    changed_to: int | None


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------


def series_for(owner: Device | Meter) -> Series:
    """The series of a device (generation or savings) or a meter (consumption), created on first use."""
    if isinstance(owner, Device):
        lookup: dict[str, Any] = {"device": owner}
        quantity = SeriesQuantity.GENERATION
    elif isinstance(owner, Meter):
        lookup = {"meter": owner}
        quantity = SeriesQuantity.CONSUMPTION
    else:
        raise TypeError(f"readings belong to a device or a meter, not {type(owner).__name__}")
    related = type(owner).series.related
    if related.is_cached(owner) and related.get_cached_value(owner) is not None:
        # Loaded with select_related("series") by the caller: no query.
        series = related.get_cached_value(owner)
    else:
        series, _ = Series.objects.get_or_create(
            **lookup, defaults={"organization_id": owner.organization_id, "quantity": quantity}
        )
    # The caller's instance (with its home loaded) serves series.owner and series.timezone.
    for name, value in lookup.items():
        setattr(series, name, value)
    return series


def context_for(series: Series) -> SeriesContext:
    """What the parser's plausibility warnings need to know about the series' device."""
    device = series.device if series.device_id else None
    if device is None:
        # A meter's consumption has no nameplate or night rule; its number is its file's id.
        return SeriesContext(custom_id=series.meter.meter_number)
    try:
        nameplate_kw = device.nameplate_kw
    except (TypeError, ValueError):
        nameplate_kw = None  # a malformed detail must not stop an upload; it only skips a warning
    return SeriesContext(
        kind=device.kind,
        nameplate_kw=nameplate_kw,
        commenced_on=device.commenced_operation_date,
        custom_id=device.custom_id,
    )


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def report_to_dict(report: Report) -> dict[str, Any]:
    """The parser's report as JSON-safe data (Upload.report, the API, the preview page)."""
    summary = report.summary
    summary_dict = {
        field.name: _jsonable(getattr(summary, field.name)) for field in fields(summary)
    }
    summary_dict["expected_hours"] = summary.expected_hours
    summary_dict["coverage"] = summary.coverage
    return {
        "ok": report.ok,
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "errors": [_issue_dict(issue) for issue in report.errors],
        "warnings": [_issue_dict(issue) for issue in report.warnings],
        "summary": summary_dict,
    }


def _issue_dict(issue: Issue) -> dict[str, Any]:
    return {"row": issue.row, "column": issue.column, "message": issue.message, "code": issue.code}


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


# --------------------------------------------------------------------------------------------
# Uploads
# --------------------------------------------------------------------------------------------


class _Tee:
    """A binary stream read once: for the parser, the sha256, the size and (optionally) a kept copy."""

    def __init__(self, source: BinaryIO, sink: BinaryIO | None = None) -> None:
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


def _parse(series: Series, stream: Any, filename: str, sink: Sink | None = None) -> ParseResult:
    return parse_readings(
        stream, tz=series.timezone, filename=filename, context=context_for(series), sink=sink
    )


def _parse_and_store(
    series: Series, stream: Any, filename: str, using: str
) -> tuple[ParseResult, StoreCounts | None]:
    """Parse a file and, when it passes, store it: one pass, in the caller's transaction.

    The counts are None when the file was rejected (nothing written). On PostgreSQL, when the
    file starts after the series' last stored reading (a first upload, the next month), its
    rows are COPYed into the readings batch by batch while the rest of the file is parsed, so
    the database works while the parser reads (:class:`_StreamingCopy`); a savepoint takes it
    back if the file then turns out to have an error or to need the whole-file fixes (sorting,
    duplicates, resampling). Otherwise the parsed series goes through :func:`store_readings`'
    paths.
    """
    db = connections[using]
    before = _lock_series(series, using)
    sink = None
    if db.vendor == "postgresql":
        db.ensure_connection()
        sink = _StreamingCopy(db, using, series.pk, before.last_instant)
    try:
        result = _parse(series, stream, filename, sink)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    if not result.ok:
        if sink is not None:
            sink.abort()
        return result, None
    epochs, values = result.readings.arrays()
    if sink is not None and sink.finish(epochs, values):
        outcome = _Outcome(StoreCounts(len(epochs), 0, 0), epochs[0], epochs[-1])
    else:
        outcome = _write(db, using, series.pk, epochs, values)
    if epochs:
        _after_store(series, before, outcome, epochs[0], epochs[-1], using)
    return result, outcome.counts


def _new_upload(series: Series, result: ParseResult, tee: _Tee, filename: str, user: Any) -> Upload:
    summary = result.report.summary
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
        status=UploadStatus.PREVIEW if result.ok else UploadStatus.REJECTED,
        report=report_to_dict(result.report),
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
    series: Series, fileobj: BinaryIO, *, filename: str, user: Any, counted: bool = False
) -> Upload:
    """Parse and validate a file; record it as PREVIEW (kept for confirmation) or REJECTED.

    Nothing is written to the readings. The file is copied aside while it is parsed (one read),
    and kept as ``DATA_DIR/uploads/<upload id>.bin`` only when it passed, and only when the
    organization's unconfirmed uploads have room for it (else :class:`PendingUploadsFull`, with
    nothing kept or recorded). ``counted``: the file's bytes already count against that room (the
    background check of an upload ``tasks.start_background_check`` accepted).
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
            result = _parse(series, tee, filename)
            tee.drain(keep=result.ok)
        upload = _new_upload(series, result, tee, filename, user)
        using = router.db_for_write(Upload)
        with transaction.atomic(using=using):
            if result.ok and not counted:
                reserve_pending_bytes(series.organization_id, tee.size, using=using)
            upload.save()
            if result.ok:
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
            with kept.open("rb") as stream:
                result, counts = _parse_and_store(series, stream, locked.filename, using)
            summary = result.report.summary
            locked.report = report_to_dict(result.report)
            locked.rows = summary.readings
            locked.first_instant = summary.first
            locked.last_instant = summary.last
            if counts is not None:
                _mark_stored(locked, counts)
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
    fileobj: BinaryIO,
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
        result = _parse(series, tee, filename)
        tee.drain(keep=False)
        return _new_upload(series, result, tee, filename, user)
    using = router.db_for_write(Upload)
    with transaction.atomic(using=using):
        result, counts = _parse_and_store(series, tee, filename, using)
        tee.drain(keep=False)
        upload = _new_upload(series, result, tee, filename, user)
        if counts is not None:
            _mark_stored(upload, counts)
        upload.save(using=using)
    return upload


def _mark_stored(upload: Upload, counts: StoreCounts) -> None:
    upload.status = UploadStatus.STORED
    upload.inserted, upload.updated, upload.unchanged = (
        counts.inserted,
        counts.updated,
        counts.unchanged,
    )
    upload.stored_at = timezone.now()
    upload.progress = 100


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


def store_readings(series: Series, readings: HourlyReadings) -> StoreCounts:
    """Write a series' hourly readings idempotently, in one transaction, and count what happened.

    New instants are inserted, instants whose value differs are updated, equal ones are left
    alone (no write, no dead tuple). The series' first/last instant and count follow, and
    ``readings_changed`` announces the range that changed, only when something did. The series
    row is locked for the transaction, so concurrent stores of one series run one after the
    other and the counts are exact. Inside a caller's transaction no savepoint is taken: an
    error rolls the caller's transaction back too.
    """
    epochs, values = readings.arrays()
    if len(epochs) != len(values):
        raise ValueError("readings: the epochs and values columns differ in length")
    if not epochs:
        return StoreCounts(0, 0, 0)
    # The parser's contract; checked because the fast paths below rely on it (a C-speed pass).
    if not all(map(lt, epochs, islice(epochs, 1, None))):
        raise ValueError("readings must be sorted by instant without duplicates")
    using = router.db_for_write(Reading)
    db = connections[using]
    # No savepoint when nested (the upload's transaction): an error here fails the whole upload
    # anyway, and a savepoint costs two round trips per file.
    with transaction.atomic(using=using, savepoint=False):
        before = _lock_series(series, using)
        outcome = _write(db, using, series.pk, epochs, values)
        _after_store(series, before, outcome, epochs[0], epochs[-1], using)
    return outcome.counts


def _lock_series(series: Series, using: str) -> Series:
    """Lock the series row for the transaction (concurrent stores of one series queue up, so
    counts are exact); its stored range and count as they are now."""
    return (
        Series.objects.using(using)
        .select_for_update(no_key=True)
        .only("first_instant", "last_instant", "reading_count")
        .get(pk=series.pk)
    )


def _write(
    db: BaseDatabaseWrapper, using: str, series_id: int, epochs: array[int], values: array[float]
) -> _Outcome:
    if db.vendor == "postgresql":
        return _store_copy(db, series_id, epochs, values)
    return _store_generic(using, series_id, epochs, values)


def _after_store(
    series: Series, before: Series, outcome: _Outcome, first: int, last: int, using: str
) -> None:
    """The series' range and count follow; ``readings_changed`` announces what changed."""
    _update_series(series, before, outcome.counts, first, last, using)
    if outcome.counts.changed:
        readings_changed.send(
            sender=Series,
            series=series,
            start=_utc(outcome.changed_from),
            end=_utc(outcome.changed_to),
        )


def lock_series_before_delete(sender: type[Series], instance: Series, **kwargs: Any) -> None:
    """``pre_delete`` receiver for Series (connect it in DevicesConfig.ready()).

    Waits for a store_readings of the series to commit before the deletion goes on, so Django's
    cascade (one DELETE by series_id, run after the pre_delete signals, with a fresh snapshot)
    removes every row that store wrote. With the foreign key in the database the deletion would
    otherwise fail at commit; without it (as proposed for the load speed) it would leave rows.
    """
    if instance.pk is None:
        return
    using = kwargs.get("using") or router.db_for_write(Series)
    list(
        Series.objects.using(using)
        .select_for_update()
        .filter(pk=instance.pk)
        .values_list("pk", flat=True)
    )


def _update_series(
    series: Series, before: Series, counts: StoreCounts, first: int, last: int, using: str
) -> None:
    """Keep first/last/count current without a count(*) over the series: every instant of the
    file is in the table now, and exactly ``inserted`` rows are new."""
    existed = counts.updated + counts.unchanged
    if before.reading_count < existed or (existed and before.first_instant is None):
        # Rows were written outside this service: recount once, then the increments hold again.
        totals = Reading.objects.using(using).filter(series_id=series.pk)
        aggregate = totals.aggregate(count=Count("*"), first=Min("instant"), last=Max("instant"))
        values = {
            "reading_count": aggregate["count"],
            "first_instant": aggregate["first"],
            "last_instant": aggregate["last"],
        }
    elif counts.inserted:
        first_at, last_at = _utc(first), _utc(last)
        values = {
            "reading_count": before.reading_count + counts.inserted,
            "first_instant": min(before.first_instant, first_at)
            if before.first_instant
            else first_at,
            "last_instant": max(before.last_instant, last_at) if before.last_instant else last_at,
        }
    else:
        return
    Series.objects.using(using).filter(pk=series.pk).update(**values, updated_at=timezone.now())
    for name, value in values.items():
        setattr(series, name, value)


def _utc(epoch: int | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


# ---- PostgreSQL: binary COPY --------------------------------------------------------------


def _store_copy(
    db: BaseDatabaseWrapper, series_id: int, epochs: array[int], values: array[float]
) -> _Outcome:
    """The PostgreSQL path, chunk by chunk of the file, the cheapest case first:

    1. One query compares the stored rows in the chunk's range with the chunk: two array
       equalities, server-side, the chunk sent as binary array parameters. The same data again
       costs one range read of the primary key and writes nothing.
    2. The same query found no stored row in the range (a first upload, the next month): COPY
       straight into the readings table, no staging, no conflict handling.
    3. Otherwise the chunk goes through a temporary table: COPY it in, then one statement joins
       it with the readings, counts the new and changed rows exactly and upserts only those.
    """
    db.ensure_connection()
    table = db.ops.quote_name(Reading._meta.db_table)
    copy_into_readings = f"COPY {table} (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
    # array_agg sees the rows in the subquery's (the primary key's) order: PostgreSQL documents
    # this as what "usually" happens. Were it ever otherwise, the equality fails and the chunk
    # takes the exact path (3): the shortcut can be missed, never wrong. An ORDER BY inside
    # array_agg would sort the rows again on PostgreSQL 15 (~2x the cost of this query).
    compare = (
        "SELECT count(*), coalesce(array_agg(instant) = %s AND array_agg(value_kwh) = %s, false)"  # noqa: S608
        f" FROM (SELECT instant, value_kwh FROM {table}"
        " WHERE series_id = %s::int8 AND instant BETWEEN %s AND %s"
        " ORDER BY series_id, instant) AS stored"
    )
    inserted = updated = unchanged = 0
    changed_from: int | None = None
    changed_to: int | None = None
    staging = False
    # Django's own cursors bind parameters client-side (as text); binary array parameters need
    # a server-binding cursor. It shares the connection, so it is in the same transaction.
    with psycopg.Cursor(db.connection) as cursor:
        cursor.adapters.register_dumper(_TimestamptzArray, _TimestamptzArrayDumper)
        cursor.adapters.register_dumper(_Float8Array, _Float8ArrayDumper)
        for start in range(0, len(epochs), _CHUNK_ROWS):
            chunk_epochs = epochs[start : start + _CHUNK_ROWS]
            size = len(chunk_epochs)
            micros = _be_micros(chunk_epochs)
            doubles = _be_doubles(values[start : start + _CHUNK_ROWS])
            cursor.execute(
                compare,
                (
                    _TimestamptzArray(_binary_array(_TIMESTAMPTZ_OID, micros, size)),
                    _Float8Array(_binary_array(_FLOAT8_OID, doubles, size)),
                    series_id,
                    _utc(chunk_epochs[0]),
                    _utc(chunk_epochs[-1]),
                ),
            )
            existing, same = cursor.fetchone()
            if same:
                unchanged += size
                continue
            if existing == 0:
                _copy_rows(
                    cursor, copy_into_readings, _row_template(series_id), micros, doubles, size
                )
                inserted += size
                new_from, new_to = chunk_epochs[0], chunk_epochs[-1]
            else:
                if staging:
                    cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
                else:
                    # ON COMMIT DROP is the safety net; it is dropped below so that a second
                    # store in the same transaction can create it again.
                    cursor.execute(
                        f"CREATE TEMPORARY TABLE {_TEMP_TABLE}"
                        " (instant timestamptz NOT NULL, value_kwh float8 NOT NULL) ON COMMIT DROP"
                    )
                    staging = True
                _copy_rows(
                    cursor,
                    f"COPY {_TEMP_TABLE} (instant, value_kwh) FROM STDIN (FORMAT BINARY)",
                    _row_template(None),
                    micros,
                    doubles,
                    size,
                )
                new_rows, changed_rows, first_changed, last_changed = _upsert_from_staging(
                    cursor, table, series_id
                )
                inserted += new_rows
                updated += changed_rows
                unchanged += size - new_rows - changed_rows
                if first_changed is None:
                    continue
                new_from, new_to = _epoch(first_changed), _epoch(last_changed)
            changed_from = new_from if changed_from is None else min(changed_from, new_from)
            changed_to = new_to if changed_to is None else max(changed_to, new_to)
        if staging:
            cursor.execute(f"DROP TABLE {_TEMP_TABLE}")
    return _Outcome(StoreCounts(inserted, updated, unchanged), changed_from, changed_to)


class _Abandoned(Exception):
    """Sent to PostgreSQL as the reason a streaming COPY stops (its CopyFail message)."""


class _StreamingCopy:
    """The parser's sink on PostgreSQL: each batch of rows is COPYed into the readings as it is
    read, so the server stores one batch while the parser reads the next.

    It starts (a savepoint, then a binary COPY) only when the first batch begins after the
    series' last stored instant: a sorted file then collides with nothing. :meth:`finish`
    keeps the rows only when the COPY succeeded and the parser's final series is exactly what
    was sent (same rows, same order: digests of both columns); anything else (an error found
    later, rows the whole-file checks sorted, dropped or resampled, a unique violation because
    the file was not in order) rolls back to the savepoint, and the caller stores the final
    series the usual way.
    """

    def __init__(
        self, db: BaseDatabaseWrapper, using: str, series_id: int, last_instant: datetime | None
    ) -> None:
        self.db = db
        self.using = using
        self.template = _row_template(series_id)
        self.after = None if last_instant is None else _epoch(last_instant)
        self.state = "idle"  # -> "copying" -> "done", or "off" (declined, or rolled back)
        self.rows = 0
        self.epoch_digest = hashlib.blake2b(digest_size=20)
        self.value_digest = hashlib.blake2b(digest_size=20)
        self.savepoint: str | None = None
        self.cursor: psycopg.Cursor | None = None
        self.stack = contextlib.ExitStack()
        self.copy: Any = None

    def __call__(self, epochs: array[int], values: array[float]) -> None:
        if self.state == "idle":
            if self.after is not None and epochs[0] <= self.after:
                self.state = "off"
                return
            self.savepoint = transaction.savepoint_create(using=self.using)
            self.cursor = self.stack.enter_context(psycopg.Cursor(self.db.connection))
            table = self.db.ops.quote_name(Reading._meta.db_table)
            self.copy = self.stack.enter_context(
                self.cursor.copy(
                    f"COPY {table} (series_id, instant, value_kwh) FROM STDIN (FORMAT BINARY)"
                )
            )
            self.state = "copying"
            self.copy.write(_COPY_SIGNATURE)
        if self.state != "copying":
            return
        try:
            self.copy.write(
                _interleave(self.template, len(epochs), _be_micros(epochs), _be_doubles(values))
            )
        except psycopg.Error:
            self._roll_back()
            return
        self.rows += len(epochs)
        self.epoch_digest.update(epochs)
        self.value_digest.update(values)

    def finish(self, epochs: array[int], values: array[float]) -> bool:
        """True when the rows are stored: the COPY ended well and sent exactly this series."""
        if self.state != "copying":
            return False
        if (
            self.rows != len(epochs)
            or self.epoch_digest.digest() != hashlib.blake2b(epochs, digest_size=20).digest()
            or self.value_digest.digest() != hashlib.blake2b(values, digest_size=20).digest()
        ):
            self._roll_back()
            return False
        try:
            self.copy.write(_COPY_TRAILER)
            self.stack.close()  # ends the COPY: waits for the server, raises what it refused
        except psycopg.Error:
            self._roll_back()
            return False
        transaction.savepoint_commit(self.savepoint, using=self.using)
        self.state = "done"
        return True

    def abort(self) -> None:
        if self.state == "copying":
            self._roll_back()

    def _roll_back(self) -> None:
        # CopyFail ends the COPY if it is still open; the server's own error (a unique
        # violation) may surface instead. Either way the savepoint undoes what was sent.
        with contextlib.suppress(psycopg.Error, _Abandoned):
            self.stack.__exit__(_Abandoned, _Abandoned("the file is stored another way"), None)
        self.stack = contextlib.ExitStack()
        transaction.savepoint_rollback(self.savepoint, using=self.using)
        self.state = "off"


def _upsert_from_staging(
    cursor: Any, table: str, series_id: int
) -> tuple[int, int, datetime | None, datetime | None]:
    """One statement: the rows that differ (new or another value) are counted and upserted.

    The data-modifying CTE and the final SELECT see the same snapshot, so ``changed`` is what
    was there before the upsert; with the series row locked nobody else writes this series, so
    the counts are exact (ON CONFLICT ... WHERE still guards a writer that bypasses the lock).
    """
    cursor.execute(
        f"""
        WITH changed AS MATERIALIZED (
            SELECT i.instant, i.value_kwh, r.instant IS NULL AS is_new
            FROM {_TEMP_TABLE} i
            LEFT JOIN {table} r ON r.series_id = %(series)s::int8 AND r.instant = i.instant
            WHERE r.value_kwh IS DISTINCT FROM i.value_kwh
        ), upserted AS (
            INSERT INTO {table} AS r (series_id, instant, value_kwh)
            SELECT %(series)s::int8, instant, value_kwh FROM changed
            ON CONFLICT (series_id, instant) DO UPDATE SET value_kwh = excluded.value_kwh
            WHERE r.value_kwh IS DISTINCT FROM excluded.value_kwh
        )
        SELECT count(*) FILTER (WHERE is_new), count(*) FILTER (WHERE NOT is_new),
               min(instant), max(instant)
        FROM changed
        """,  # noqa: S608 (the table names are the model's, quoted; values are parameters)
        {"series": series_id},
    )
    new_rows, changed_rows, first_changed, last_changed = cursor.fetchone()
    return new_rows, changed_rows, first_changed, last_changed


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _copy_rows(
    cursor: Any, statement: str, template: bytes, micros: bytes, doubles: bytes, n: int
) -> None:
    """One binary COPY of n rows (the caller's chunk keeps the buffer bounded)."""
    with cursor.copy(statement) as copy:
        copy.write(_COPY_SIGNATURE)
        copy.write(_interleave(template, n, micros, doubles))
        copy.write(_COPY_TRAILER)


def _row_template(series_id: int | None) -> bytes:
    """One binary COPY row with zeroed instant and value: (series_id,) instant, value_kwh."""
    if series_id is None:
        return struct.pack(">h", 2) + _FIELD8 + _ZERO8 + _FIELD8 + _ZERO8
    return (
        struct.pack(">h", 3)
        + _FIELD8
        + struct.pack(">q", series_id)
        + _FIELD8
        + _ZERO8
        + _FIELD8
        + _ZERO8
    )


def _interleave(template: bytes, n: int, micros: bytes, doubles: bytes) -> bytearray:
    """``n`` copies of the row template with each row's instant and value written in place.

    The last two fields of the template are the instant and the value; extended-slice
    assignment copies one byte position of every row at once, so the per-row work runs in C
    (~30 ms a million rows) and no tuple is built per row.
    """
    width = len(template)
    value_at = width - 8
    instant_at = value_at - 12
    buffer = bytearray(template) * n
    for k in range(8):
        buffer[instant_at + k :: width] = micros[k::8]
        buffer[value_at + k :: width] = doubles[k::8]
    return buffer


def _be_micros(epochs: array[int]) -> bytes:
    """Epoch seconds as PostgreSQL timestamptz: big-endian int64 microseconds since 2000."""
    seconds = np.frombuffer(epochs, dtype=np.int64) if len(epochs) else np.zeros(0, np.int64)
    return ((seconds - _PG_EPOCH_S) * 1_000_000).astype(">i8").tobytes()


def _be_doubles(values: array[float]) -> bytes:
    doubles = np.frombuffer(values, dtype=np.float64) if len(values) else np.zeros(0)
    return doubles.astype(">f8").tobytes()


def _binary_array(element_oid: int, be_items: bytes, n: int) -> bytes:
    """A one-dimensional PostgreSQL array in binary form, from ``n`` 8-byte big-endian items."""
    header = struct.pack(">iiIii", 1, 0, element_oid, n, 1)  # ndim, has nulls, type, length, lbound
    items = bytearray(_FIELD8 + _ZERO8) * n
    for k in range(8):
        items[4 + k :: 12] = be_items[k::8]
    return header + items


class _TimestamptzArray:
    """A timestamptz[] query parameter, already in binary form."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Float8Array(_TimestamptzArray):
    """A float8[] query parameter, already in binary form."""

    __slots__ = ()


class _TimestamptzArrayDumper(Dumper):
    format = pq.Format.BINARY
    oid = _TIMESTAMPTZ_ARRAY_OID

    def dump(self, obj: _TimestamptzArray) -> bytes:
        return obj.data


class _Float8ArrayDumper(_TimestamptzArrayDumper):
    oid = _FLOAT8_ARRAY_OID


# ---- every other backend: the ORM ----------------------------------------------------------


def _store_generic(
    using: str, series_id: int, epochs: array[int], values: array[float]
) -> _Outcome:
    """The portable path (SQLite): read the stored values of each chunk's range, then
    bulk_create the new rows and update the changed ones. Same counts as the COPY path."""
    db = connections[using]
    table = db.ops.quote_name(Reading._meta.db_table)
    update_sql = f"UPDATE {table} SET value_kwh = %s WHERE series_id = %s AND instant = %s"  # noqa: S608
    inserted = updated = unchanged = 0
    changed_from: int | None = None
    changed_to: int | None = None
    missing = object()
    for start in range(0, len(epochs), _GENERIC_CHUNK_ROWS):
        chunk_epochs = epochs[start : start + _GENERIC_CHUNK_ROWS]
        chunk_values = values[start : start + _GENERIC_CHUNK_ROWS]
        stored = {
            _epoch(instant): value
            for instant, value in Reading.objects.using(using)
            .filter(
                series_id=series_id,
                instant__range=(_utc(chunk_epochs[0]), _utc(chunk_epochs[-1])),
            )
            .values_list("instant", "value_kwh")
            .iterator(chunk_size=_GENERIC_CHUNK_ROWS)
        }
        new_rows: list[Reading] = []
        changed_rows: list[tuple[Any, ...]] = []
        for epoch, value in zip(chunk_epochs, chunk_values, strict=True):
            old = stored.get(epoch, missing)
            if old is missing:
                new_rows.append(Reading(series_id=series_id, instant=_utc(epoch), value_kwh=value))
            elif _same_value(old, value):
                unchanged += 1
                continue
            else:
                changed_rows.append(
                    (value, series_id, db.ops.adapt_datetimefield_value(_utc(epoch)))
                )
            changed_from = epoch if changed_from is None else min(changed_from, epoch)
            changed_to = epoch if changed_to is None else max(changed_to, epoch)
        if new_rows:
            Reading.objects.using(using).bulk_create(new_rows)
            inserted += len(new_rows)
        if changed_rows:
            with db.cursor() as cursor:
                cursor.executemany(update_sql, changed_rows)
            updated += len(changed_rows)
    return _Outcome(StoreCounts(inserted, updated, unchanged), changed_from, changed_to)


def _same_value(old: float, new: float) -> bool:
    # PostgreSQL's float8 equality (what IS DISTINCT FROM uses) holds NaN equal to NaN.
    return old == new or (old != old and new != new)
