"""The API's requests as the pages' forms: a JSON body becomes the data a form would post, on top
of what the record (or a new one) already holds, so PATCH changes only what it names and every
rule and message is the form's and the service's own.

Lists: the list pages' search (`portal.crud.search`) and filters (`portal.crud.ListFilter`), then keyset
pagination on the primary key with an opaque cursor (a page costs one index range scan, whatever
its depth), and `updated_since` for cheap polling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from ninja import Schema
from ninja.responses import NinjaJSONEncoder

from portal import crud
from portal.crud import ListFilter, OrgModelForm
from portal.models import Organization

from .errors import ApiError, form_errors, invalid, service_errors


def bind(
    form_class: type[OrgModelForm],
    organization: Organization,
    payload: dict[str, Any],
    *,
    instance: models.Model | None = None,
    rename: dict[str, str] | None = None,
    **form_kwargs: Any,
) -> OrgModelForm:
    """The form bound to `payload` over the record's current values (a new record's defaults)."""
    unbound = form_class(organization=organization, instance=instance, **form_kwargs)
    data: dict[str, Any] = {}
    for name, field in unbound.fields.items():
        value = unbound[name].value()
        data[name] = field.prepare_value(value) if value is not None else None
    data.update(payload)
    form = form_class(data=data, organization=organization, instance=instance, **form_kwargs)
    if not form.is_valid():
        raise invalid(form_errors(form, rename))
    return form


def save_form(
    form: OrgModelForm, save: Callable[[Any], Any], rename: dict[str, str] | None = None
) -> Any:
    """Save a valid form's record through its service, as the pages do; the service's refusal
    is a 422 with its messages on the form's fields."""
    record = crud.save_form(form, save)
    if record is None:
        raise invalid(form_errors(form, rename))
    return record


def delete_with(record: models.Model, delete: Callable[[Any], None]) -> None:
    """Delete through the service; refused (409, with its reasons) while something depends on it."""
    try:
        delete(record)
    except ValidationError as exc:
        errors = service_errors(exc)
        raise ApiError(409, " ".join(m for ms in errors.values() for m in ms), errors) from exc


# --- lists ---------------------------------------------------------------------------------------
def narrow(
    queryset: models.QuerySet, filters: Iterable[ListFilter], values: dict[str, Any]
) -> models.QuerySet:
    """The list pages' filters, with their own cleaning (a value a filter can't take is refused)."""
    for list_filter in filters:
        raw = values.get(list_filter.name)
        if raw is None or raw == "":
            continue
        value = list_filter.clean(queryset.model, str(raw))
        if value is None:
            raise invalid(
                {list_filter.name: [f"{raw!s:.40} is not a {list_filter.label.lower()} here."]}
            )
        queryset = queryset.filter(**{list_filter.lookup: value})
    return queryset


def since(queryset: models.QuerySet, updated_since: datetime | None) -> models.QuerySet:
    if updated_since is None:
        return queryset
    if updated_since.tzinfo is None:
        updated_since = updated_since.replace(tzinfo=UTC)
    return queryset.filter(updated_at__gte=updated_since)


def _cursor_text(pk: int) -> str:
    return base64.urlsafe_b64encode(f"after:{pk}".encode()).decode().rstrip("=")


def _cursor_pk(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = text.partition(":")
        if kind != "after" or not (number.isascii() and number.isdigit()):
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid(
            {"cursor": ["This cursor was not given by this API: start again without it."]}
        ) from None


def paginate(queryset: models.QuerySet, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of `queryset` in primary-key order, after `cursor`."""
    queryset = queryset.order_by("pk")
    if cursor:
        queryset = queryset.filter(pk__gt=_cursor_pk(cursor))
    rows = list(queryset[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": rows,
        "next_cursor": _cursor_text(rows[-1].pk) if more else None,
    }


# --- one record ----------------------------------------------------------------------------------
def etag_of(record: Any) -> str:
    stamp = f"{type(record).__name__}:{record.pk}:{record.updated_at.isoformat()}"
    return 'W/"' + hashlib.sha256(stamp.encode()).hexdigest()[:32] + '"'


def one(request: HttpRequest, record: Any, schema: type[Schema], status: int = 200) -> HttpResponse:
    """A record as JSON with its ETag; `If-None-Match` with that ETag gets 304 and no body."""
    etag = etag_of(record)
    if status == 200 and etag in {
        tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")
    }:
        response: HttpResponse = HttpResponseNotModified()
    else:
        # Ninja's own encoder, so a record reads the same here as in a list (times to the ms).
        body = schema.from_orm(record).model_dump()
        response = JsonResponse(body, status=status, encoder=NinjaJSONEncoder)
    response["ETag"] = etag
    return response
