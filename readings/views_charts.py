"""The readings panel of a device or meter page: its range, charts and coverage heat map, the
chart data (``chart.json``) and the CSV export of its readings."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from django.db.models import QuerySet
from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from devices.models import Device
from portal.models import Role
from portal.tenancy import OrgHttpRequest, org_required

from . import charts, samples
from .models import Series, Upload
from .routing import NOT_ID_CHAR, owner_id
from .views import get_owner_for, series_of, tz_of


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
    # A month fills the readings card (~720 px beside the record at 1366 px); a year is drawn
    # wider and scaled down to the card by CSS (static/css/portal.css .heatmap-svg).
    cell_w = max(3, min(24, 720 // max(len(days), 1)))
    cell_h = 9
    columns = []
    day_labels: list[tuple[int, str]] = []
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
            day_labels.append((x, day.day.strftime("%m-%d")))  # as the charts: 12-07
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


def _recent_uploads(series: dict[str, Series]) -> QuerySet[Upload] | list[Upload]:
    if not series:
        return []
    return Upload.objects.filter(series__in=list(series.values())).order_by("-created_at", "-pk")[
        :5
    ]


def _channel_rows(series: dict[str, Series]) -> list[dict[str, Any]]:
    """The channels an owner has, for the panel's list (only when there is more than one, or it
    is not the delivered one)."""
    ordered = charts.ordered_channels(series)
    if [channel for channel, _ in ordered] in ([], ["delivered"]):
        return []
    return [
        {"channel": channel, "label": charts.CHANNEL_LABELS[channel], "count": one.reading_count}
        for channel, one in ordered
    ]


@require_GET
@org_required(Role.VIEWER)
def readings_panel(request: OrgHttpRequest, pk: int, kind: str) -> HttpResponse:
    """The readings panel of a device or meter page (loaded by htmx): range, charts, heat map."""
    owner = get_owner_for(request, kind, pk)
    series = series_of(owner)
    tz = tz_of(owner)
    bounds = charts.series_bounds(series)
    range_error = ""
    try:
        span = charts.series_range(bounds, tz, request.GET.get("start"), request.GET.get("end"))
    except charts.RangeError as exc:
        range_error = str(exc)
        span = charts.series_range(bounds, tz)
    primary = charts.primary_series(series)
    context: dict[str, Any] = {
        "owner": owner,
        "kind": kind,
        "series": primary,
        "channels": _channel_rows(series),
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
    if primary is not None and bounds.count:
        context["months"] = charts.monthly_totals(primary, tz, bounds)
        context["heat"] = heatmap_layout(charts.coverage(primary, span, bounds), tz)
    return render(request, "readings/_readings_panel.html", context)


@require_GET
@org_required(Role.VIEWER)
def readings_chart(request: OrgHttpRequest, pk: int, kind: str) -> JsonResponse:
    """``chart.json?start=&end=&bucket=hour|day|month|coverage`` for uPlot."""
    owner = get_owner_for(request, kind, pk)
    series = series_of(owner)
    bucket = request.GET.get("bucket", "hour")
    if bucket not in charts.BUCKETS:
        return JsonResponse(
            {"error": f"bucket must be one of {', '.join(charts.BUCKETS)}."}, status=400
        )
    bounds = charts.series_bounds(series)
    try:
        span = charts.series_range(
            bounds, tz_of(owner), request.GET.get("start"), request.GET.get("end")
        )
    except charts.RangeError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(charts.chart_payload(series, span, bucket, bounds))


@require_GET
@org_required(Role.VIEWER)
def readings_csv(request: OrgHttpRequest, pk: int, kind: str) -> HttpResponseBase:
    """``readings.csv?start=&end=`` (local dates, both included; all readings without them):
    ``datetime,value_kwh`` with the site's UTC offsets, streamed; it uploads back unchanged."""
    owner = get_owner_for(request, kind, pk)
    series = series_of(owner)
    tz = tz_of(owner)
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
    name = NOT_ID_CHAR.sub("-", owner_id(owner)).strip("-") or kind
    parts = [name, "readings", *days]
    filename = "-".join(parts)[:120] + ".csv"
    response["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


@require_GET
@org_required(Role.VIEWER)
def readings_sample(request: OrgHttpRequest, pk: int, kind: str) -> HttpResponse:
    """``readings-sample.csv``: a week of example rows for this device or meter, in its zone."""
    owner = get_owner_for(request, kind, pk)
    shape = owner.kind if isinstance(owner, Device) else "meter"
    name = NOT_ID_CHAR.sub("-", owner_id(owner)).strip("-") or kind
    return _csv_download("".join(samples.sample_rows(tz_of(owner), shape)), f"{name}-sample")


@require_GET
@org_required(Role.VIEWER)
def uploads_sample(request: OrgHttpRequest) -> HttpResponse:
    """The Uploads page's sample: a customId column names the device (the organization's first,
    or an example id), times in the organization's zone."""
    device = Device.objects.filter(organization=request.organization).order_by("pk").first()
    custom_id = device.custom_id if device else "SP-0042"
    rows = samples.sample_rows(
        request.organization.timezone, device.kind if device else "solar", custom_id
    )
    return _csv_download("".join(rows), "uploads-sample")


def _csv_download(content: str, stem: str) -> HttpResponse:
    filename = f"{stem[:100]}.csv"
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
