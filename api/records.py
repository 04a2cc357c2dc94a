"""/api/v1/customers, homes, meters, devices: list (the list pages' search and filters), read
(with an ETag), create, change (PATCH: only the fields sent), delete; each through the page's
form and the app's service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.params import Path

from devices import services as device_services
from devices.forms import DeviceForm
from devices.kinds import KINDS, DeviceKind, validate_details
from devices.models import Device, DeviceStatus
from devices.views import DeviceList
from homes import services as home_services
from homes.forms import CustomerForm, HomeForm, MeterForm
from homes.models import Customer, Home, LocationType, Meter
from homes.views import CustomerList, HomeList, MeterList
from portal.tenancy import get_for_org_or_404

from .auth import key_of, needs
from .binding import bind, delete_with, narrow, one, paginate, save_form, search, since
from .errors import ERRORS, ErrorOut, invalid
from .models import Scope
from .schemas import (
    MAX_ID,
    CustomerCreate,
    CustomerIn,
    CustomerOut,
    DeviceCreate,
    DeviceIn,
    DeviceOut,
    HomeCreate,
    HomeIn,
    HomeOut,
    MeterCreate,
    MeterIn,
    MeterOut,
    Page,
)

router = Router()

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
READ_ERRORS = ERRORS
WRITE_ERRORS: dict[int, type[Schema]] = {**READ_ERRORS, 409: ErrorOut}


class ListQuery(Schema):
    q: str = Field("", description="Search, as on the list page.")
    updated_since: datetime | None = Field(
        None, description="Only records changed at or after this instant (poll with the last one)."
    )
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=100)


def _payload(body: Schema) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


def _org(request: HttpRequest) -> Any:
    return key_of(request).organization


# --- customers ------------------------------------------------------------------------------------
@router.get(
    "/customers",
    response={200: Page[CustomerOut], **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["customers"],
)
def list_customers(request: HttpRequest, filters: Query[ListQuery]) -> Any:
    rows: models.QuerySet = Customer.objects.filter(organization=_org(request))
    rows = since(search(rows, CustomerList.search_fields, filters.q), filters.updated_since)
    return paginate(rows, filters.cursor, filters.limit)


@router.get(
    "/customers/{pk}",
    response={200: CustomerOut, 304: None, **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["customers"],
)
def get_customer(request: HttpRequest, pk: Id) -> HttpResponse:
    return one(request, get_for_org_or_404(Customer, _org(request), pk=pk), CustomerOut)


@router.post(
    "/customers",
    response={201: CustomerOut, **WRITE_ERRORS},
    auth=needs(Scope.WRITE),
    tags=["customers"],
)
def create_customer(request: HttpRequest, body: CustomerCreate) -> HttpResponse:
    form = bind(CustomerForm, _org(request), _payload(body))
    return one(request, save_form(form, home_services.save_customer), CustomerOut, 201)


@router.patch(
    "/customers/{pk}",
    response={200: CustomerOut, **WRITE_ERRORS},
    auth=needs(Scope.WRITE),
    tags=["customers"],
)
def update_customer(request: HttpRequest, pk: Id, body: CustomerIn) -> HttpResponse:
    customer = get_for_org_or_404(Customer, _org(request), pk=pk)
    form = bind(CustomerForm, _org(request), _payload(body), instance=customer)
    return one(request, save_form(form, home_services.save_customer), CustomerOut)


@router.delete(
    "/customers/{pk}",
    response={204: None, **WRITE_ERRORS},
    auth=needs(Scope.WRITE),
    tags=["customers"],
)
def delete_customer(request: HttpRequest, pk: Id) -> Status[None]:
    delete_with(get_for_org_or_404(Customer, _org(request), pk=pk), home_services.delete_customer)
    return Status(204, None)


# --- homes ----------------------------------------------------------------------------------------
class HomeQuery(ListQuery):
    state: str = Field("", description="Two-letter state code.")


@router.get(
    "/homes", response={200: Page[HomeOut], **READ_ERRORS}, auth=needs(Scope.READ), tags=["homes"]
)
def list_homes(request: HttpRequest, filters: Query[HomeQuery]) -> Any:
    rows: models.QuerySet = Home.objects.filter(organization=_org(request))
    rows = search(rows, HomeList.search_fields, filters.q)
    rows = narrow(rows, HomeList.filters, filters.model_dump())
    return paginate(since(rows, filters.updated_since), filters.cursor, filters.limit)


@router.get(
    "/homes/{pk}",
    response={200: HomeOut, 304: None, **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["homes"],
)
def get_home(request: HttpRequest, pk: Id) -> HttpResponse:
    return one(request, get_for_org_or_404(Home, _org(request), pk=pk), HomeOut)


@router.post(
    "/homes", response={201: HomeOut, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["homes"]
)
def create_home(request: HttpRequest, body: HomeCreate) -> HttpResponse:
    form = bind(HomeForm, _org(request), _payload(body))
    return one(request, save_form(form, home_services.save_home), HomeOut, 201)


@router.patch(
    "/homes/{pk}", response={200: HomeOut, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["homes"]
)
def update_home(request: HttpRequest, pk: Id, body: HomeIn) -> HttpResponse:
    home = get_for_org_or_404(Home, _org(request), pk=pk)
    form = bind(HomeForm, _org(request), _payload(body), instance=home)
    return one(request, save_form(form, home_services.save_home), HomeOut)


@router.delete(
    "/homes/{pk}", response={204: None, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["homes"]
)
def delete_home(request: HttpRequest, pk: Id) -> Status[None]:
    delete_with(get_for_org_or_404(Home, _org(request), pk=pk), home_services.delete_home)
    return Status(204, None)


# --- meters ---------------------------------------------------------------------------------------
class MeterQuery(ListQuery):
    location_type: LocationType | None = None
    home: int | None = Field(None, ge=1, le=MAX_ID)


@router.get(
    "/meters",
    response={200: Page[MeterOut], **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["meters"],
)
def list_meters(request: HttpRequest, filters: Query[MeterQuery]) -> Any:
    rows: models.QuerySet = Meter.objects.filter(organization=_org(request))
    rows = search(rows, MeterList.search_fields, filters.q)
    rows = narrow(rows, MeterList.filters, filters.model_dump())
    return paginate(since(rows, filters.updated_since), filters.cursor, filters.limit)


@router.get(
    "/meters/{pk}",
    response={200: MeterOut, 304: None, **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["meters"],
)
def get_meter(request: HttpRequest, pk: Id) -> HttpResponse:
    return one(request, get_for_org_or_404(Meter, _org(request), pk=pk), MeterOut)


@router.post(
    "/meters", response={201: MeterOut, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["meters"]
)
def create_meter(request: HttpRequest, body: MeterCreate) -> HttpResponse:
    form = bind(MeterForm, _org(request), _payload(body))
    return one(request, save_form(form, home_services.save_meter), MeterOut, 201)


@router.patch(
    "/meters/{pk}",
    response={200: MeterOut, **WRITE_ERRORS},
    auth=needs(Scope.WRITE),
    tags=["meters"],
)
def update_meter(request: HttpRequest, pk: Id, body: MeterIn) -> HttpResponse:
    meter = get_for_org_or_404(Meter, _org(request), pk=pk)
    form = bind(MeterForm, _org(request), _payload(body), instance=meter)
    return one(request, save_form(form, home_services.save_meter), MeterOut)


@router.delete(
    "/meters/{pk}", response={204: None, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["meters"]
)
def delete_meter(request: HttpRequest, pk: Id) -> Status[None]:
    delete_with(get_for_org_or_404(Meter, _org(request), pk=pk), home_services.delete_meter)
    return Status(204, None)


# --- devices --------------------------------------------------------------------------------------
class DeviceQuery(ListQuery):
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    home: int | None = Field(None, ge=1, le=MAX_ID)


@router.get(
    "/devices",
    response={200: Page[DeviceOut], **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["devices"],
)
def list_devices(request: HttpRequest, filters: Query[DeviceQuery]) -> Any:
    rows: models.QuerySet = Device.objects.filter(organization=_org(request))
    rows = search(rows, DeviceList.search_fields, filters.q)
    rows = narrow(rows, DeviceList.filters, filters.model_dump())
    return paginate(since(rows, filters.updated_since), filters.cursor, filters.limit)


@router.get(
    "/devices/{pk}",
    response={200: DeviceOut, 304: None, **READ_ERRORS},
    auth=needs(Scope.READ),
    tags=["devices"],
)
def get_device(request: HttpRequest, pk: Id) -> HttpResponse:
    return one(request, get_for_org_or_404(Device, _org(request), pk=pk), DeviceOut)


def _device_data(kind: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The device form's data from a JSON body: `details` flattened into the kind's own fields
    (lists as the form writes them); a detail the kind does not have is refused in the words of
    devices.kinds.validate_details."""
    details = payload.pop("details", None) or {}
    payload.pop("kind", None)
    known = set(KINDS[kind].field_names())
    _, messages = validate_details(
        kind, {name: details[name] for name in details if name not in known}
    )
    unknown = {f"details.{name}": [messages[name]] for name in details if name not in known}
    if unknown:
        raise invalid(unknown)
    for name, value in details.items():
        payload[name] = ", ".join(str(v) for v in value) if isinstance(value, list) else value
    return payload, {name: f"details.{name}" for name in known}


@router.post(
    "/devices", response={201: DeviceOut, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["devices"]
)
def create_device(request: HttpRequest, body: DeviceCreate) -> HttpResponse:
    payload = _payload(body)
    kind = payload.get("kind") or ""
    if kind not in KINDS:
        raise invalid({"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    data, rename = _device_data(kind, payload)
    form = bind(DeviceForm, _org(request), data, rename=rename, kind=kind)
    return one(request, save_form(form, device_services.save_device, rename), DeviceOut, 201)


@router.patch(
    "/devices/{pk}",
    response={200: DeviceOut, **WRITE_ERRORS},
    auth=needs(Scope.WRITE),
    tags=["devices"],
)
def update_device(request: HttpRequest, pk: Id, body: DeviceIn) -> HttpResponse:
    device = get_for_org_or_404(Device, _org(request), pk=pk)
    payload = _payload(body)
    if payload.get("kind") not in (None, device.kind):
        raise invalid(
            {"kind": [f"A device's kind is fixed once it exists (this one is {device.kind})."]}
        )
    data, rename = _device_data(device.kind, payload)
    form = bind(DeviceForm, _org(request), data, instance=device, rename=rename, kind=device.kind)
    return one(request, save_form(form, device_services.save_device, rename), DeviceOut)


@router.delete(
    "/devices/{pk}", response={204: None, **WRITE_ERRORS}, auth=needs(Scope.WRITE), tags=["devices"]
)
def delete_device(request: HttpRequest, pk: Id) -> Status[None]:
    delete_with(get_for_org_or_404(Device, _org(request), pk=pk), device_services.delete_device)
    return Status(204, None)
