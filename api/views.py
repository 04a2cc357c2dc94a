"""The API keys page (organization admins) and the API's reference page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from portal.models import Role
from portal.tenancy import OrgHttpRequest, get_for_org_or_404, org_required

from . import services
from .forms import ApiKeyForm
from .models import ApiKey


@org_required(Role.ADMIN)
def keys(request: OrgHttpRequest) -> HttpResponse:
    """List the organization's keys; create one (its secret is shown on this answer only)."""
    new_key = None
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_key = services.create_api_key(
                request.organization,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_days=form.cleaned_data["expires_days"],
                created_by=request.user,  # type: ignore[arg-type]  # org_required: signed in
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = ApiKeyForm()
    status = 400 if request.method == "POST" and new_key is None else 200
    response = render(
        request,
        "api/keys.html",
        {
            "form": form,
            "new_key": new_key,
            "api_keys": ApiKey.objects.filter(organization=request.organization).select_related(
                "created_by"
            ),
        },
        status=status,
    )
    if new_key is not None:
        response["Cache-Control"] = "no-store"  # the secret must not stay in any cache
    return response


@require_POST
@org_required(Role.ADMIN)
def revoke_key(request: OrgHttpRequest, pk: int) -> HttpResponse:
    api_key = get_for_org_or_404(ApiKey, request.organization, pk=pk)
    services.revoke_api_key(api_key)
    messages.success(request, f"Key “{api_key.name}” ({api_key.prefix}…) revoked.")
    return redirect("api_keys")


@require_safe
def reference(request: HttpRequest) -> HttpResponse:
    """The OpenAPI document, browsable (Swagger UI from static/vendor/, no inline script)."""
    return render(request, "api/reference.html")
