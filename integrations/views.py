"""The Integrations page (connections, sync board) and the per-record "Sync now" button."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, Count, ExpressionWrapper, Model
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from devices.models import Device
from homes.models import Customer, Home
from portal.crud import query_id, record_timezone
from portal.models import Membership, Role
from portal.tenancy import OrgHttpRequest, get_for_org_or_404, org_required

from . import prices, services, webhooks
from .adapters.wattics import streams_behind
from .forms import (
    ChargeReportForm,
    ConnectionForm,
    CurrentWebhookForm,
    EnergyUsageReportForm,
    RemoteIdForm,
    SandboxOutageForm,
    SimulationForm,
    WebhookForm,
)
from .models import (
    PROFILE_HELP,
    Connection,
    LinkState,
    Platform,
    Profile,
    SyncAttempt,
    Unsent,
    UpstreamLink,
    WebhookEndpoint,
    WebhookEvent,
    needs_attention,
    retrying,
)


@org_required(Role.ADMIN)
def integrations(request: OrgHttpRequest) -> HttpResponse:
    organization = request.organization
    connections = {c.platform: c for c in Connection.objects.filter(organization=organization)}
    # Synced links missing something upstream (Unsent) have columns of their own.
    states = [*LinkState.choices, *Unsent.choices]
    counts = (
        UpstreamLink.objects.filter(organization=organization)
        .values("platform", "state", "unsent")
        .annotate(n=Count("pk"))
        .order_by()
    )
    board = {platform: {state: 0 for state, _ in states} for platform in Platform.values}
    for row in counts:
        shown = (
            row["unsent"] if row["state"] == LinkState.SYNCED and row["unsent"] else row["state"]
        )
        board[row["platform"]][shown] += row["n"]
    troubled = (
        UpstreamLink.objects.filter(organization=organization)
        .filter(needs_attention() | retrying())
        .annotate(attention=ExpressionWrapper(needs_attention(), output_field=BooleanField()))
        .select_related("content_type")
        .prefetch_related("record")  # named on the page ("Second charger (EVC-OKA-02)")
        .order_by("-attention", "state", "-updated_at")[:50]
    )
    packets = sum(
        (progress or {}).get("acknowledged", 0)
        for progress in UpstreamLink.objects.filter(
            organization=organization, platform=Platform.WATTICS, channel="packets"
        ).values_list("progress", flat=True)
    )
    sandboxed = [
        (value, label)
        for value, label in Platform.choices
        if value in connections and connections[value].uses_sandbox
    ]
    rows = [
        {
            "platform": value,
            "label": label,
            "connection": connections.get(value),
            "counts": board[value],
            "packets": packets if value == Platform.WATTICS else None,
            "behind": streams_behind(organization.pk) if value == Platform.WATTICS else None,
        }
        for value, label in Platform.choices
    ]
    return render(
        request,
        "integrations/integrations.html",
        {
            "rows": rows,
            "troubled": troubled,
            "retryable": any(
                link.state in (LinkState.FAILED, LinkState.REJECTED) for link in troubled
            ),
            "states": states,
            "webhook": WebhookEndpoint.objects.filter(
                organization=organization, platform=Platform.SPARK
            ).first(),
            "webhook_form": WebhookForm(),
            # The webhook's forms follow the Spark connection's profile.
            "spark_current": Platform.SPARK in connections
            and connections[Platform.SPARK].profile == Profile.CURRENT,
            "current_webhook_form": CurrentWebhookForm(),
            "simulation_form": SimulationForm(),
            "outage_form": SandboxOutageForm(platforms=sandboxed) if sandboxed else None,
            "profile_help": PROFILE_HELP,
        },
    )


@org_required(Role.ADMIN)
def edit_connection(request: OrgHttpRequest, platform: str) -> HttpResponse:
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
    plans = (
        [
            services.plan_profile_switch(connection, p)
            for p in Profile.values
            if p != connection.profile
        ]
        if connection is not None
        else []
    )
    return render(
        request,
        "integrations/connection_form.html",
        {
            "form": form,
            "platform_label": Platform(platform).label,
            "connection": connection,
            "plans": plans,
        },
    )


@require_POST
@org_required(Role.ADMIN)
def test_connection(request: OrgHttpRequest, platform: str) -> HttpResponse:
    connection = get_for_org_or_404(Connection, request.organization, platform=platform)
    check = services.test_connection(connection)
    level = messages.SUCCESS if check.ok else messages.ERROR
    messages.add_message(request, level, f"{connection.get_platform_display()}: {check.message}")
    return redirect("integrations")


@require_POST
@org_required(Role.ADMIN)
def retry_failed(request: OrgHttpRequest) -> HttpResponse:
    ids = UpstreamLink.objects.filter(
        organization=request.organization, state__in=[LinkState.FAILED, LinkState.REJECTED]
    ).values_list("pk", flat=True)
    count = services.retry_links(ids)
    messages.success(request, f"{count} record{'s' if count != 1 else ''} queued again.")
    return redirect("integrations")


@require_POST
@org_required(Role.MEMBER)
def sync_link_now(request: OrgHttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    services.retry_links([link.pk])
    messages.info(request, f"{link.get_platform_display()}: sync queued.")
    return _back(request)


@require_POST
@org_required(Role.MEMBER)
def pause_link(request: OrgHttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    services.pause_link(link)
    messages.info(
        request, f"{link.get_platform_display()} paused: nothing is sent until you resume."
    )
    return _back(request)


@require_POST
@org_required(Role.MEMBER)
def resume_link(request: OrgHttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    services.resume_link(link)
    messages.info(request, f"{link.get_platform_display()} resumed.")
    return _back(request)


def _back(request: HttpRequest) -> HttpResponse:
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("integrations")
    return redirect(back)


@org_required()
def link_history(request: OrgHttpRequest, pk: int) -> HttpResponse:
    link = get_for_org_or_404(
        UpstreamLink.objects.select_related("content_type"), request.organization, pk=pk
    )
    attempts = SyncAttempt.objects.filter(link=link)[:200]
    model = link.content_type.model_class()
    assert model is not None  # links are made for installed models only
    record = model._default_manager.filter(pk=link.object_id).first()
    in_doubt = link.state == LinkState.IN_DOUBT
    return render(
        request,
        "integrations/link_history.html",
        {
            "link": link,
            "attempts": attempts,
            "record": record,
            "in_doubt": in_doubt,
            # What the lost create sent: our own record's fields, never a credential.
            "sent": json.dumps(link.create_payload, indent=2, sort_keys=True) if in_doubt else "",
            "remote_id_form": RemoteIdForm() if in_doubt else None,
            "page_timezone": record_timezone(record),
        },
    )


@require_POST
@org_required(Role.MEMBER)
def link_use_remote_id(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """An in-doubt link: "It exists upstream, use this id"."""
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    form = RemoteIdForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            " ".join(str(error) for error in form.errors.get("remote_id", ["Enter an id."])),
        )
    elif services.adopt_remote_id(link, form.cleaned_data["remote_id"]):
        messages.success(
            request,
            f"{link.get_platform_display()}: linked to id {form.cleaned_data['remote_id']}.",
        )
    else:
        messages.error(request, "This record is no longer in doubt: nothing was changed.")
    return redirect("link_history", link.pk)


@require_POST
@org_required(Role.MEMBER)
def link_create_again(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """An in-doubt link: "It is not there, create it again"."""
    link = get_for_org_or_404(UpstreamLink, request.organization, pk=pk)
    if services.create_again(link):
        messages.success(request, f"{link.get_platform_display()}: it will be created again.")
    else:
        messages.error(request, "This record is no longer in doubt: nothing was changed.")
    return redirect("link_history", link.pk)


@org_required()
def home_prices(request: OrgHttpRequest, pk: int) -> HttpResponse:
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
    rates = prices.rate_series(curve)
    chart.update(imports=rates.drawn["import"], exports=rates.drawn["export"])
    context = {
        "home": home,
        "curve": curve,
        "chart": chart,
        "chart_id": f"price-data-{home.pk}",
        "same_as_price": rates.same_as_price,
        "zero_all_day": rates.zero_all_day,
        "cheapest_start": curve.local(curve.cheapest_start),
        "cheapest_end": curve.local(curve.cheapest_end),
        "current_price": curve.prices[curve.current_index][1]
        if curve.current_index is not None
        else None,
    }
    return render(request, "integrations/_prices.html", context)


# --- Spark webhooks -------------------------------------------------------------------------------
@csrf_exempt  # the one exemption: Spark signs its deliveries (HMAC), it has no CSRF token
@require_POST
def spark_webhook(request: HttpRequest, token: str) -> HttpResponse:
    """Receive a Spark delivery: size-checked, verified on the raw body, stored once, 2xx at once."""
    endpoint = WebhookEndpoint.objects.filter(token=token, platform=Platform.SPARK).first()
    if endpoint is None:
        return JsonResponse({"detail": "unknown webhook"}, status=404)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > webhooks.MAX_BODY_BYTES:
        return JsonResponse(
            {"detail": f"bodies over {webhooks.MAX_BODY_BYTES} bytes are refused"}, status=413
        )
    body = request.read(webhooks.MAX_BODY_BYTES + 1)
    if len(body) > webhooks.MAX_BODY_BYTES:
        return JsonResponse(
            {"detail": f"bodies over {webhooks.MAX_BODY_BYTES} bytes are refused"}, status=413
        )
    receipt = services.receive_spark_delivery(endpoint, body, request.headers)
    return JsonResponse({"detail": receipt.message}, status=receipt.status)


def _spark_profile(request: OrgHttpRequest) -> str:
    connection = Connection.objects.filter(
        organization=request.organization, platform=Platform.SPARK
    ).first()
    return connection.profile if connection is not None else Profile.QUICKSTART


@require_POST
@org_required(Role.ADMIN)
def register_spark_webhook(request: OrgHttpRequest) -> HttpResponse:
    """Register with the calls of the Spark connection's profile (services.register_spark_webhook)."""
    try:
        if _spark_profile(request) == Profile.CURRENT:
            current = CurrentWebhookForm(request.POST)
            if not current.is_valid():
                messages.error(request, "Choose at least one notification type.")
                return redirect("integrations")
            endpoint = services.register_spark_webhook(
                request.organization, notification_types=current.cleaned_data["notification_types"]
            )
        else:
            form = WebhookForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose at least one operation and one event type.")
                return redirect("integrations")
            endpoint = services.register_spark_webhook(
                request.organization,
                form.cleaned_data["operations"],
                form.cleaned_data["event_types"],
            )
    except webhooks.WebhookSetupError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            f"Spark webhook registered (id {endpoint.remote_id}): deliveries go to {endpoint.url}"
            + (f" {endpoint.removal_note}" if endpoint.removal_note else ""),
        )
    return redirect("integrations")


@require_POST
@org_required(Role.ADMIN)
def test_spark_webhook(request: OrgHttpRequest) -> HttpResponse:
    """Quickstart: Spark's test call; current: the simulation chosen (a price curve by default)."""
    form = SimulationForm(request.POST)
    simulation = form.cleaned_data["simulation"] if form.is_valid() else "pricecurve"
    try:
        services.send_spark_test_event(request.organization, simulation)
    except webhooks.WebhookSetupError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, "Spark is sending a test event: it appears under Events within seconds."
        )
    return redirect("webhook_events")


@require_POST
@org_required(Role.ADMIN)
def sandbox_emit_price_event(request: OrgHttpRequest) -> HttpResponse:
    """Sandbox only: have the Spark emulator emit a price event for this organization's records
    (quickstart: a PriceDelta naming its users; current: the published price-curve simulation,
    targeting its resources)."""
    connection = Connection.objects.filter(
        organization=request.organization, platform=Platform.SPARK
    ).first()
    if connection is None or not connection.uses_sandbox:
        raise Http404("Only the sandbox emulator can be told to emit events.")
    if connection.profile == Profile.CURRENT:
        try:
            services.send_spark_test_event(request.organization, "pricecurve")
        except webhooks.WebhookSetupError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "The Spark emulator is sending a price curve.")
        return redirect("webhook_events")
    from .sandbox.registry import emulator, tenant_of

    user_ids = list(
        UpstreamLink.objects.filter(
            organization=request.organization,
            platform=Platform.SPARK,
            content_type=ContentType.objects.get_for_model(Customer),
        )
        .exclude(remote_id="")
        .values_list("remote_id", flat=True)
    )
    if not user_ids:
        messages.error(request, "No customer is on Spark yet.")
    else:
        # To this organization's webhook only: every sandbox organization shares the emulator.
        emulator("spark").emit_price_delta(
            user_ids=user_ids, tenant=tenant_of(request.organization.pk)
        )
        messages.success(
            request,
            f"The Spark emulator is sending a price change for {len(user_ids)} "
            f"customer{pluralize(len(user_ids))}.",
        )
    return redirect("webhook_events")


@require_POST
@org_required(Role.ADMIN)
def sandbox_outage(request: OrgHttpRequest) -> HttpResponse:
    """Sandbox only: an emulator fails every call of this organization for some seconds (retries
    then recovery are visible); other organizations' calls go on as usual."""
    sandboxed = [
        (c.platform, c.get_platform_display())
        for c in Connection.objects.filter(organization=request.organization)
        if c.uses_sandbox
    ]
    form = SandboxOutageForm(request.POST, platforms=sandboxed)
    if not sandboxed or not form.is_valid():
        raise Http404("Only the sandbox emulators can be told to fail.")
    from .sandbox.registry import emulator, tenant_of

    data = form.cleaned_data
    # This organization's calls only: every sandbox organization shares the emulator.
    emulator(data["platform"]).fail_for(
        data["seconds"], data["status"], tenant=tenant_of(request.organization.pk)
    )
    label = dict(sandboxed)[data["platform"]]
    if data["seconds"]:
        messages.warning(
            request,
            f"The {label} emulator answers {data['status']} to every call for {data['seconds']} s "
            f"(calls of {request.organization.name} only).",
        )
    else:
        messages.success(request, f"The {label} emulator answers normally again.")
    return redirect("integrations")


@org_required()
def webhook_events(request: OrgHttpRequest) -> HttpResponse:
    events = (
        WebhookEvent.objects.filter(organization=request.organization)
        .prefetch_related("customers", "meters")
        .order_by("-received_at")[:200]
    )
    endpoint = WebhookEndpoint.objects.filter(
        organization=request.organization, platform=Platform.SPARK
    ).first()
    template = (
        "integrations/_events_table.html"
        if request.headers.get("HX-Request")
        else "integrations/events.html"
    )
    connection = Connection.objects.filter(
        organization=request.organization, platform=Platform.SPARK
    ).first()
    sandbox = connection is not None and connection.uses_sandbox
    failed = (
        sandbox_failed_deliveries(connection, endpoint)
        if sandbox and connection is not None and endpoint is not None
        else []
    )
    return render(
        request,
        template,
        {"events": events, "endpoint": endpoint, "sandbox": sandbox, "failed_deliveries": failed},
    )


def sandbox_failed_deliveries(
    connection: Connection, endpoint: WebhookEndpoint
) -> list[dict[str, Any]]:
    """In sandbox mode, the Spark emulator's failed deliveries to this organization's webhook
    (its registration and those being retired): the URL it tried and the error, so a wrong
    PUBLIC_BASE_URL shows on the Events page instead of events that never arrive."""
    from .sandbox import registry
    from .sandbox.spark.deliveries import SparkDeliveries

    ids = {endpoint.remote_id, *(endpoint.retired_remote_ids or [])} - {""}
    emulator = registry.emulator("spark", connection.profile)
    if not ids or not isinstance(emulator, SparkDeliveries):
        return []
    return emulator.failed_deliveries(ids)


@org_required()
def webhook_event(request: OrgHttpRequest, pk: int) -> HttpResponse:
    event = get_for_org_or_404(
        WebhookEvent.objects.prefetch_related("customers", "meters", "reports"),
        request.organization,
        pk=pk,
    )
    devices = Device.objects.filter(
        organization=request.organization, home__customer__in=event.customers.all()
    )
    current = _spark_profile(request) == Profile.CURRENT
    return render(
        request,
        "integrations/event_detail.html",
        {
            "event": event,
            "body": json.dumps(event.body, indent=2)[:20000],
            # The report each profile sends: charge reports (vehicles) or energy usage.
            "vehicles": [] if current else devices.filter(kind="vehicle"),
            "usage_devices": devices if current else [],
        },
    )


@org_required(Role.MEMBER)
def charge_report(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Send a VehicleChargeAction report for a vehicle (optionally answering an event)."""
    vehicle = get_for_org_or_404(
        Device.objects.select_related("home"), request.organization, pk=pk, kind="vehicle"
    )
    event = None
    event_pk = query_id(request.POST.get("event") or request.GET.get("event"))
    if event_pk is not None:
        event = get_for_org_or_404(WebhookEvent, request.organization, pk=event_pk)
    capacity = vehicle.details.get("battery_capacity_kwh")
    initial = {
        "battery_capacity_wh": int(float(capacity) * 1000) if capacity else None,
        "action": "Start",
    }
    form = ChargeReportForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        report = services.create_charge_report(
            vehicle=vehicle,
            event=event,
            name=data["name"] or f"{data['action']} charging {vehicle.name}",
            action=data["action"],
            power_w=data["power_w"],
            state_of_charge=data["state_of_charge"] / 100,
            battery_capacity_wh=data["battery_capacity_wh"],
        )
        messages.success(request, f"Report “{report.name}” queued for Spark.")
        return redirect(vehicle.get_absolute_url())
    return render(
        request,
        "integrations/charge_report_form.html",
        {"form": form, "vehicle": vehicle, "event": event},
    )


@org_required(Role.MEMBER)
def energy_usage_report(request: OrgHttpRequest, pk: int) -> HttpResponse:
    """Send an EnergyUsage report of a device's readings (optionally answering an event, whose
    price curve's hours are the default period)."""
    device = get_for_org_or_404(Device.objects.select_related("home"), request.organization, pk=pk)
    event = None
    event_pk = query_id(request.POST.get("event") or request.GET.get("event"))
    if event_pk is not None:
        event = get_for_org_or_404(WebhookEvent, request.organization, pk=event_pk)
    period = event.period if event is not None else None
    initial = {"start": period[0], "end": period[1]} if period else {}
    form = EnergyUsageReportForm(request.POST or None, initial=initial, device=device)
    if request.method == "POST" and form.is_valid():
        report = services.create_energy_usage_report(
            device=device,
            event=event,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
        )
        messages.success(request, f"Report “{report}” queued for Spark.")
        return redirect(device.get_absolute_url())
    return render(
        request,
        "integrations/energy_report_form.html",
        {"form": form, "device": device, "event": event},
    )


def links_for(record: Model) -> list[UpstreamLink]:
    return list(
        UpstreamLink.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk
        ).prefetch_related("chunks")
    )


def sync_summary(membership: Membership) -> dict[str, object]:
    """The dashboard's "Upstream platforms" panel: per platform, synced, pending, needing a person
    (the Integrations page's words and its Needs attention list), not sent."""
    counts = (
        UpstreamLink.objects.filter(organization=membership.organization)
        .annotate(attention=ExpressionWrapper(needs_attention(), output_field=BooleanField()))
        .values("platform", "state", "unsent", "attention")
        .annotate(n=Count("pk"))
        .order_by()
    )
    rows = {
        value: {
            "label": label,
            "synced": 0,
            "waiting": 0,
            "problems": 0,
            "in_doubt": 0,
            "not_sent": 0,
        }
        for value, label in Platform.choices
    }
    for row in counts:
        if row["attention"]:
            key = "problems"
        elif row["state"] == LinkState.SYNCED:
            key = "not_sent" if row["unsent"] == Unsent.NOT_ACCEPTED else "synced"
        else:
            key = "waiting"
        rows[row["platform"]][key] += row["n"]
        if row["state"] == LinkState.IN_DOUBT:  # among the problems, and named: a person decides
            rows[row["platform"]]["in_doubt"] += row["n"]
    return {
        "rows": list(rows.values()),
        "wattics_behind": streams_behind(membership.organization.pk),
    }
