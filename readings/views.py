"""Readings pages: the Uploads list, drop zones that check files and show a preview before anything
is stored, confirm, the row-level report as CSV. (A device's or meter's charts and export are
``readings.views_charts``.)

The HTML flow works without JavaScript (a multi-file form post, then a preview page); with it,
static/js/dropzone.js sends each file on its own (``HX-Request``) and gets the preview card back as
a fragment. Files too big to check inside a request go to a Celery task, polled by htmx.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from devices.models import Device
from homes.models import Meter
from portal.crud import ListFilter, OrgListView, query_ids
from portal.models import Membership, Role
from portal.tenancy import OrgHttpRequest, can, get_for_org_or_404, org_required

from . import charts, services, store
from .forms import ColumnMappingForm
from .models import PENDING_STATUSES, ColumnMapping, Series, Upload, UploadStatus
from .parser import (
    DEFAULT_LIMITS,
    parse_readings,
    report_to_csv,
)
from .parser.report import report_from_dict, time_notes
from .routing import (
    NOT_ID_CHAR,
    Refusal,
    file_stem,
    owner_id,
    owner_label,
    peek_custom_id,
    route_file,
)

# Files above this many bytes are checked by a Celery task rather than in the request: ~200,000
# rows of "2024-01-01T00:00:00-05:00,1.234" (uploads.PROCESS_IN_BACKGROUND_ROWS). A gzip file is
# judged by its compressed size times a typical ratio for interval CSV.
BACKGROUND_BYTES = 6 * 1024 * 1024


GZIP_RATIO = 8


_OWNER_KINDS = ("device", "meter")


def get_owner_for(request: OrgHttpRequest, kind: str, pk: int) -> Device | Meter:
    """The organization's device or meter `pk` (another organization's is a 404)."""
    if kind not in _OWNER_KINDS:
        raise Http404("Unknown kind")
    if kind == "device":
        return get_for_org_or_404(
            Device.objects.select_related("home", "organization"), request.organization, pk=pk
        )
    return get_for_org_or_404(
        Meter.objects.select_related("home", "organization"), request.organization, pk=pk
    )


def get_upload_for(request: OrgHttpRequest, pk: int) -> Upload:
    return get_for_org_or_404(
        Upload.objects.select_related(
            "series__device__home", "series__meter__home", "uploaded_by", "organization"
        ),
        request.organization,
        pk=pk,
    )


def series_of(owner: Device | Meter) -> dict[str, Series]:
    """The owner's series by channel (delivered, received, net), none created."""
    return store.series_of(owner)


def tz_of(owner: Device | Meter) -> str:
    return owner.home.timezone or owner.organization.timezone


def kind_of(owner: Device | Meter) -> str:
    return "device" if isinstance(owner, Device) else "meter"


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _needs_background(upload: UploadedFile) -> bool:
    upload.seek(0)
    magic = upload.read(2)
    upload.seek(0)
    size = upload.size or 0
    return size * (GZIP_RATIO if magic == b"\x1f\x8b" else 1) > BACKGROUND_BYTES


def check_file(user: Any, owner: Device | Meter, upload: UploadedFile) -> Upload | Refusal:
    """Check one file for `owner`, uploaded by `user`: here and now, or (a big file) in a Celery
    task. A file over the parser's size limit is refused before anything is kept of it. (The
    pages and the public API's check both come here.)"""
    if (upload.size or 0) > DEFAULT_LIMITS.max_bytes:
        return Refusal(
            upload.name or "file",
            f"It is larger than {DEFAULT_LIMITS.max_bytes // (1 << 20)} MB, the limit for one "
            "upload; split it into several files (one per year, say).",
        )
    series = services.series_for(owner)
    filename = (upload.name or "upload.csv")[:255]
    upload.seek(0)
    try:
        return services.check_file(
            series,
            upload,
            filename=filename,
            user=user,
            in_background=_needs_background(upload),
        )
    except services.PendingUploadsFull as exc:
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
            "readings/_upload_results.html",
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
def uploads_check(request: OrgHttpRequest) -> HttpResponse:
    """The Uploads page's drop zone: each file goes to the device or meter it names."""
    files = _files_of(request)
    if not files:
        return _no_files(request, reverse("upload_list"))
    results: list[Upload | Refusal] = []
    for upload in files:
        owner = route_file(request.organization, upload)
        results.append(
            owner if isinstance(owner, Refusal) else check_file(request.user, owner, upload)
        )
    return _results_response(request, results, reverse("upload_list"))


@require_POST
@org_required(Role.MEMBER)
def readings_check(request: OrgHttpRequest, pk: int, kind: str) -> HttpResponse:
    """A device's or meter's drop zone: every file is for this record (a customId column naming
    another record refuses the file)."""
    owner = get_owner_for(request, kind, pk)
    files = _files_of(request)
    if not files:
        return _no_files(request, owner.get_absolute_url())
    results: list[Upload | Refusal] = []
    for upload in files:
        in_column = peek_custom_id(upload)
        if in_column is not None and in_column[0].lower() != owner_id(owner).lower():
            results.append(
                Refusal(
                    upload.name or "file",
                    f"Its customId column names '{in_column[0]}' (row {in_column[1]}), not "
                    f"{owner_label(owner)}; upload it on the Uploads page or on that record's "
                    "page.",
                )
            )
            continue
        results.append(check_file(request.user, owner, upload))
    return _results_response(request, results, owner.get_absolute_url())


def _no_files(request: HttpRequest, back: str) -> HttpResponse:
    message = "Choose one or more CSV files first."
    if _is_htmx(request):
        return HttpResponseBadRequest(message)
    messages.error(request, message)
    return redirect(back)


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
    mapping_form: ColumnMappingForm | None = None  # a header no layout knows: map its columns
    channels: list[dict[str, Any]] | None = None  # of a file that fills or names its channels
    net_kwh: float | None = None  # delivered minus received, when the file has both
    # A file whose only errors are row errors: the rows it may be stored without ("1, 471"),
    # offered while it waits for confirmation, and those it was stored without.
    skippable: str = ""
    skipped: str = ""
    skip_count: int = 0
    can_skip: bool = False


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
    bucket = charts.preview_bucket(upload.first_instant, upload.last_instant)
    channels = [
        {**row, "label": charts.CHANNEL_LABELS.get(row.get("channel"), row.get("channel"))}
        for row in summary.get("channels") or []
    ]
    totals = {row.get("channel"): row.get("total_kwh") or 0.0 for row in channels}
    net_kwh = (
        totals["delivered"] - totals["received"]
        if "delivered" in totals and "received" in totals
        else None
    )
    return Card(
        upload=upload,
        owner=owner,
        kind=kind_of(owner),
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
        notes=time_notes(summary, zone),
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
        skippable=_rows_text(report.get("skippable_rows") or []),
        skipped=_rows_text(report.get("skipped_rows") or []),
        skip_count=len(report.get("skippable_rows") or report.get("skipped_rows") or []),
        can_skip=(
            upload.status == UploadStatus.PREVIEW
            and bool(report.get("skippable_rows"))
            and can(request, Role.MEMBER)
        ),
        expires_at=(
            upload.updated_at + timedelta(seconds=settings.UPLOAD_PENDING_TTL_S)
            if upload.status in PENDING_STATUSES and upload.stored_file and upload.updated_at
            else None
        ),
        processing=processing,
        stage="storing" if summary else "checking",
        chart_url=reverse("upload_chart", args=[upload.pk]) if charted else "",
        chart_kind="line" if bucket == "hour" else "bars",
        chart_label=charts.PREVIEW_LABELS[bucket],
        channels=channels,
        net_kwh=net_kwh,
        mapping_form=_mapping_form(request, upload, summary),
    )


def _mapping_form(
    request: HttpRequest, upload: Upload, summary: dict[str, Any]
) -> ColumnMappingForm | None:
    header = tuple(summary.get("header") or ())
    codes = {issue.get("code") for issue in (upload.report or {}).get("errors") or []}
    if not header or "missing_columns" not in codes or not can(request, Role.MEMBER):
        return None
    guess_time = next(
        (n for n in header if any(w in n.lower() for w in ("time", "date", "start", "interval"))),
        header[0],
    )
    guess_value = next(
        (n for n in header if any(w in n.lower() for w in ("kwh", "energy", "usage", "wh"))),
        header[-1],
    )
    return ColumnMappingForm(
        header=header,
        initial={"time_column": guess_time, "value_column": guess_value, "unit": "kWh"},
    )


@require_POST
@org_required(Role.MEMBER)
def upload_mapping(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Save how to read the header of a file refused for it: the next file with this header (this
    one dropped again, say) is read with it."""
    upload = get_upload_for(request, pk)
    header = tuple((upload.report or {}).get("summary", {}).get("header") or ())
    if not header:
        messages.error(request, f"{upload.filename} has no header to map.")
        return redirect("upload_detail", upload.pk)
    form = ColumnMappingForm(request.POST, header=header)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        messages.error(request, f"The column mapping was not saved: {problems}")
        return redirect("upload_detail", upload.pk)
    data = form.cleaned_data
    services.save_column_mapping(
        request.organization.pk,
        header,
        time_column=data["time_column"],
        value_column=data["value_column"],
        unit=data["unit"],
        channel=data["channel"],
        timezone_name=data["timezone"],
        user=request.user,
    )
    messages.success(
        request,
        f"Saved: files whose header is {', '.join(header)[:200]} are now read with time in "
        f"'{data['time_column']}' and energy in '{data['value_column']}' ({data['unit']}). "
        f"Drop {upload.filename} again to check it.",
    )
    return redirect(upload.series.owner.get_absolute_url())


@require_POST
@org_required(Role.MEMBER)
def column_mapping_forget(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Forget a saved column mapping (another organization's is a 404)."""
    mapping = get_for_org_or_404(ColumnMapping, request.organization, pk=pk)
    services.forget_column_mapping(mapping)
    messages.success(
        request,
        f"Forgotten: files whose header is {mapping.header[:200]} are no longer read with a saved "
        "mapping; the next one asks for its columns again.",
    )
    return redirect(f"{reverse('upload_list')}#mappings")


class UploadList(OrgListView):
    """The organization's uploads, newest first, with the multi-file drop zone."""

    model = Upload
    template_name = "readings/uploads.html"
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
        context["mappings"] = ColumnMapping.objects.filter(
            organization=self.request.organization
        ).order_by("header")[:100]
        context["can_forget"] = can(self.request, Role.MEMBER)
        return context


@require_GET
@org_required(Role.VIEWER)
def upload_detail(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """An upload's card; an expired or discarded one offers its record's drop zone to upload the
    file again."""
    upload = get_upload_for(request, pk)
    card = _card(request, upload)
    return render(
        request,
        "readings/upload_detail.html",
        {
            "card": card,
            "page_timezone": card.tz,
            "org_tz": request.organization.timezone,
            "reupload": upload.status in (UploadStatus.EXPIRED, UploadStatus.DISCARDED),
        },
    )


@require_GET
@org_required(Role.VIEWER)
def upload_progress(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """htmx polls this while a big file is processed: the card again, which stops polling once
    the upload is no longer processing."""
    upload = get_upload_for(request, pk)
    return render(request, "readings/_upload_preview.html", {"card": _card(request, upload)})


@require_POST
@org_required(Role.MEMBER)
def upload_confirm(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Store a checked upload's readings (all or nothing); a big one in a Celery task."""
    upload = get_upload_for(request, pk)
    report = upload.report or {}
    offered = tuple(report.get("skippable_rows") or ())
    # A file with bad rows is stored only by the explicit choice, naming the rows it skips.
    chosen = offered if offered and request.POST.get("skip_rows") == _rows_text(offered) else ()
    if upload.status != UploadStatus.PREVIEW or (report.get("ok") is not True and not chosen):
        message = f"{upload.filename} can't be stored: it is {upload.get_status_display().lower()}."
        if upload.status == UploadStatus.PREVIEW:
            message = (
                f"{upload.filename} has errors: choose to store its valid rows and skip "
                f"row{'s' if len(offered) > 1 else ''} {_rows_text(offered)}, or fix the file."
            )
        if _is_htmx(request):
            return render(
                request,
                "readings/_upload_preview.html",
                {"card": _card(request, upload), "card_error": message},
                status=409,
            )
        messages.error(request, message)
        return redirect("upload_detail", upload.pk)
    upload = services.confirm_upload(upload, chosen)
    if _is_htmx(request):
        return render(request, "readings/_upload_preview.html", {"card": _card(request, upload)})
    if upload.status == UploadStatus.STORED:
        messages.success(
            request,
            f"Stored {upload.filename}: {upload.inserted:,} new, {upload.updated:,} changed, "
            f"{upload.unchanged:,} unchanged readings.",
        )
    return redirect("upload_detail", upload.pk)


def _rows_text(rows: tuple[int, ...] | list[int]) -> str:
    return ", ".join(map(str, rows))


@require_POST
@org_required(Role.MEMBER)
def upload_discard(request: OrgHttpRequest, pk: int) -> HttpResponse:
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
            request, "readings/_upload_preview.html", context, status=200 if discarded else 409
        )
    if discarded:
        messages.success(request, message)
    else:
        messages.error(request, message)
    return redirect("upload_detail", upload.pk)


@require_GET
@org_required(Role.VIEWER)
def upload_chart(request: OrgHttpRequest, pk: int) -> JsonResponse:
    """The chart of an upload's readings: parsed from the kept file while it waits for
    confirmation, read from the database once stored (cached per file)."""
    upload = get_upload_for(request, pk)
    series = upload.series
    channels = [c["channel"] for c in (upload.report or {}).get("summary", {}).get("channels", [])]
    if upload.status == UploadStatus.STORED and upload.first_instant and upload.last_instant:
        owned = series_of(series.owner)
        parts = [
            (channel, charts.stored_payload(one, upload.first_instant, upload.last_instant))
            for channel, one in charts.ordered_channels(owned)
            if channel in (channels or [series.channel])
        ]
        if not parts:
            parts = [
                (
                    series.channel,
                    charts.stored_payload(series, upload.first_instant, upload.last_instant),
                )
            ]
        return JsonResponse(charts.merge_payloads(parts))
    kept = Path(upload.stored_file) if upload.stored_file else None
    if upload.status != UploadStatus.PREVIEW or kept is None or not kept.is_file():
        return JsonResponse({"error": "This upload has no readings to chart."}, status=404)
    key = f"upload-chart:{upload.pk}:{upload.sha256}:{series.timezone}"
    payload = cache.get(key)
    if payload is None:
        with kept.open("rb") as stream:
            parsed = parse_readings(
                stream,
                tz=series.timezone,
                filename=upload.filename,
                context=store.context_for(series),
                mappings=store.mappings_of(series.organization_id),
            )
        payload = charts.merge_payloads(
            [
                (channel, charts.readings_payload(*readings.arrays(), series.timezone))
                for channel, readings in parsed.by_channel()
            ]
        )
        cache.set(key, payload, 3600)
    return JsonResponse(payload)


@require_GET
@org_required(Role.VIEWER)
def upload_report_csv(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Every stored error and warning as CSV (formulas neutralised by report_to_csv)."""
    upload = get_upload_for(request, pk)
    response = HttpResponse(
        report_to_csv(report_from_dict(upload.report or {}, upload.filename)),
        content_type="text/csv; charset=utf-8",
    )
    stem = NOT_ID_CHAR.sub("-", file_stem(upload.filename))[:80] or "upload"
    response["Content-Disposition"] = f'attachment; filename="{stem}-report.csv"'
    return response


__all__ = [
    "UploadList",
    "readings_check",
    "upload_chart",
    "upload_confirm",
    "upload_detail",
    "upload_discard",
    "upload_mapping",
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
    waiting = Upload.objects.filter(
        organization=membership.organization, status=UploadStatus.PREVIEW
    ).count()
    return {"uploads": uploads, "waiting": waiting}
