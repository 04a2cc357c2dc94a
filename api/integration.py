"""/api/v1/links: each record's state on each platform (remote id, last error, the history of
calls) and "sync now", through integrations/services.py like the record pages' button."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.params import Path

from devices.models import Device
from homes.models import Customer, Home, Meter
from integrations import services as integration_services
from integrations.models import LinkState, Platform, SyncAttempt, UpstreamLink
from portal.tenancy import get_for_org_or_404

from .auth import key_of, needs
from .binding import paginate, since
from .errors import ERRORS
from .models import Scope
from .schemas import MAX_ID, LinkDetailOut, LinkOut, Page, SyncQueuedOut

router = Router(tags=["upstream links"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
RECORD_MODELS: dict[str, type[models.Model]] = {
    "customer": Customer,
    "home": Home,
    "meter": Meter,
    "device": Device,
}
HISTORY_LIMIT = 200


def _row(link: UpstreamLink) -> dict[str, Any]:
    return {
        "id": link.pk,
        "platform": link.platform,
        "channel": link.channel,
        "record_type": link.content_type.model,
        "record_id": link.object_id,
        "state": link.state,
        "shown_state": link.shown_state,
        "remote_id": link.remote_id,
        "last_error": link.last_error,
        "last_status_code": link.last_status_code,
        "attempts": link.attempts,
        "next_attempt_at": link.next_attempt_at,
        "synced_at": link.synced_at,
        "paused": link.paused,
        "waiting_for": link.waiting_for,
        "unsent_note": link.unsent_note,
        "updated_at": link.updated_at,
    }


class LinkQuery(Schema):
    platform: Platform | None = None
    state: LinkState | None = None
    record_type: str | None = Field(None, pattern="^(customer|home|meter|device)$")
    record_id: int | None = Field(None, ge=1, le=MAX_ID)
    updated_since: datetime | None = Field(
        None, description="Only links changed at or after this instant."
    )
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=100)


def _links(request: HttpRequest) -> models.QuerySet[UpstreamLink]:
    return UpstreamLink.objects.filter(organization=key_of(request).organization).select_related(
        "content_type"
    )


@router.get("/links", response={200: Page[LinkOut], **ERRORS}, auth=needs(Scope.READ))
def list_links(request: HttpRequest, filters: Query[LinkQuery]) -> Any:
    rows = _links(request)
    if filters.platform:
        rows = rows.filter(platform=filters.platform)
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.record_type:
        model = RECORD_MODELS[filters.record_type]
        rows = rows.filter(content_type=ContentType.objects.get_for_model(model))
    if filters.record_id:
        rows = rows.filter(object_id=filters.record_id)
    page = paginate(since(rows, filters.updated_since), filters.cursor, filters.limit)
    page["items"] = [_row(link) for link in page["items"]]
    return page


def _record_links(request: HttpRequest, model: type[models.Model], pk: int) -> list[dict[str, Any]]:
    record = get_for_org_or_404(model, key_of(request).organization, pk=pk)
    rows = _links(request).filter(
        content_type=ContentType.objects.get_for_model(model), object_id=record.pk
    )
    return [_row(link) for link in rows.order_by("platform", "channel")]


@router.get(
    "/customers/{pk}/links", response={200: list[LinkOut], **ERRORS}, auth=needs(Scope.READ)
)
def customer_links(request: HttpRequest, pk: Id) -> Any:
    return _record_links(request, Customer, pk)


@router.get("/homes/{pk}/links", response={200: list[LinkOut], **ERRORS}, auth=needs(Scope.READ))
def home_links(request: HttpRequest, pk: Id) -> Any:
    return _record_links(request, Home, pk)


@router.get("/meters/{pk}/links", response={200: list[LinkOut], **ERRORS}, auth=needs(Scope.READ))
def meter_links(request: HttpRequest, pk: Id) -> Any:
    return _record_links(request, Meter, pk)


@router.get("/devices/{pk}/links", response={200: list[LinkOut], **ERRORS}, auth=needs(Scope.READ))
def device_links(request: HttpRequest, pk: Id) -> Any:
    return _record_links(request, Device, pk)


@router.get("/links/{pk}", response={200: LinkDetailOut, **ERRORS}, auth=needs(Scope.READ))
def get_link(request: HttpRequest, pk: Id) -> Any:
    link = get_for_org_or_404(_links(request), key_of(request).organization, pk=pk)
    history = SyncAttempt.objects.filter(link=link)[:HISTORY_LIMIT]
    return {**_row(link), "history": list(history)}


@router.post(
    "/links/{pk}/sync", response={202: SyncQueuedOut, **ERRORS}, auth=needs(Scope.INTEGRATIONS)
)
def sync_link(request: HttpRequest, pk: Id) -> Any:
    """Sync now: the link is queued at once (a failed, rejected or waiting one too)."""
    link = get_for_org_or_404(UpstreamLink, key_of(request).organization, pk=pk)
    queued = integration_services.retry_links([link.pk])
    return Status(202, {"detail": f"{link.get_platform_display()}: sync queued.", "queued": queued})
