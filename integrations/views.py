"""The Integrations page (connections, sync board) and the per-record "Sync now" button."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from homes.models import Home
from portal.models import Role
from portal.tenancy import get_for_org_or_404, org_required

from . import engine, prices, services
from .forms import ConnectionForm
from .models import Connection, LinkState, Platform, SyncAttempt, UpstreamLink


@org_required(Role.ADMIN)
def integrations(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    connections = {c.platform: c for c in Connection.objects.filter(organization=organization)}
    counts = (
        UpstreamLink.objects.filter(organization=organization)
        .values("platform", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    board = {platform: {state: 0 for state in LinkState.values} for platform in Platform.values}
    for row in counts:
        board[row["platform"]][row["state"]] = row["n"]
    troubled = (
        UpstreamLink.objects.filter(organization=organization)
        .filter(Q(state__in=[LinkState.FAILED, LinkState.REJECTED]) | ~Q(last_error=""))
        .select_related("content_type")
        .order_by("state", "-updated_at")[:50]
    )
    rows = [
        {
            "platform": value,
            "label": label,
            "connection": connections.get(value),
            "counts": board[value],
        }
        for value, label in Platform.choices
    ]
    return render(
        request,
        "integrations/integrations.html",
        {"rows": rows, "troubled": troubled, "states": LinkState.choices},
    )


@org_required(Role.ADMIN)
def edit_connection(request: HttpRequest, platform: str) -> HttpResponse:
    if platform not in Platform.values:
        raise Http404("Unknown platform")
    organization = request.organization
    connection = Connection.objects.filter(organization=organization, platform=platform).first()
    form = ConnectionForm(
        request.POST or None, instance=connection, organization=organization, platform=platform
    )
    if request.method == "POST" and form.is_valid():
        record = form.save(commit=False)
        services.save_connection(record, **form.credentials())
        messages.success(request, f"{record.get_platform_display()} connection saved.")
        return redirect("integrations")
    return render(
        request,
        "integrations/connection_form.html",
        {"form": form, "platform_label": Platform(platform).label, "connection": connection},
    )


@require_POST
@org_required(Role.ADMIN)
def test_connection(request: HttpRequest, platform: str) -> HttpResponse:
    connection = get_for_org_or_404(Connection, request.organization, platform=platform)
    check = services.test_connection(connection)
    level = messages.SUCCESS if check.ok else messages.ERROR
    messages.add_message(request, level, f"{connection.get_platform_display()}: {check.message}")
    return redirect("integrations")


@require_POST
@org_required(Role.ADMIN)
def retry_failed(request: HttpRequest) -> HttpResponse:
    ids = UpstreamLink.objects.filter(
        organization=request.organization, state__in=[LinkState.FAILED, LinkState.REJECTED]
    ).values_list("pk", flat=True)
    count = engine.retry_links(ids)
    messages.success(request, f"{count} record{'s' if count != 1 else ''} queued again.")
    return redirect("integrations")


@require_POST
@org_required(Role.MEMBER)
def sync_link_now(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    engine.retry_links([link.pk])
    messages.info(request, f"{link.get_platform_display()}: sync queued.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("integrations")
    return redirect(back)


@org_required()
def link_history(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(
        UpstreamLink.objects.select_related("content_type"), request.organization, pk=pk
    )
    attempts = SyncAttempt.objects.filter(link=link)[:200]
    record = link.content_type.model_class()._default_manager.filter(pk=link.object_id).first()
    return render(
        request,
        "integrations/link_history.html",
        {"link": link, "attempts": attempts, "record": record},
    )


@org_required()
def home_prices(request: HttpRequest, pk: int) -> HttpResponse:
    """The price-curve card of a home page (loaded by htmx, so the page never waits on WattShift)."""
    home = get_for_org_or_404(Home, request.organization, pk=pk)
    try:
        curve = prices.price_curve(home)
    except prices.PricesUnavailable as exc:
        return render(request, "integrations/_prices.html", {"home": home, "error": str(exc)})
    chart = {
        "t": [int(moment.timestamp()) for moment, _ in curve.prices],
        "price": [price for _, price in curve.prices],
        "current": curve.current_index,
        "cheapest": [int(curve.cheapest_start.timestamp()), int(curve.cheapest_end.timestamp())],
    }
    context = {
        "home": home,
        "curve": curve,
        "chart": chart,
        "chart_id": f"price-data-{home.pk}",
        "cheapest_start": curve.local(curve.cheapest_start),
        "cheapest_end": curve.local(curve.cheapest_end),
        "current_price": curve.prices[curve.current_index][1]
        if curve.current_index is not None
        else None,
    }
    return render(request, "integrations/_prices.html", context)


def links_for(record: object) -> list[UpstreamLink]:
    return list(
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        ).prefetch_related("chunks")
    )
