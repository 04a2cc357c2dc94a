"""Request id on every request and log line; the signed-in user's current organization."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from .logging import request_id_var
from .tenancy import resolve_membership

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes `X-Request-ID` from the proxy when it is sane, else makes one; echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # our attribute on Django's request
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class OrganizationMiddleware:
    """Sets `request.membership` and `request.organization` (None when signed out or unattached)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = resolve_membership(request)
        request.membership = membership  # type: ignore[attr-defined]  # OrgHttpRequest declares it
        request.organization = membership.organization if membership else None  # type: ignore[attr-defined]  # OrgHttpRequest
        # Times on every page are shown in the organization's timezone (the footer says which).
        if membership is not None:
            timezone.activate(ZoneInfo(membership.organization.timezone))
        else:
            timezone.deactivate()
        return self.get_response(request)


class RequestSizeLimitMiddleware:
    """Refuses a request whose declared body is over `MAX_REQUEST_BYTES`, before anything reads it.

    Django streams a multipart body to disk whatever its size, and the CSRF check reads the form
    before any view could look at the file: without this, a declared 1 GB upload is read to the
    end (and its file kept on disk) before the upload's own limits get a say.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads no body then either
        if limit and declared > limit:
            mb = 1024 * 1024
            message = (
                f"The request is {declared / mb:,.0f} MB; at most {limit / mb:,.0f} MB can be "
                "sent at once. Split the file into smaller ones (one per year, say)."
            )
            wants_json = (
                request.get_preferred_type(["text/html", "application/json"]) == "application/json"
            )
            if wants_json:
                return JsonResponse(
                    {"status": "invalid", "field": "file", "errors": {"file": [message]}},
                    status=413,
                )
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
