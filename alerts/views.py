"""Alert pages: the list with filters, one alert (acknowledge), check now, email choices and the
organization's thresholds, and the unsubscribe page (no sign-in: the link carries a signed token)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal.crud import ListFilter, OrgListView
from portal.dashboard import Task
from portal.models import Membership, Role
from portal.tenancy import OrgHttpRequest, get_for_org_or_404, org_required

from . import services
from .forms import AlertSettingsForm, NotificationModesForm
from .models import UNRESOLVED, Alert, AlertKind, AlertState

DASHBOARD_ALERTS = 5


def devices_without_data(membership: Membership) -> tuple[list[Task], int]:
    """The dashboard's "Needs a person": open no-data alerts (the threshold is the organization's,
    a week unless changed), each linking to the record that stopped."""
    silent = Alert.objects.filter(
        organization=membership.organization, state=AlertState.OPEN, kind=AlertKind.NO_DATA
    ).order_by("opened_at", "pk")
    tasks = [
        Task(
            alert.title.split(": ", 1)[-1],
            alert.url or alert.get_absolute_url(),
            alert.title.split(":", 1)[0],
            "secondary",
        )
        for alert in silent[:DASHBOARD_ALERTS]
    ]
    return tasks, silent.count()


def dashboard_alerts(membership: Membership) -> dict[str, Any]:
    """The dashboard panel: the newest unresolved alerts and how many there are."""
    unresolved = Alert.objects.filter(
        organization=membership.organization, state__in=UNRESOLVED
    ).order_by("-opened_at", "-pk")
    return {"alerts": list(unresolved[:DASHBOARD_ALERTS]), "count": unresolved.count()}


class AlertList(OrgListView):
    model = Alert
    template_name = "alerts/alert_list.html"
    search_fields = ("title", "detail")
    filters = (
        ListFilter("state", "State", lambda org: list(AlertState.choices), "state"),
        ListFilter("kind", "Kind", lambda org: list(AlertKind.choices), "kind"),
    )
    sort_options = {
        "-opened": ("Newest", ("-opened_at",)),
        "opened": ("Oldest", ("opened_at",)),
        "kind": ("Kind", ("kind", "-opened_at")),
    }
    default_sort = "-opened"


@org_required()
def alert_detail(request: OrgHttpRequest, pk: int) -> HttpResponse:
    alert = get_for_org_or_404(
        Alert.objects.select_related("acknowledged_by"), request.organization, pk=pk
    )
    return render(request, "alerts/alert_detail.html", {"alert": alert})


@require_POST
@org_required(Role.MEMBER)
def acknowledge(request: OrgHttpRequest, pk: int) -> HttpResponse:
    alert = get_for_org_or_404(Alert, request.organization, pk=pk)
    if services.acknowledge_alert(alert, request.user):  # type: ignore[arg-type]  # signed in
        messages.success(request, "Acknowledged: it stays listed until the condition clears.")
    else:
        messages.info(request, f"This alert is already {alert.get_state_display().lower()}.")
    return redirect("alert_detail", pk=alert.pk)


@require_POST
@org_required(Role.MEMBER)
def check_now(request: OrgHttpRequest) -> HttpResponse:
    services.queue_check(request.organization.pk)
    messages.success(request, "Checking now: new alerts appear here, cleared ones resolve.")
    return redirect("alert_list")


@org_required()
def preferences(request: OrgHttpRequest) -> HttpResponse:
    """The member's own email choices; for admins, the organization's thresholds too."""
    membership = request.membership
    modes_form = NotificationModesForm(modes=services.modes_of(membership))
    limits = services.settings_for(request.organization)
    settings_form = AlertSettingsForm(instance=limits) if membership.allows(Role.ADMIN) else None
    if request.method == "POST":
        if request.POST.get("form") == "thresholds" and settings_form is not None:
            settings_form = AlertSettingsForm(request.POST, instance=limits)
            if settings_form.is_valid():
                services.save_alert_settings(settings_form.instance)
                messages.success(request, "Thresholds saved: the next check uses them.")
                return redirect("alert_preferences")
        elif request.POST.get("form") == "modes":
            modes_form = NotificationModesForm(request.POST, modes=services.modes_of(membership))
            if modes_form.is_valid():
                services.set_notification_modes(membership, modes_form.cleaned_data)
                messages.success(request, "Your email choices are saved.")
                return redirect("alert_preferences")
    return render(
        request,
        "alerts/preferences.html",
        {"modes_form": modes_form, "settings_form": settings_form},
    )


def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """From an email, signed in or not: GET asks (mail scanners follow links), POST stops them."""
    found = services.read_unsubscribe_token(token)
    if found is None:
        return render(request, "alerts/unsubscribe.html", {"invalid": True}, status=404)
    membership, kinds = found
    if request.method == "POST":
        everything = request.POST.get("scope") == "all"
        stopped = AlertKind.values if everything else kinds
        services.unsubscribe(membership, stopped)
        return render(
            request,
            "alerts/unsubscribe.html",
            {"membership": membership, "done": True, "labels": _labels(stopped)},
        )
    return render(
        request, "alerts/unsubscribe.html", {"membership": membership, "labels": _labels(kinds)}
    )


def _labels(kinds: list[str]) -> list[str]:
    return [AlertKind(kind).label for kind in kinds]
