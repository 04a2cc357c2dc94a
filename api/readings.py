"""/api/v1/ interval data: upload a file to a device or meter (one step, `dry_run` for the preview
report only; or check now and confirm later, as the Uploads page does), query by range and
resolution, export as CSV; the uploads and their reports. Through readings/services.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from django.db import models
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.params import Path

from devices.models import Device
from homes.models import Meter
from portal.tenancy import get_for_org_or_404
from readings import charts
from readings import services as reading_services
from readings.models import Upload, UploadStatus
from readings.routing import Refusal
from readings.views import check_file, series_of, tz_of
from readings.views_api import upload_outcome

from .auth import key_of, needs
from .binding import paginate
from .errors import ERRORS, ApiError, ErrorOut, invalid
from .models import Scope
from .schemas import (
    MAX_ID,
    Page,
    ReadingsOut,
    RejectedOut,
    UploadDetailOut,
    UploadOut,
    UploadOutcomeOut,
)

router = Router(tags=["readings"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
NO_FILE = "Attach the file of readings in the 'file' field (multipart/form-data)."


def _device(request: HttpRequest, pk: int) -> Device:
    return get_for_org_or_404(
        Device.objects.select_related("home", "organization"), key_of(request).organization, pk=pk
    )


def _meter(request: HttpRequest, pk: int) -> Meter:
    return get_for_org_or_404(
        Meter.objects.select_related("home", "organization"), key_of(request).organization, pk=pk
    )


# --- upload -------------------------------------------------------------------------------------
def _import(
    request: HttpRequest, owner: Device | Meter, file: UploadedFile | None, dry_run: bool
) -> Any:
    if file is None:
        raise invalid({"file": [NO_FILE]})
    series = reading_services.series_for(owner)
    try:
        upload = reading_services.import_readings(
            series, file, filename=file.name or "", user=key_of(request).created_by, dry_run=dry_run
        )
    except OSError as exc:
        raise invalid({"file": ["The uploaded file could not be read; send it again."]}) from exc
    outcome = upload_outcome(upload)
    if upload.status == UploadStatus.REJECTED:
        messages = [_issue_text(issue) for issue in outcome["errors"]]
        detail = (
            f"{upload.filename} was not stored: {outcome['error_count']:,} errors. {messages[0]}"
        )
        return Status(422, {"detail": detail, "errors": {"file": messages}, "report": outcome})
    return Status(200, outcome)


def _issue_text(issue: dict[str, Any]) -> str:
    """ "Row N, column: message", as the import pages list them."""
    if not issue["row"]:
        return issue["message"]
    where = f"Row {issue['row']}" + (f", {issue['column']}" if issue["column"] else "")
    return f"{where}: {issue['message']}"


UPLOAD_RESPONSES: dict[int, Any] = {200: UploadOutcomeOut, **ERRORS, 422: RejectedOut}


@router.post("/devices/{pk}/readings", response=UPLOAD_RESPONSES, auth=needs(Scope.READINGS))
def upload_device_readings(
    request: HttpRequest,
    pk: Id,
    file: File[UploadedFile | None] = None,
    dry_run: Form[bool] = False,
) -> Any:
    """Check a file of hourly readings and, when it has no error, store it (all or nothing).
    `dry_run=true` stores nothing and answers the same report. A rejected file is a 422 whose
    `errors` name each row and column."""
    return _import(request, _device(request, pk), file, dry_run)


@router.post("/meters/{pk}/readings", response=UPLOAD_RESPONSES, auth=needs(Scope.READINGS))
def upload_meter_readings(
    request: HttpRequest,
    pk: Id,
    file: File[UploadedFile | None] = None,
    dry_run: Form[bool] = False,
) -> Any:
    """As for a device: the meter's consumption."""
    return _import(request, _meter(request, pk), file, dry_run)


def _check(request: HttpRequest, owner: Device | Meter, file: UploadedFile | None) -> Any:
    if file is None:
        raise invalid({"file": [NO_FILE]})
    result = check_file(key_of(request).created_by, owner, file)
    if isinstance(result, Refusal):
        raise invalid({"file": [result.message]})
    return Status(202, _upload_row(result))


@router.post(
    "/devices/{pk}/readings/check", response={202: UploadOut, **ERRORS}, auth=needs(Scope.READINGS)
)
def check_device_readings(
    request: HttpRequest, pk: Id, file: File[UploadedFile | None] = None
) -> Any:
    """Check a file and keep it for confirmation (`POST /uploads/{id}/confirm`), as the Uploads
    page does; a big file is checked in the background (poll `GET /uploads/{id}`)."""
    return _check(request, _device(request, pk), file)


@router.post(
    "/meters/{pk}/readings/check", response={202: UploadOut, **ERRORS}, auth=needs(Scope.READINGS)
)
def check_meter_readings(
    request: HttpRequest, pk: Id, file: File[UploadedFile | None] = None
) -> Any:
    return _check(request, _meter(request, pk), file)


# --- query and export ----------------------------------------------------------------------------
class ReadingsQuery(Schema):
    start: str | None = Field(
        None, description="First day, YYYY-MM-DD (default: 31 days before `end`)"
    )
    end: str | None = Field(
        None, description="Last day, included (default: the last day with data)"
    )
    resolution: Literal["hour", "day", "month"] = "hour"
    zone: Literal["local", "utc"] = Field(
        "local", description="Days and months in the record's time zone (its home's) or in UTC."
    )
    channel: Literal["delivered", "received", "net"] = Field(
        "delivered",
        description="Which readings: delivered (a meter's import, a device's output), received "
        "(a meter's export) or net.",
    )


def _readings(owner: Device | Meter, record_type: str, query: ReadingsQuery) -> dict[str, Any]:
    channels = series_of(owner)
    series = channels.get(query.channel)
    tz = tz_of(owner) if query.zone == "local" else "UTC"
    max_days = None if query.resolution == "month" else charts.MAX_RANGE_DAYS
    try:
        span = charts.series_range(
            charts.series_bounds(channels), tz, query.start, query.end, max_days=max_days
        )
        if query.resolution == "month" and span.days > charts.MAX_MONTHS * 31:
            raise charts.RangeError(f"Choose at most {charts.MAX_MONTHS} months at a time.")
    except charts.RangeError as exc:
        raise invalid({"start" if "start" in str(exc) else "end": [str(exc)]}) from exc
    zone = ZoneInfo(tz)
    points: list[dict[str, Any]] = []
    if series is not None and query.resolution == "hour":
        epochs, values = charts.hourly_points(series, span)
        points = [
            {
                "start": datetime.fromtimestamp(e, UTC).astimezone(zone).isoformat(),
                "value_kwh": v,
                "hours": 1,
                "expected_hours": 1,
            }
            for e, v in zip(epochs, values, strict=True)
        ]
    elif series is not None:
        if query.resolution == "day":
            buckets = charts.daily_totals(series, span)
        else:
            # The calendar months the range touches, whole.
            bounds = charts.Bounds(span.start_utc, span.end_utc - timedelta(seconds=1), 0)
            buckets = charts.monthly_totals(series, tz, bounds)
        points = [
            {
                "start": b.start.isoformat(),
                "value_kwh": round(b.value_kwh, 6),
                "hours": b.hours,
                "expected_hours": b.expected_hours,
            }
            for b in buckets
        ]
    return {
        "record_type": record_type,
        "record_id": owner.pk,
        "timezone": tz,
        "resolution": query.resolution,
        "start": span.start.isoformat(),
        "end": span.end.isoformat(),
        "points": points,
    }


@router.get("/devices/{pk}/readings", response={200: ReadingsOut, **ERRORS}, auth=needs(Scope.READ))
def device_readings(request: HttpRequest, pk: Id, query: Query[ReadingsQuery]) -> Any:
    """Hourly readings, or kWh per day or month with the hours present and expected (a
    daylight-saving day has 23 or 25)."""
    return _readings(_device(request, pk), "device", query)


@router.get("/meters/{pk}/readings", response={200: ReadingsOut, **ERRORS}, auth=needs(Scope.READ))
def meter_readings(request: HttpRequest, pk: Id, query: Query[ReadingsQuery]) -> Any:
    return _readings(_meter(request, pk), "meter", query)


class ExportQuery(Schema):
    start: str | None = Field(
        None, description="First local day, YYYY-MM-DD (default: the first reading)"
    )
    end: str | None = Field(
        None, description="Last local day, included (default: the last reading)"
    )


def _export(owner: Device | Meter, query: ExportQuery) -> StreamingHttpResponse:
    series = series_of(owner)
    start_utc = end_utc = None
    if query.start or query.end:
        try:
            span = charts.series_range(
                charts.series_bounds(series), tz_of(owner), query.start, query.end, max_days=None
            )
        except charts.RangeError as exc:
            raise invalid({"start" if "start" in str(exc) else "end": [str(exc)]}) from exc
        start_utc = span.start_utc if query.start else None
        end_utc = span.end_utc if query.end else None
    rows = (
        charts.export_rows(series, start_utc, end_utc) if series else iter(["datetime,value_kwh\n"])
    )
    return StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")


CSV_RESPONSE = {
    200: {
        "description": "`datetime,value_kwh` with the site's UTC offsets",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/devices/{pk}/readings.csv",
    response=ERRORS,
    auth=needs(Scope.READ),
    openapi_extra={"responses": CSV_RESPONSE},
)
def export_device_readings(
    request: HttpRequest, pk: Id, query: Query[ExportQuery]
) -> StreamingHttpResponse:
    """The readings as CSV, the format uploads take back unchanged."""
    return _export(_device(request, pk), query)


@router.get(
    "/meters/{pk}/readings.csv",
    response=ERRORS,
    auth=needs(Scope.READ),
    openapi_extra={"responses": CSV_RESPONSE},
)
def export_meter_readings(
    request: HttpRequest, pk: Id, query: Query[ExportQuery]
) -> StreamingHttpResponse:
    return _export(_meter(request, pk), query)


# --- uploads -------------------------------------------------------------------------------------
def _upload_row(upload: Upload) -> dict[str, Any]:
    series = upload.series
    return {
        **{
            f: getattr(upload, f)
            for f in (
                "id",
                "filename",
                "status",
                "rows",
                "inserted",
                "updated",
                "unchanged",
                "first_instant",
                "last_instant",
                "size_bytes",
                "created_at",
                "updated_at",
                "stored_at",
            )
        },
        "record_type": "device" if series.device_id else "meter",
        "record_id": series.device_id or series.meter_id,
    }


def _uploads(request: HttpRequest) -> models.QuerySet[Upload]:
    return Upload.objects.filter(organization=key_of(request).organization).select_related("series")


class UploadQuery(Schema):
    status: UploadStatus | None = None
    device: int | None = Field(None, ge=1, le=MAX_ID)
    meter: int | None = Field(None, ge=1, le=MAX_ID)
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=100)


@router.get(
    "/uploads", response={200: Page[UploadOut], **ERRORS}, auth=needs(Scope.READ), tags=["uploads"]
)
def list_uploads(request: HttpRequest, filters: Query[UploadQuery]) -> Any:
    rows = _uploads(request)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.device:
        rows = rows.filter(series__device_id=filters.device)
    if filters.meter:
        rows = rows.filter(series__meter_id=filters.meter)
    page = paginate(rows, filters.cursor, filters.limit)
    page["items"] = [_upload_row(upload) for upload in page["items"]]
    return page


def _one_upload(request: HttpRequest, pk: int) -> Upload:
    return get_for_org_or_404(_uploads(request), key_of(request).organization, pk=pk)


@router.get(
    "/uploads/{pk}",
    response={200: UploadDetailOut, **ERRORS},
    auth=needs(Scope.READ),
    tags=["uploads"],
)
def get_upload(request: HttpRequest, pk: Id) -> Any:
    """An upload and its report: every error and warning by row, and how the file was read."""
    upload = _one_upload(request, pk)
    return {**_upload_row(upload), "report": upload.report or {}}


@router.post(
    "/uploads/{pk}/confirm",
    response={202: UploadOut, 409: ErrorOut, **ERRORS},
    auth=needs(Scope.READINGS),
    tags=["uploads"],
)
def confirm_upload(
    request: HttpRequest,
    pk: Id,
    skip_rows: Annotated[
        str,
        Query(
            description="A file with row errors: the rows its report offers to skip "
            "(`skippable_rows`), comma-separated, to store the valid rest without them."
        ),
    ] = "",
) -> Any:
    """Store a checked upload (a big one in the background: poll it until `stored`)."""
    upload = _one_upload(request, pk)
    if upload.status != UploadStatus.PREVIEW:
        raise ApiError(
            409,
            f"This upload is {upload.get_status_display().lower()}: only a checked one waiting for confirmation can be stored.",
        )
    report = upload.report or {}
    offered = tuple(report.get("skippable_rows") or ())
    parts = [part.strip() for part in skip_rows.split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise invalid({"skip_rows": ["Row numbers separated by commas, e.g. 471 or 471,502."]})
    named = tuple(int(part) for part in parts)
    if report.get("ok") is not True and (not offered or named != offered):
        rows = ",".join(map(str, offered))
        raise ApiError(
            409,
            f"{upload.filename} has errors: confirm with skip_rows={rows} to store its valid "
            "rows without them, or fix the file."
            if offered
            else f"{upload.filename} has errors: fix the file and upload it again.",
        )
    chosen = offered if report.get("ok") is not True else ()
    return Status(202, _upload_row(reading_services.confirm_upload(upload, chosen)))


@router.post(
    "/uploads/{pk}/discard",
    response={200: UploadOut, 409: ErrorOut, **ERRORS},
    auth=needs(Scope.READINGS),
    tags=["uploads"],
)
def discard_upload(request: HttpRequest, pk: Id) -> Any:
    """Throw away a checked upload waiting for confirmation (its file is deleted)."""
    upload = reading_services.discard_upload(_one_upload(request, pk))
    if upload.status != UploadStatus.DISCARDED:
        raise ApiError(
            409, f"This upload is {upload.get_status_display().lower()}: it cannot be discarded."
        )
    return _upload_row(upload)
