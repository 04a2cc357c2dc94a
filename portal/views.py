"""Dashboard, organization switcher, members and invitations, health check."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import services
from .auth import password_reset_allowed
from .dashboard import actions_for, cards_for, glances_for, month_start, panels_for, tasks_for
from .forms import AcceptInvitationForm, InvitationForm, RoleForm
from .models import ROLE_HELP, Invitation, Membership, Role
from .tenancy import (
    SESSION_KEY,
    OrgHttpRequest,
    get_for_org_or_404,
    memberships_of,
    org_required,
)


@org_required()
def dashboard(request: OrgHttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/dashboard.html",
        {
            "actions": actions_for(request.membership),
            "tasks": tasks_for(request.membership),
            "glances": glances_for(request.membership),
            "month": month_start(request.organization),
            "cards": cards_for(request.membership),
            "panels": panels_for(request.membership),
        },
    )


@require_POST
@org_required()
def switch_organization(request: OrgHttpRequest) -> HttpResponse:
    membership = get_object_or_404(
        memberships_of(request.user), organization_id=request.POST.get("organization")
    )
    request.session[SESSION_KEY] = membership.organization_id
    messages.success(request, f"Now working in {membership.organization}.")
    return redirect("dashboard")


@org_required()
def members(request: OrgHttpRequest) -> HttpResponse:
    organization = request.organization
    actor = request.membership
    memberships = Membership.objects.filter(organization=organization).select_related("user")
    invitations = Invitation.objects.filter(organization=organization, accepted_at__isnull=True)
    context = {
        # Only the actions the user may take: admins manage members and viewers, owners anyone.
        "rows": [
            {"membership": m, "manageable": m.user_id != actor.user_id and actor.manages(m.role)}
            for m in memberships
        ],
        "invitation_rows": [
            {"invitation": i, "revocable": actor.manages(i.role)} for i in invitations
        ],
        "invite_form": InvitationForm(),
        "roles": [(value, label) for value, label in Role.choices if actor.manages(value)],
        "role_help": [(Role(value).label, ROLE_HELP[Role(value)]) for value, _ in Role.choices],
    }
    return render(request, "portal/members.html", context)


@require_POST
@org_required(Role.ADMIN)
def invite(request: OrgHttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invite_member(actor=request.membership, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
    else:
        messages.error(request, "Enter a valid email address and role.")
    return redirect("members")


@require_POST
@org_required(Role.ADMIN)
def revoke_invitation(request: OrgHttpRequest, pk: int) -> HttpResponse:
    invitation = get_for_org_or_404(
        Invitation, request.organization, pk=pk, accepted_at__isnull=True
    )
    try:
        services.revoke_invitation(actor=request.membership, invitation=invitation)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("members")


@require_POST
@org_required(Role.ADMIN)
def change_role(request: OrgHttpRequest, pk: int) -> HttpResponse:
    membership = get_for_org_or_404(Membership, request.organization, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(
                actor=request.membership, membership=membership, role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, f"{membership.user} is now {membership.get_role_display().lower()}."
            )
    return redirect("members")


@require_POST
@org_required(Role.ADMIN)
def remove_member(request: OrgHttpRequest, pk: int) -> HttpResponse:
    membership = get_for_org_or_404(Membership, request.organization, pk=pk)
    try:
        services.remove_member(actor=request.membership, membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{membership.user} was removed.")
    return redirect("members")


@never_cache
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation.objects.select_related("organization"), token=token)
    if not invitation.is_open:
        return render(
            request, "portal/invitation_closed.html", {"invitation": invitation}, status=410
        )
    existing_user = request.user if request.user.is_authenticated else None
    form = (
        None
        if existing_user
        else AcceptInvitationForm(request.POST or None, email=invitation.email)
    )
    if request.method == "POST" and (existing_user or (form is not None and form.is_valid())):
        try:
            membership = services.accept_invitation(
                invitation=invitation,
                user=existing_user,
                password=form.cleaned_data["password1"] if form else "",
                full_name=form.cleaned_data["full_name"] if form else "",
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if existing_user is None:
                login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
            request.session[SESSION_KEY] = membership.organization_id
            messages.success(request, f"Welcome to {membership.organization}.")
            return redirect("dashboard")
    return render(
        request, "portal/accept_invitation.html", {"invitation": invitation, "form": form}
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by email, limited per email and per client address (`portal.auth`). The
    answer is the same whether the email has an account or not."""

    def form_valid(self, form: Any) -> HttpResponse:
        if not password_reset_allowed(self.request, form.cleaned_data["email"]):
            minutes = max(1, settings.PASSWORD_RESET_WINDOW_S // 60)
            form.add_error(
                None,
                "Too many password-reset requests for this email or from this address. Wait "
                f"{minutes} minutes and try again; a link already sent still works.",
            )
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        return super().form_valid(form)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database (and the broker, when one is configured) answer; 503 naming the part."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    if settings.CELERY_BROKER_URL:
        checks["broker"] = _broker_status()
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def _broker_status() -> str:
    from .celery import app

    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
