"""Organization scoping that every app uses.

- `OrgOwned`: abstract base with `organization`, `created_at`, `updated_at` and `.for_org(org)`.
- `org_required(role)`: a view decorator that signs in, sets `request.organization` and
  `request.membership`, and checks the role (403 inside one's own organization).
- `OrgRequiredMixin`: the same for class-based views.
- `get_for_org_or_404(queryset_or_model, org, **lookup)`: another organization's object is a 404,
  never a 403 that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render

from .models import Membership, Organization, Role

SESSION_KEY = "organization_id"


class OrgHttpRequest(HttpRequest):
    """The type of a request that passed `org_required` or `OrgRequiredMixin`: those set
    `organization` and `membership` (for typing only; the request object stays Django's own)."""

    organization: Organization
    membership: Membership


class OrgQuerySet(models.QuerySet):
    """A queryset that can be narrowed to one organization."""

    def for_org(self, organization: Organization) -> OrgQuerySet:
        return self.filter(organization=organization)


class OrgOwned(models.Model):
    """Abstract base of every tenant-owned model."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrgQuerySet.as_manager()

    class Meta:
        abstract = True

    def clean_fields(self, exclude: Any = None) -> None:
        """Also refuse a reference to another organization's record, whatever path wrote it
        (forms, imports, the admin all save through full_clean)."""
        errors: dict[str, list[str]] = {}
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.message_dict
        for field in self._meta.concrete_fields:
            if field.name in errors or (exclude and field.name in exclude):
                continue
            related = field.related_model
            if not field.is_relation or related is None or not issubclass(related, OrgOwned):
                continue
            if getattr(self, field.attname) is None or self.organization_id is None:
                continue
            if getattr(self, field.name).organization_id != self.organization_id:
                errors[field.name] = ["This belongs to another organization."]
        if errors:
            raise ValidationError(errors)


def get_for_org_or_404[M: models.Model](
    source: type[M] | models.QuerySet[M], organization: Organization, **lookup: Any
) -> M:
    """The object of `organization` matching `lookup`, or Http404 (also for other organizations)."""
    queryset = source._default_manager.all() if isinstance(source, type) else source
    return get_object_or_404(queryset.filter(organization=organization), **lookup)


def memberships_of(user: Any) -> models.QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def resolve_membership(request: HttpRequest) -> Membership | None:
    """The signed-in user's membership in the organization chosen in the session (or their first)."""
    if not request.user.is_authenticated:
        return None
    memberships = memberships_of(request.user)
    chosen = request.session.get(SESSION_KEY)
    membership = None
    if chosen is not None:
        membership = memberships.filter(organization_id=chosen).first()
    if membership is None:
        membership = memberships.first()
        if membership is not None:
            request.session[SESSION_KEY] = membership.organization_id
    return membership


def org_required(
    role: Role | str = Role.VIEWER,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Decorator: signed in, a member of the current organization, with at least `role`."""

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            denied = _check(request, role)
            if denied is not None:
                return denied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class OrgRequiredMixin:
    """Class-based view mixin: like `org_required`, with `required_role` on the class."""

    required_role: Role = Role.VIEWER
    request: OrgHttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        denied = _check(request, self.required_role)
        if denied is not None:
            return denied
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]  # a mixin: View is later


def _check(request: HttpRequest, role: Role | str) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    membership = getattr(request, "membership", None) or resolve_membership(request)
    if membership is None:
        return render(request, "portal/no_organization.html", status=403)
    request.membership = membership  # type: ignore[attr-defined]  # OrgHttpRequest declares it
    request.organization = membership.organization  # type: ignore[attr-defined]  # OrgHttpRequest
    if not membership.allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role.")
    return None


def can(request: HttpRequest, role: Role | str) -> bool:
    """Whether the current member has at least `role` (for templates and views)."""
    membership = getattr(request, "membership", None)
    return membership is not None and membership.allows(role)
