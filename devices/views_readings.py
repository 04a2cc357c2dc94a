"""Readings pages: the Uploads list, drop zones that check files and show a preview before anything
is stored, confirm, the row-level report as CSV, and a device's or meter's charts and export.

The HTML flow works without JavaScript (a multi-file form post, then a preview page); with it,
static/js/dropzone.js sends each file on its own (``HX-Request``) and gets the preview card back as
a fragment. Files too big to check inside a request go to a Celery task, polled by htmx.
"""

from __future__ import annotations

import csv
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from homes.models import Meter
from portal.crud import ListFilter, OrgListView, query_ids
from portal.models import Membership, Organization, Role
from portal.tenancy import can, get_for_org_or_404, org_required

from . import charts, readings, services, tasks
from .models import PENDING_STATUSES, Device, Series, Upload, UploadStatus
from .readings_csv import (
    DEFAULT_LIMITS,
    Issue,
    Report,
    Summary,
    parse_readings,
    report_to_csv,
)

# Files above this many bytes are checked by a Celery task rather than in the request: ~200,000
# rows of "2024-01-01T00:00:00-05:00,1.234" (readings.PROCESS_IN_BACKGROUND_ROWS). A gzip file is
# judged by its compressed size times a typical ratio for interval CSV.
BACKGROUND_BYTES = 6 * 1024 * 1024
GZIP_RATIO = 8
_PEEK_BYTES = 64 * 1024
_FILE_SUFFIXES = (".csv.gz", ".txt.gz", ".csv", ".txt", ".gz")
_NOT_ID_CHAR = re.compile(r"[^A-Za-z0-9]")
_OWNER_KINDS = ("device", "meter")


# ---- owners (device or meter) ---------------------------------------------------------------


def get_owner_for(request: HttpRequest, kind: str, pk: int) -> Device | Meter:
    """The organization's device or meter `pk` (another organization's is a 404)."""
    if kind not in _OWNER_KINDS:
        raise Http404("Unknown kind")
    model = Device if kind == "device" else Meter
    return get_for_org_or_404(
        model.objects.select_related("home", "organization"), request.organization, pk=pk
    )


def get_upload_for(request: HttpRequest, pk: int) -> Upload:
    return get_for_org_or_404(
        Upload.objects.select_related(
            "series__device__home", "series__meter__home", "uploaded_by", "organization"
        ),
        request.organization,
        pk=pk,
    )


def _series_of(owner: Device | Meter) -> Series | None:
    try:
        return owner.series
    except Series.DoesNotExist:
        return None


def _tz_of(owner: Device | Meter) -> str:
    return owner.home.timezone or owner.organization.timezone


def _kind_of(owner: Device | Meter) -> str:
    return "device" if isinstance(owner, Device) else "meter"


def _owner_label(owner: Device | Meter) -> str:
    return f"{owner.name} ({owner.custom_id})" if isinstance(owner, Device) else str(owner)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# ---- which device or meter a file is for ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refusal:
    """A file that was not checked at all: it names no device or meter of the organization."""

    filename: str
    message: str


def _file_stem(filename: str) -> str:
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    lowered = name.lower()
    for suffix in _FILE_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _name_candidates(stem: str) -> set[str]:
    """Every piece of the file name that starts and ends at a boundary (the ends of the name or
    a character that is not a letter or digit): "2024_SP-00012_hourly" -> "sp-00012", ..."""
    stem = stem[:200]
    cuts = [m.start() for m in _NOT_ID_CHAR.finditer(stem)][:40]
    starts = {0, *(cut + 1 for cut in cuts)}
    ends = {len(stem), *cuts}
    return {
        stem[start:end].lower()
        for start in starts
        for end in ends
        if 0 < end - start <= 100 and _NOT_ID_CHAR.sub("", stem[start:end])
    }


def _known_ids(organization: Organization, ids: set[str]) -> list[Device | Meter]:
    if not ids:
        return []
    devices = (
        Device.objects.filter(organization=organization)
        .annotate(key=Lower("custom_id"))
        .filter(key__in=ids)
        .select_related("home", "organization")
    )
    meters = (
        Meter.objects.filter(organization=organization)
        .annotate(key=Lower("meter_number"))
        .filter(key__in=ids)
        .select_related("home", "organization")
    )
    return [*devices, *meters]


def _owner_id(owner: Device | Meter) -> str:
    return owner.custom_id if isinstance(owner, Device) else owner.meter_number


def _by_file_name(organization: Organization, filename: str) -> list[Device | Meter]:
    """The records named in the file name; a name inside a longer matching name doesn't count
    ("SP-1" in "SP-1-B.csv" when SP-1-B exists too)."""
    found = _known_ids(organization, _name_candidates(_file_stem(filename)))
    keys = {_owner_id(owner).lower() for owner in found}
    return [
        owner
        for owner in found
        if not any(
            _owner_id(owner).lower() in other and _owner_id(owner).lower() != other
            for other in keys
        )
    ]


def peek_custom_id(fileobj: Any) -> tuple[str, int] | None:
    """The first customId value of the file and its row, from the first 64 KB (gzip too); None
    without a customId column. Reads from the start and rewinds."""
    fileobj.seek(0)
    head = fileobj.read(_PEEK_BYTES)
    fileobj.seek(0)
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _PEEK_BYTES)
        except zlib.error:
            return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()[:-1] if len(head) >= _PEEK_BYTES else text.splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        return None
    header = numbered[0][1]
    for delimiter in (",", ";"):
        names = [name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter))]
        if "customid" in names:
            column = names.index("customid")
            for number, line in numbered[1:]:
                fields = next(csv.reader([line], delimiter=delimiter), [])
                if column < len(fields) and fields[column].strip():
                    return fields[column].strip(), number
            return None
    return None


def route_file(organization: Organization, upload: UploadedFile) -> Device | Meter | Refusal:
    """The device or meter a file on the Uploads page is for: named by its customId column or
    its file name (a device's custom id or a meter's number)."""
    filename = upload.name or "file"
    by_name = _by_file_name(organization, filename)
    in_column = peek_custom_id(upload)
    if in_column is not None:
        value, row = in_column
        matches = _known_ids(organization, {value.lower()})
        if not matches:
            return Refusal(
                filename,
                f"Its customId column names '{value}' (row {row}), which is no device custom id "
                f"or meter number in {organization.name}.",
            )
        if len(matches) > 1:
            return Refusal(
                filename,
                f"'{value}' (customId, row {row}) is both a device's custom id and a meter's "
                "number; upload it from the device's or the meter's page.",
            )
        owner = matches[0]
        if by_name and owner not in by_name:
            return Refusal(
                filename,
                f"Its file name names {_owner_label(by_name[0])} but its customId column names "
                f"'{value}' (row {row}); rename the file or fix the column.",
            )
        return owner
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        named = ", ".join(sorted(_owner_id(owner) for owner in by_name))
        return Refusal(
            filename,
            f"Its file name names several devices or meters ({named}); keep one in the name.",
        )
    return Refusal(
        filename,
        f"It names no device or meter of {organization.name}: put a device's custom id or a "
        "meter's number in the file name (e.g. SP-0042.csv) or in a customId column.",
    )


# ---- checking a file ------------------------------------------------------------------------


def _needs_background(upload: UploadedFile) -> bool:
    upload.seek(0)
    magic = upload.read(2)
    upload.seek(0)
    size = upload.size or 0
    return size * (GZIP_RATIO if magic == b"\x1f\x8b" else 1) > BACKGROUND_BYTES


def check_file(
    request: HttpRequest, owner: Device | Meter, upload: UploadedFile
) -> Upload | Refusal:
    """Check one file for `owner`: here and now, or (a big file) in a Celery task. A file over
    the parser's size limit is refused before anything is kept of it."""
    if (upload.size or 0) > DEFAULT_LIMITS.max_bytes:
        return Refusal(
            upload.name or "file",
            f"It is larger than {DEFAULT_LIMITS.max_bytes // (1 << 20)} MB, the limit for one "
            "upload; split it into several files (one per year, say).",
        )
    series = readings.series_for(owner)
    filename = (upload.name or "upload.csv")[:255]
    upload.seek(0)
    try:
        if _needs_background(upload):
            return tasks.start_background_check(
                series, upload, filename=filename, user=request.user
            )
        return readings.check_upload(series, upload, filename=filename, user=request.user)
    except readings.PendingUploadsFull as exc:
        return Refusal(upload.name or "file", str(exc))


def _files_of(request: HttpRequest) -> list[UploadedFile]:
    return [f for f in request.FILES.getlist("files") if f.name]


def _results_response(
    request: HttpRequest, results: list[Upload | Refusal], fallback_url: str
) -> HttpResponse:
    """htmx/JS: the preview cards as a fragment. A plain form post: a message per refused file,
    then the one preview, or the Uploads page listing the previews just made."""
    if _is_htmx(request):
        return render(
            request,
            "devices/_upload_results.html",
            {"results": [_card(request, r) for r in results]},
            status=200 if any(isinstance(r, Upload) for r in results) else 422,
        )
    uploads = [r for r in results if isinstance(r, Upload)]
    for result in results:
        if isinstance(result, Refusal):
            messages.error(request, f"{result.filename} was not checked. {result.message}")
    if len(uploads) == 1:
        return redirect("upload_detail", uploads[0].pk)
    if uploads:
        return redirect(f"{reverse('upload_list')}?checked={','.join(str(u.pk) for u in uploads)}")
    return redirect(fallback_url)


@require_POST
@org_required(Role.MEMBER)
def uploads_check(request: HttpRequest) -> HttpResponse:
    """The Uploads page's drop zone: each file goes to the device or meter it names."""
    files = _files_of(request)
    if not files:
        return _no_files(request, reverse("upload_list"))
    results: list[Upload | Refusal] = []
    for upload in files:
        owner = route_file(request.organization, upload)
        results.append(owner if isinstance(owner, Refusal) else check_file(request, owner, upload))
    return _results_response(request, results, reverse("upload_list"))


@require_POST
@org_required(Role.MEMBER)
def readings_check(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """A device's or meter's drop zone: every file is for this record (a customId column naming
    another record refuses the file)."""
    owner = get_owner_for(request, kind, pk)
    files = _files_of(request)
    if not files:
        return _no_files(request, owner.get_absolute_url())
    results: list[Upload | Refusal] = []
    for upload in files:
        in_column = peek_custom_id(upload)
        if in_column is not None and in_column[0].lower() != _owner_id(owner).lower():
            results.append(
                Refusal(
                    upload.name,
                    f"Its customId column names '{in_column[0]}' (row {in_column[1]}), not "
                    f"{_owner_label(owner)}; upload it on the Uploads page or on that record's "
                    "page.",
                )
            )
            continue
        results.append(check_file(request, owner, upload))
    return _results_response(request, results, owner.get_absolute_url())


def _no_files(request: HttpRequest, back: str) -> HttpResponse:
    message = "Choose one or more CSV files first."
    if _is_htmx(request):
        return HttpResponseBadRequest(message)
    messages.error(request, message)
    return redirect(back)


# ---- the preview ----------------------------------------------------------------------------


def _parse_instant(value: Any, zone: ZoneInfo | None = None) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(zone) if zone is not None else moment


def _when(value: Any, zone: ZoneInfo) -> str:
    moment = _parse_instant(value, zone)
    return moment.strftime("%a %Y-%m-%d %H:%M %Z") if moment else "—"


def _utc(value: Any) -> str:
    moment = _parse_instant(value, ZoneInfo("UTC"))
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _time_notes(summary: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """What the file means in time, in sentences: resampling, units, duplicates (the gaps and
    the daylight-saving days have their own lists)."""
    notes = []
    minutes = summary.get("source_interval_minutes")
    if summary.get("resampled") and minutes:
        notes.append(
            f"The file has {minutes}-minute readings: each complete hour's {60 // minutes} "
            "readings were summed into one hourly reading (an hour starts at its first reading)."
        )
    elif minutes:
        notes.append("Hourly readings; each timestamp is the start of its hour.")
    if summary.get("unit") == "Wh":
        notes.append("Values are in Wh and were divided by 1,000 into kWh.")
    dropped = summary.get("duplicates_dropped") or 0
    if dropped:
        notes.append(
            f"{dropped:,} repeated row{'s' if dropped != 1 else ''} (same time and same value) "
            f"dropped."
        )
    return notes


def _issues(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return list(items or [])


@dataclass
class Card:
    """What an upload's preview card shows."""

    upload: Upload | None
    refusal: Refusal | None = None
    owner: Device | Meter | None = None
    kind: str = ""
    tz: str = ""
    summary: dict[str, Any] | None = None
    local_range: str = ""
    utc_range: str = ""
    notes: list[str] | None = None
    dst_days: list[dict[str, Any]] | None = None
    gaps: list[dict[str, Any]] | None = None
    errors: list[dict[str, Any]] | None = None
    warnings: list[dict[str, Any]] | None = None
    error_count: int = 0
    warning_count: int = 0
    coverage_percent: str = ""
    can_confirm: bool = False
    can_discard: bool = False
    expires_at: datetime | None = None  # while it waits for confirmation
    processing: bool = False
    stage: str = ""  # while processing: "checking" the file or "storing" the readings
    chart_url: str = ""
    chart_kind: str = "line"
    chart_label: str = "kWh per hour"


def _card(request: HttpRequest, item: Upload | Refusal) -> Card:
    if isinstance(item, Refusal):
        return Card(upload=None, refusal=item)
    upload = item
    owner = upload.series.owner
    tz = upload.series.timezone
    report = upload.report or {}
    summary = report.get("summary") or {}
    zone = ZoneInfo(summary.get("timezone") or tz)
    dst_days = [
        {**day, "weekday": datetime.fromisoformat(str(day["day"])).strftime("%a")}
        for day in summary.get("dst_days") or []
    ]
    gaps = [
        {
            **gap,
            "start_text": _when(gap.get("start"), zone),
            "end_text": _when(gap.get("end"), zone),
        }
        for gap in summary.get("gaps") or []
    ]
    coverage = summary.get("coverage")
    processing = upload.status == UploadStatus.PROCESSING
    charted = summary.get("readings") and (
        upload.status == UploadStatus.STORED
        or (upload.status == UploadStatus.PREVIEW and upload.stored_file)
    )
    hourly = (summary.get("readings") or 0) <= charts.PREVIEW_HOURLY_MAX
    return Card(
        upload=upload,
        owner=owner,
        kind=_kind_of(owner),
        tz=str(zone),
        summary=summary,
        local_range=(
            f"{_when(summary.get('first'), zone)} to {_when(summary.get('last'), zone)}"
            if summary.get("first")
            else ""
        ),
        utc_range=(
            f"{_utc(summary.get('first'))} to {_utc(summary.get('last'))}"
            if summary.get("first")
            else ""
        ),
        notes=_time_notes(summary, zone),
        dst_days=dst_days,
        gaps=gaps,
        errors=_issues(report.get("errors")),
        warnings=_issues(report.get("warnings")),
        error_count=report.get("error_count", 0) or 0,
        warning_count=report.get("warning_count", 0) or 0,
        coverage_percent=f"{coverage * 100:.1f}" if isinstance(coverage, int | float) else "",
        can_confirm=(
            upload.status == UploadStatus.PREVIEW
            and report.get("ok") is True
            and can(request, Role.MEMBER)
        ),
        can_discard=upload.status in services.DISCARDABLE and can(request, Role.MEMBER),
        expires_at=(
            upload.updated_at + timedelta(seconds=settings.UPLOAD_PENDING_TTL_S)
            if upload.status in PENDING_STATUSES and upload.stored_file and upload.updated_at
            else None
        ),
        processing=processing,
        stage="storing" if summary else "checking",
        chart_url=reverse("upload_chart", args=[upload.pk]) if charted else "",
        chart_kind="line" if hourly else "bars",
        chart_label="kWh per hour" if hourly else "kWh per day",
    )


class UploadList(OrgListView):
    """The organization's uploads, newest first, with the multi-file drop zone."""

    model = Upload
    template_name = "devices/uploads.html"
    paginate_by = 50
    search_fields = ("filename", "series__device__custom_id", "series__meter__meter_number")
    filters = (ListFilter("status", "Status", lambda org: list(UploadStatus.choices), "status"),)
    sort_options = {
        "-created": ("Newest", ("-created_at",)),
        "created": ("Oldest", ("created_at",)),
    }
    default_sort = "-created"
    related = ("series__device", "series__meter", "uploaded_by")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        ids = query_ids(self.request.GET.get("checked"), limit=50)
        checked = (
            Upload.objects.filter(organization=self.request.organization, pk__in=ids)
            .select_related("series__device__home", "series__meter__home", "uploaded_by")
            .order_by("pk")
            if ids
            else []
        )
        context["checked_cards"] = [_card(self.request, upload) for upload in checked]
        context["org_tz"] = self.request.organization.timezone
        return context


@require_GET
@org_required(Role.VIEWER)
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An upload's card; an expired or discarded one offers its record's drop zone to upload the
    file again."""
    upload = get_upload_for(request, pk)
    return render(
        request,
        "devices/upload_detail.html",
        {
            "card": _card(request, upload),
            "org_tz": request.organization.timezone,
            "reupload": upload.status in (UploadStatus.EXPIRED, UploadStatus.DISCARDED),
        },
    )


@require_GET
@org_required(Role.VIEWER)
def upload_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """htmx polls this while a big file is processed: the card again, which stops polling once
    the upload is no longer processing."""
    upload = get_upload_for(request, pk)
    return render(request, "devices/_upload_preview.html", {"card": _card(request, upload)})


@require_POST
@org_required(Role.MEMBER)
def upload_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Store a checked upload's readings (all or nothing); a big one in a Celery task."""
    upload = get_upload_for(request, pk)
    report = upload.report or {}
    if upload.status != UploadStatus.PREVIEW or report.get("ok") is not True:
        message = f"{upload.filename} can't be stored: it is {upload.get_status_display().lower()}."
        if _is_htmx(request):
            return render(
                request,
                "devices/_upload_preview.html",
                {"card": _card(request, upload), "card_error": message},
                status=409,
            )
        messages.error(request, message)
        return redirect("upload_detail", upload.pk)
    if upload.rows > readings.PROCESS_IN_BACKGROUND_ROWS:
        upload = tasks.start_background_confirm(upload)
    else:
        upload = readings.confirm_upload(upload)
    if _is_htmx(request):
        return render(request, "devices/_upload_preview.html", {"card": _card(request, upload)})
    if upload.status == UploadStatus.STORED:
        messages.success(
            request,
            f"Stored {upload.filename}: {upload.inserted:,} new, {upload.updated:,} changed, "
            f"{upload.unchanged:,} unchanged readings.",
        )
    return redirect("upload_detail", upload.pk)


@require_POST
@org_required(Role.MEMBER)
def upload_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Throw away an upload waiting for confirmation (its file deleted, nothing stored)."""
    upload = services.discard_upload(get_upload_for(request, pk))
    discarded = upload.status == UploadStatus.DISCARDED
    message = (
        f"Discarded {upload.filename}: its file was deleted and nothing was stored."
        if discarded
        else f"{upload.filename} can't be discarded: it is {upload.get_status_display().lower()}."
    )
    if _is_htmx(request):
        context: dict[str, Any] = {"card": _card(request, upload)}
        if not discarded:
            context["card_error"] = message
        return render(
            request, "devices/_upload_preview.html", context, status=200 if discarded else 409
        )
    if discarded:
        messages.success(request, message)
    else:
        messages.error(request, message)
    return redirect("upload_detail", upload.pk)


@require_GET
@org_required(Role.VIEWER)
def upload_chart(request: HttpRequest, pk: int) -> JsonResponse:
    """The chart of an upload's readings: parsed from the kept file while it waits for
    confirmation, read from the database once stored (cached per file)."""
    upload = get_upload_for(request, pk)
    series = upload.series
    if upload.status == UploadStatus.STORED and upload.first_instant and upload.last_instant:
        return JsonResponse(
            charts.stored_payload(series, upload.first_instant, upload.last_instant)
        )
    kept = Path(upload.stored_file) if upload.stored_file else None
    if upload.status != UploadStatus.PREVIEW or kept is None or not kept.is_file():
        return JsonResponse({"error": "This upload has no readings to chart."}, status=404)
    key = f"upload-chart:{upload.pk}:{upload.sha256}:{series.timezone}"
    payload = cache.get(key)
    if payload is None:
        with kept.open("rb") as stream:
            parsed = parse_readings(stream, tz=series.timezone, filename=upload.filename)
        epochs, values = parsed.readings.arrays()
        payload = charts.readings_payload(epochs, values, series.timezone)
        cache.set(key, payload, 3600)
    return JsonResponse(payload)


@require_GET
@org_required(Role.VIEWER)
def upload_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """Every stored error and warning as CSV (formulas neutralised by report_to_csv)."""
    upload = get_upload_for(request, pk)
    response = HttpResponse(
        report_to_csv(report_from_dict(upload.report or {}, upload.filename)),
        content_type="text/csv; charset=utf-8",
    )
    stem = _NOT_ID_CHAR.sub("-", _file_stem(upload.filename))[:80] or "upload"
    response["Content-Disposition"] = f'attachment; filename="{stem}-report.csv"'
    return response


def report_from_dict(data: dict[str, Any], filename: str = "") -> Report:
    """The stored report JSON back as the parser's Report, for report_to_csv."""

    def issues(items: list[dict[str, Any]] | None, severity: str) -> tuple[Issue, ...]:
        return tuple(
            Issue(
                severity,  # type: ignore[arg-type]
                item.get("row"),
                item.get("column"),
                str(item.get("message", "")),
                str(item.get("code", "")),
            )
            for item in items or []
        )

    errors = issues(data.get("errors"), "error")
    warnings = issues(data.get("warnings"), "warning")
    empty = Summary(
        filename=filename,
        timezone="UTC",
        rows_read=0,
        readings=0,
        first=None,
        last=None,
        first_local=None,
        last_local=None,
        source_interval_minutes=None,
        resampled=False,
        unit="kWh",
        delimiter=",",
        compressed=False,
        custom_ids=(),
        duplicates_dropped=0,
        missing_hours=0,
        gap_count=0,
        gaps=(),
        dst_days=(),
        dst_day_count=0,
    )
    return Report(
        errors,
        warnings,
        max(int(data.get("error_count") or 0), len(errors)),
        max(int(data.get("warning_count") or 0), len(warnings)),
        empty,
    )


# ---- charts and export ----------------------------------------------------------------------


def _heat_fill(css: str) -> str:
    return HEAT_FILLS.get(css, "#adb5bd")


# The heat map's fixed palette: the class names are styled in portal.css when it says so, and
# the same colours are the cells' fill attributes (an SVG presentation attribute, not a style).
HEAT_FILLS = {
    "hm-1": "#cfe2ff",
    "hm-2": "#9ec5fe",
    "hm-3": "#6ea8fe",
    "hm-4": "#3d8bfd",
    "hm-5": "#0a58ca",
    "hm-partial": "#fd7e14",
    "hm-missing": "#dc3545",
    "hm-out": "#f1f3f5",
    "hm-none": "#ced4da",
}
HEAT_LEGEND = (
    ("hm-1", "low kWh"),
    ("hm-3", "medium"),
    ("hm-5", "high"),
    ("hm-missing", "missing"),
    ("hm-partial", "repeated hour with one reading"),
    ("hm-none", "no such hour (clocks go forward)"),
    ("hm-out", "before or after the data"),
)


def heatmap_layout(days: list[charts.HeatDay], tz: str) -> dict[str, Any]:
    """Coordinates of the heat map's SVG: one column per local day, one row per local hour."""
    label_w, top = 40, 16
    cell_w = max(3, min(14, 900 // max(len(days), 1)))
    cell_h = 9
    columns = []
    day_labels = []
    every = max(1, 40 // cell_w)
    for index, day in enumerate(days):
        x = label_w + index * cell_w
        columns.append(
            {
                "x": x,
                "label": day.label,
                "cells": [
                    {"y": top + cell.hour * cell_h, "css": cell.css, "fill": _heat_fill(cell.css)}
                    for cell in day.cells
                ],
            }
        )
        labelled = day.day.day == 1 or (index % every == 0 and index + every <= len(days))
        if labelled and (not day_labels or x - day_labels[-1][0] >= 40):
            day_labels.append((x, day.day.strftime("%b %-d")))
    present = sum(day.present for day in days)
    expected = sum(day.expected - day.outside for day in days)
    short = [day for day in days if day.expected != 24]
    incomplete = [day for day in days if day.missing]
    summary = (
        f"{len(days)} days in {tz}: {present:,} of the {expected:,} hours between the first "
        f"and the last reading have one ({present / expected * 100 if expected else 0:.1f} %)."
    )
    if short:
        summary += (
            " Daylight-saving days: "
            + ", ".join(f"{day.day:%Y-%m-%d} ({day.expected} hours)" for day in short)
            + "."
        )
    return {
        "columns": columns,
        "cell_w": cell_w,
        "cell_h": cell_h,
        "label_w": label_w,
        "width": label_w + len(days) * cell_w + 2,
        "height": top + 24 * cell_h + 2,
        "hour_labels": [
            (top + hour * cell_h + cell_h // 2, f"{hour:02d}:00") for hour in (0, 6, 12, 18)
        ],
        "day_labels": day_labels,
        "legend": [(css, HEAT_FILLS[css], label) for css, label in HEAT_LEGEND],
        "summary": summary,
        "incomplete_days": incomplete[:200],
    }


def _urls(kind: str, pk: int) -> dict[str, str]:
    return {
        "panel_url": reverse(f"{kind}_readings", args=[pk]),
        "chart_url": reverse(f"{kind}_readings_chart", args=[pk]),
        "csv_url": reverse(f"{kind}_readings_csv", args=[pk]),
        "check_url": reverse(f"{kind}_readings_check", args=[pk]),
    }


def _recent_uploads(series: Series | None) -> QuerySet[Upload] | list[Upload]:
    if series is None:
        return []
    return Upload.objects.filter(series=series).order_by("-created_at", "-pk")[:5]


@require_GET
@org_required(Role.VIEWER)
def readings_panel(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """The readings panel of a device or meter page (loaded by htmx): range, charts, heat map."""
    owner = get_owner_for(request, kind, pk)
    series = _series_of(owner)
    tz = _tz_of(owner)
    bounds = charts.series_bounds(series)
    range_error = ""
    try:
        span = charts.series_range(bounds, tz, request.GET.get("start"), request.GET.get("end"))
    except charts.RangeError as exc:
        range_error = str(exc)
        span = charts.series_range(bounds, tz)
    context: dict[str, Any] = {
        "owner": owner,
        "kind": kind,
        "series": series,
        "bounds": bounds,
        "tz": tz,
        "org_tz": request.organization.timezone,
        "span": span,
        "range_error": range_error,
        "max_days": charts.MAX_RANGE_DAYS,
        "uploads": _recent_uploads(series),
        "uid": secrets.token_hex(4),
        **_urls(kind, owner.pk),
    }
    if series is not None and bounds.count:
        context["months"] = charts.monthly_totals(series, tz, bounds)
        context["heat"] = heatmap_layout(charts.coverage(series, span, bounds), tz)
    return render(request, "devices/_readings_panel.html", context)


@require_GET
@org_required(Role.VIEWER)
def readings_chart(request: HttpRequest, pk: int, kind: str) -> JsonResponse:
    """``chart.json?start=&end=&bucket=hour|day|month|coverage`` for uPlot."""
    owner = get_owner_for(request, kind, pk)
    series = _series_of(owner)
    bucket = request.GET.get("bucket", "hour")
    if bucket not in charts.BUCKETS:
        return JsonResponse(
            {"error": f"bucket must be one of {', '.join(charts.BUCKETS)}."}, status=400
        )
    bounds = charts.series_bounds(series)
    try:
        span = charts.series_range(
            bounds, _tz_of(owner), request.GET.get("start"), request.GET.get("end")
        )
    except charts.RangeError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(charts.chart_payload(series, span, bucket, bounds))


@require_GET
@org_required(Role.VIEWER)
def readings_csv(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """``readings.csv?start=&end=`` (local dates, both included; all readings without them):
    ``datetime,value_kwh`` with the site's UTC offsets, streamed; it uploads back unchanged."""
    owner = get_owner_for(request, kind, pk)
    series = _series_of(owner)
    tz = _tz_of(owner)
    start = request.GET.get("start") or None
    end = request.GET.get("end") or None
    start_utc = end_utc = None
    days: list[str] = []  # the validated dates, for the file name (never the raw parameters)
    if start or end:
        try:
            bounds = charts.series_bounds(series)
            span = charts.series_range(bounds, tz, start, end, max_days=None)
        except charts.RangeError as exc:
            return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
        start_utc = span.start_utc if start else None
        end_utc = span.end_utc if end else None
        days = [day.isoformat() for day, asked in ((span.start, start), (span.end, end)) if asked]
    rows = (
        charts.export_rows(series, start_utc, end_utc) if series else iter(["datetime,value_kwh\n"])
    )
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    name = _NOT_ID_CHAR.sub("-", _owner_id(owner)).strip("-") or kind
    parts = [name, "readings", *days]
    filename = "-".join(parts)[:120] + ".csv"
    response["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


__all__ = [
    "UploadList",
    "readings_chart",
    "readings_check",
    "readings_csv",
    "readings_panel",
    "route_file",
    "upload_chart",
    "upload_confirm",
    "upload_detail",
    "upload_discard",
    "upload_progress",
    "upload_report_csv",
    "uploads_check",
]


def recent_uploads(membership: Membership) -> dict[str, Any]:
    """The dashboard's "Recent uploads" panel."""
    uploads = (
        Upload.objects.filter(organization=membership.organization)
        .select_related("series__device", "series__meter")
        .order_by("-created_at")[:8]
    )
    return {"uploads": uploads}
