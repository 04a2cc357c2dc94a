"""JSON upload endpoints for readings: POST a file (CSV, Green Button XML or CSV) to a device's or
a meter's series.

`Accept: application/json` gets the outcome as JSON (200 stored or preview, 422 rejected, 400 when
the `file` field is missing or unreadable); a browser form post is redirected to the record's page
with a message (the upload page owns the interactive flow).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import BadRequest, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from homes.models import Meter
from portal.models import Role
from portal.tenancy import OrgHttpRequest, get_for_org_or_404, org_required

from .models import Device, Upload, UploadStatus
from .services import import_readings
from .store import series_for

FILE_FIELD = "file"
_TRUE = {"1", "true", "yes", "on"}


@org_required(Role.MEMBER)
@require_POST
def device_readings_upload(request: OrgHttpRequest, pk: int) -> HttpResponse:
    device = get_for_org_or_404(Device.objects.select_related("home"), request.organization, pk=pk)
    return _upload(request, device)


@org_required(Role.MEMBER)
@require_POST
def meter_readings_upload(request: OrgHttpRequest, pk: int) -> HttpResponse:
    meter = get_for_org_or_404(Meter.objects.select_related("home"), request.organization, pk=pk)
    return _upload(request, meter)


def _upload(request: HttpRequest, owner: Device | Meter) -> HttpResponse:
    wants_json = _wants_json(request)
    try:
        uploaded = request.FILES.get(FILE_FIELD)
        dry_run = request.POST.get("dry_run", "").strip().lower() in _TRUE
    except (MultiPartParserError, BadRequest, SuspiciousOperation):
        # A malformed multipart body is the client's problem: say so instead of a 500.
        return _bad_file("The request body is not a readable multipart/form-data upload.")
    if uploaded is None:
        return _bad_file(
            f"Attach the CSV file of readings in the '{FILE_FIELD}' field (multipart/form-data)."
        )
    series = series_for(owner)
    try:
        upload = import_readings(
            series, uploaded, filename=uploaded.name or "", user=request.user, dry_run=dry_run
        )
    except OSError:
        return _bad_file("The uploaded file could not be read; send it again.")
    if wants_json:
        status = 422 if upload.status == UploadStatus.REJECTED else 200
        return JsonResponse(upload_outcome(upload), status=status)
    _message(request, upload)
    return redirect(owner.get_absolute_url())


def _wants_json(request: HttpRequest) -> bool:
    # A browser's Accept ends in */*, which would match JSON too: JSON only when it is preferred.
    return request.get_preferred_type(["text/html", "application/json"]) == "application/json"


def _bad_file(message: str) -> JsonResponse:
    return JsonResponse(
        {"status": "invalid", "field": FILE_FIELD, "errors": {FILE_FIELD: [message]}}, status=400
    )


def _issues(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "row": item["row"],
            "column": item["column"],
            "message": item["message"],
            "code": item["code"],
        }
        for item in items
    ]


def upload_outcome(upload: Upload) -> dict[str, Any]:
    """What became of a file, with the preview report's findings (also the public API's answer)."""
    report = upload.report
    return {
        "status": upload.status,
        "upload_id": upload.pk,
        "rows": upload.rows,
        "inserted": upload.inserted,
        "updated": upload.updated,
        "unchanged": upload.unchanged,
        "first": upload.first_instant.isoformat() if upload.first_instant else None,
        "last": upload.last_instant.isoformat() if upload.last_instant else None,
        "channels": [
            {"channel": row["channel"], "readings": row["readings"], "total_kwh": row["total_kwh"]}
            for row in report["summary"].get("channels") or []
        ],
        "error_count": report["error_count"],
        "warning_count": report["warning_count"],
        "errors": _issues(report["errors"]),
        "warnings": _issues(report["warnings"]),
        "summary": report.get("summary") or {},
    }


def _message(request: HttpRequest, upload: Upload) -> None:
    if upload.status == UploadStatus.STORED:
        messages.success(
            request,
            f"{upload.filename}: {upload.rows:,} hourly readings stored ({upload.inserted:,} new, "
            f"{upload.updated:,} changed, {upload.unchanged:,} unchanged).",
        )
    elif upload.status == UploadStatus.PREVIEW:
        messages.info(
            request, f"{upload.filename}: {upload.rows:,} hourly readings checked; nothing stored."
        )
    else:
        first = upload.report["errors"][0] if upload.report["errors"] else None
        detail = f" First: row {first['row']}: {first['message']}" if first and first["row"] else ""
        if first and not first["row"]:
            detail = f" {first['message']}"
        messages.error(
            request,
            f"{upload.filename} was not stored: {upload.report['error_count']:,} errors.{detail}",
        )
