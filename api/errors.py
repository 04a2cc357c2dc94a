"""The API's one error shape: `{"detail": "...", "errors": {"field": ["message", ...]}}`.

Field names are the request's own (`name`, `details.nameplate_capacity_kw`, `file`, `cursor`);
`__all__` holds what concerns no one field. The messages are the forms' and the services' own
words, so the API, the pages and the imports say the same thing about the same mistake.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

UNAUTHORIZED = (
    "Send a valid API key as “Authorization: Bearer gf_…” (an organization admin creates keys "
    "under API keys; a revoked or expired key is refused)."
)


# pydantic's words where a form has its own for the same mistake.
SCHEMA_WORDS = {
    "missing": str(forms.Field.default_error_messages["required"]),
    "extra_forbidden": "There is no such field here.",
}


class ErrorOut(Schema):
    """Every error answer."""

    detail: str
    errors: dict[str, list[str]] = {}


# The errors any operation may answer, for the OpenAPI document (400: a body that is not JSON or
# not multipart; 422: a field refused).
ERRORS: dict[int, type[Schema]] = {status: ErrorOut for status in (400, 401, 403, 404, 422, 429)}


class ApiError(HttpError):
    """An error answer in the API's shape, with optional field errors and headers."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail)
        self.detail = detail
        self.errors = errors or {}
        self.headers = headers or {}


def invalid(errors: dict[str, list[str]], detail: str = "") -> ApiError:
    """422 with field errors; the detail names the first one."""
    if not detail:
        field, messages = next(iter(errors.items()))
        where = "" if field == NON_FIELD_ERRORS else f"{field}: "
        detail = f"{where}{messages[0]}"
    return ApiError(422, detail, errors)


def form_errors(form: forms.BaseForm, rename: dict[str, str] | None = None) -> dict[str, list[str]]:
    """A bound form's errors by the API's field names (`rename` maps form names to them)."""
    rename = rename or {}
    return {
        rename.get(name, name): [str(message) for message in messages]
        for name, messages in form.errors.items()
    }


def service_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {name: [str(m) for m in messages] for name, messages in exc.message_dict.items()}
    return {NON_FIELD_ERRORS: [str(m) for m in exc.messages]}


def _field_of(location: Any) -> str:
    """`("body", "payload", "details", "x")` → `details.x`; `("query", "limit")` → `limit`."""
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "form", "file", "header"}:
        parts = parts[1:]
    if parts and parts[0] in {"body", "filters", "query"}:  # the operations' parameter names
        parts = parts[1:]
    return ".".join(parts) or NON_FIELD_ERRORS


def _respond(
    api: NinjaAPI, request: HttpRequest, status: int, detail: str, errors: dict[str, list[str]]
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors}, status=status)


def install_handlers(api: NinjaAPI) -> None:
    """Every error the API answers goes through one of these (none leaks a key or a body)."""

    def on_api_error(request: HttpRequest, exc: Any) -> HttpResponse:  # a ApiError
        response = _respond(api, request, exc.status_code, exc.detail, exc.errors)
        for name, value in exc.headers.items():
            response[name] = value
        return response

    def on_auth_error(request: HttpRequest, exc: Any) -> HttpResponse:  # a AuthenticationError
        response = _respond(api, request, 401, UNAUTHORIZED, {})
        response["WWW-Authenticate"] = 'Bearer realm="gridfolio"'
        return response

    def on_http_error(request: HttpRequest, exc: Any) -> HttpResponse:  # a HttpError
        return _respond(api, request, exc.status_code, str(exc), {})

    def on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:  # a Http404
        return _respond(api, request, 404, "Not found.", {})

    def on_denied(request: HttpRequest, exc: Any) -> HttpResponse:  # a PermissionDenied
        return _respond(api, request, 403, str(exc) or "Not allowed.", {})

    def on_validation(request: HttpRequest, exc: Any) -> HttpResponse:  # a NinjaValidationError
        errors: dict[str, list[str]] = {}
        for item in exc.errors:
            message = SCHEMA_WORDS.get(item.get("type", ""), str(item.get("msg", "")))
            errors.setdefault(_field_of(item.get("loc", ())), []).append(message)
        if not errors:
            errors[NON_FIELD_ERRORS] = ["The request could not be read."]
        return on_api_error(request, invalid(errors))

    def on_django_validation(
        request: HttpRequest, exc: Any
    ) -> HttpResponse:  # a DjangoValidationError
        return on_api_error(request, invalid(service_errors(exc)))

    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(AuthenticationError, on_auth_error)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_denied)
    api.add_exception_handler(NinjaValidationError, on_validation)
    api.add_exception_handler(DjangoValidationError, on_django_validation)
