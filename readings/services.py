"""The write surface of readings: views, commands and tasks write through these.

Checking a file (here, or in a Celery task when it is big), confirming a checked upload (likewise),
importing a file in one step (the JSON API, `manage.py import_readings`), the series a device's or
meter's readings go to, discarding an upload waiting for confirmation, expiring those never
confirmed. The pipeline itself is ``readings.uploads`` (check, confirm, import), ``readings.store``
and ``readings.background`` (the hand-over to a worker).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from . import background, uploads
from .models import (
    PENDING_STATUSES,
    ColumnMapping,
    Readiness,
    ReadinessStatus,
    Series,
    Upload,
    UploadStatus,
)
from .parser import header_key
from .store import series_for
from .sufficiency import compute_sufficiency
from .uploads import PendingUploadsFull, import_readings

__all__ = [
    "PendingUploadsFull",
    "check_file",
    "confirm_upload",
    "discard_upload",
    "expire_pending_uploads",
    "import_readings",
    "refresh_readiness",
    "refresh_stale_readiness",
    "save_column_mapping",
    "series_for",
]

log = logging.getLogger(__name__)


def check_file(
    series: Series, fileobj: Any, *, filename: str, user: Any, in_background: bool
) -> Upload:
    """Check one file for `series`: here and now, or (a big file) in a Celery task while the page
    polls the upload. Raises PendingUploadsFull when the organization's waiting files are at
    their cap; nothing is kept then."""
    if in_background:
        return background.start_background_check(series, fileobj, filename=filename, user=user)
    return uploads.check_upload(series, fileobj, filename=filename, user=user)


def confirm_upload(upload: Upload, skip_rows: tuple[int, ...] = ()) -> Upload:
    """Store a checked upload: here and now, or (many rows) in a Celery task. `skip_rows`: a file
    with bad rows is stored without them, when they are the rows its preview offered to skip
    (the choice is recorded on the upload first, so the task that stores it knows it)."""
    if skip_rows and not uploads.choose_to_skip(upload, skip_rows):
        raise ValueError(
            f"{upload.filename} offers no choice to skip rows {', '.join(map(str, skip_rows))}."
        )
    if upload.rows > uploads.PROCESS_IN_BACKGROUND_ROWS:
        return background.start_background_confirm(upload)
    return uploads.confirm_upload(upload)


def save_column_mapping(
    organization_id: int,
    header: tuple[str, ...],
    *,
    time_column: str,
    value_column: str,
    unit: str,
    channel: str,
    timezone_name: str,
    user: Any,
) -> ColumnMapping:
    """Remember how to read files with this header (one mapping per organization and header:
    saving again replaces it)."""
    with transaction.atomic():
        mapping, _ = ColumnMapping.objects.update_or_create(
            organization_id=organization_id,
            header_key=header_key(header),
            defaults={
                "header": ",".join(header)[:5000],
                "time_column": time_column,
                "value_column": value_column,
                "unit": unit,
                "channel": channel,
                "timezone": timezone_name,
                "created_by": user if getattr(user, "is_authenticated", False) else None,
            },
        )
    return mapping


def forget_column_mapping(mapping: ColumnMapping) -> None:
    """Forget a saved mapping: the next file with its header is refused with the mapping form
    again (files already stored keep their readings)."""
    with transaction.atomic():
        ColumnMapping.objects.filter(
            pk=mapping.pk, organization_id=mapping.organization_id
        ).delete()


# What a member may throw away: a checked upload waiting for confirmation, or one whose storing
# failed (its file is kept for a retry). One being processed is a worker's until it is done.
DISCARDABLE = (UploadStatus.PREVIEW, UploadStatus.FAILED)


@dataclass(frozen=True, slots=True)
class ExpirySweep:
    """What one sweep did."""

    expired: int  # uploads marked expired (their kept files deleted)
    orphans_removed: int  # old files in DATA_DIR/uploads/ that no waiting upload names


def expire_pending_uploads(*, now: datetime | None = None) -> ExpirySweep:
    """Expire every upload that has waited for confirmation longer than UPLOAD_PENDING_TTL_S
    (since its last change): its kept file is deleted and its row marked EXPIRED, so the Uploads
    page still lists it and its page says what happened. Then delete the files of DATA_DIR/uploads/
    older than that which no waiting upload names (a device deleted with its uploads, a process
    killed in the middle of a check).

    One short transaction per upload rather than one for the sweep: an upload being stored (its
    row locked by ``uploads.confirm_upload``) is skipped, not waited for, and one bad row does not
    undo the others.
    """
    now = now or timezone.now()
    cutoff = uploads.pending_cutoff(now)
    overdue = (
        Upload.objects.filter(status__in=PENDING_STATUSES, updated_at__lt=cutoff)
        .exclude(stored_file="")
        .values_list("pk", flat=True)
    )
    expired = sum(_expire(pk, cutoff, now) for pk in list(overdue))
    return ExpirySweep(expired, _remove_orphans(cutoff))


def _expire(pk: int, cutoff: datetime, now: datetime) -> bool:
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update(skip_locked=True)
            .filter(pk=pk, status__in=PENDING_STATUSES, updated_at__lt=cutoff)
            .exclude(stored_file="")
            .first()
        )
        if upload is None:
            return False  # confirmed, discarded, or being stored meanwhile
        kept = upload.stored_file
        Upload.objects.filter(pk=pk).update(
            status=UploadStatus.EXPIRED, stored_file="", progress=0, updated_at=now
        )
        transaction.on_commit(lambda: _remove_kept_file(kept))
    return True


def discard_upload(upload: Upload) -> Upload:
    """Throw away an upload waiting for confirmation: its kept file deleted, its row DISCARDED
    (still listed: the Uploads page keeps the record of what was uploaded and what became of it).
    An upload in another status (stored, or taken by a worker meanwhile) is returned unchanged:
    the caller tells by its status.
    """
    with transaction.atomic():
        locked = Upload.objects.select_for_update(of=("self",)).get(pk=upload.pk)
        if locked.status in DISCARDABLE:
            kept = locked.stored_file
            locked.status = UploadStatus.DISCARDED
            locked.stored_file = ""
            locked.progress = 0
            locked.save(update_fields=["status", "stored_file", "progress", "updated_at"])
            if kept:
                transaction.on_commit(lambda: _remove_kept_file(kept))
    for field in ("status", "stored_file", "progress", "updated_at"):
        setattr(upload, field, getattr(locked, field))
    return upload


def _remove_kept_file(name: str) -> bool:
    """Delete a file an upload kept, only if it is under DATA_DIR/uploads/ (the column is ours,
    but a path out of it is not worth trusting to an unlink)."""
    path = Path(name)
    try:
        if not path.resolve().is_relative_to(uploads.uploads_dir().resolve()):
            log.warning("not deleting %s: it is outside DATA_DIR/uploads/", name)
            return False
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not delete the kept upload file %s", name, exc_info=True)
        return False
    return True


def _remove_orphans(cutoff: datetime) -> int:
    root = uploads.uploads_dir()
    limit = cutoff.timestamp()
    old = [
        path
        for folder in (root, root / "incoming")
        if folder.is_dir()
        for path in folder.glob("*.bin")
        if _modified_before(path, limit)
    ]
    if not old:
        return 0
    named = {
        Path(name).resolve()
        for name in Upload.objects.filter(status__in=PENDING_STATUSES)
        .exclude(stored_file="")
        .values_list("stored_file", flat=True)
    }
    return sum(_remove_kept_file(str(path)) for path in old if path.resolve() not in named)


def _modified_before(path: Path, limit: float) -> bool:
    try:
        return path.is_file() and path.stat().st_mtime < limit
    except OSError:  # removed meanwhile (a confirm, a discard)
        return False


def refresh_readiness(series_id: int) -> Readiness | None:
    """Compute a series' M&V sufficiency and keep the verdict for lists (None: series gone)."""
    series = (
        Series.objects.select_related("device__home", "meter__home", "organization")
        .filter(pk=series_id)
        .first()
    )
    if series is None:
        return None
    verdict = compute_sufficiency(series)
    with transaction.atomic():
        readiness, _ = Readiness.objects.update_or_create(
            series=series,
            defaults={
                "organization_id": series.organization_id,
                "status": ReadinessStatus.READY if verdict.ready else ReadinessStatus.NOT_READY,
                "summary": verdict.summary[:300],
                "failing_months": [f"{m.month:%Y-%m}" for m in verdict.failing_months],
                "checked_at": timezone.now(),
            },
        )
    return readiness


def refresh_stale_readiness(limit: int = 500) -> int:
    """Judge the series whose verdict is missing or older than their last store, at most `limit`
    a call (beat, every minute; the alert check). Not on every store: a verdict is one aggregate
    over the device-year, which would add about a tenth of a second to each ten files imported.
    Returns how many."""
    stale = (
        Series.objects.filter(reading_count__gt=0)
        .filter(Q(readiness__isnull=True) | Q(readiness__checked_at__lt=F("updated_at")))
        .values_list("pk", flat=True)
        .order_by("pk")[:limit]
    )
    return sum(refresh_readiness(pk) is not None for pk in list(stale))
