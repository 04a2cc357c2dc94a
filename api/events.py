"""/api/v1/events: what Spark delivered to the organization's webhook (verified, stored once),
with the customers and meters each event names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from django.db import models
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.params import Path

from integrations.models import WebhookEvent
from portal.tenancy import get_for_org_or_404

from .auth import key_of, needs
from .binding import paginate
from .errors import ERRORS
from .models import Scope
from .schemas import MAX_ID, EventOut, Page

router = Router(tags=["Spark events"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]


def _row(event: WebhookEvent) -> dict[str, Any]:
    return {
        **{
            f: getattr(event, f)
            for f in (
                "id",
                "notification_id",
                "event_id",
                "event_type",
                "notification_type",
                "operation",
                "received_at",
                "processed_at",
                "process_error",
                "deliveries",
            )
        },
        "customers": [c.pk for c in event.customers.all()],
        "meters": [m.pk for m in event.meters.all()],
        "body": event.body if isinstance(event.body, dict) else {"value": event.body},
    }


def _events(request: HttpRequest) -> models.QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(organization=key_of(request).organization).prefetch_related(
        "customers", "meters"
    )


class EventQuery(Schema):
    event_type: str = ""
    customer: int | None = Field(None, ge=1, le=MAX_ID)
    meter: int | None = Field(None, ge=1, le=MAX_ID)
    received_since: datetime | None = None
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=100)


@router.get("/events", response={200: Page[EventOut], **ERRORS}, auth=needs(Scope.READ))
def list_events(request: HttpRequest, filters: Query[EventQuery]) -> Any:
    rows = _events(request)
    if filters.event_type:
        rows = rows.filter(event_type=filters.event_type.replace("\x00", ""))
    if filters.customer:
        rows = rows.filter(customers=filters.customer)
    if filters.meter:
        rows = rows.filter(meters=filters.meter)
    if filters.received_since:
        since = filters.received_since
        rows = rows.filter(received_at__gte=since if since.tzinfo else since.replace(tzinfo=UTC))
    page = paginate(rows, filters.cursor, filters.limit)
    page["items"] = [_row(event) for event in page["items"]]
    return page


@router.get("/events/{pk}", response={200: EventOut, **ERRORS}, auth=needs(Scope.READ))
def get_event(request: HttpRequest, pk: Id) -> Any:
    return _row(get_for_org_or_404(_events(request), key_of(request).organization, pk=pk))
