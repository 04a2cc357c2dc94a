"""/api/v1/customers, homes, meters, devices: list (the list pages' search and filters), read
(with an ETag), create, change (PATCH: only the fields sent), delete; each through the page's
form and the app's service.

The four resources differ only in what `Resource` names, so their operations are made once, by
`register()`. (The operations' annotations are set as objects, not strings: ninja reads them to
build the request parsing and the OpenAPI document.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from operator import getitem
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
from portal.crud import OrgListView, OrgModelForm, search
from portal.tenancy import get_for_org_or_404

from .auth import key_of, needs
from .binding import bind, delete_with, narrow, one, paginate, save_form, since
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
WRITE_ERRORS: dict[int, type[Schema]] = {**ERRORS, 409: ErrorOut}


class ListQuery(Schema):
    q: str = Field("", description="Search, as on the list page.")
    updated_since: datetime | None = Field(
        None, description="Only records changed at or after this instant (poll with the last one)."
    )
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=100)


class HomeQuery(ListQuery):
    state: str = Field("", description="Two-letter state code.")


class MeterQuery(ListQuery):
    location_type: LocationType | None = None
    home: int | None = Field(None, ge=1, le=MAX_ID)


class DeviceQuery(ListQuery):
    kind: DeviceKind | None = None
    status: DeviceStatus | None = None
    home: int | None = Field(None, ge=1, le=MAX_ID)


# What a resource's form gets from a JSON body: (data, API names of the form's fields, the form's
# own keyword arguments), given the record being changed (None on create).
FormInput = tuple[dict[str, Any], dict[str, str], dict[str, Any]]


def _as_is(payload: dict[str, Any], record: Any) -> FormInput:
    return payload, {}, {}


@dataclass(frozen=True)
class Resource:
    """One kind of record the API serves, and the page parts it goes through."""

    name: str  # the path segment: "customers"
    model: type[models.Model]
    out: type[Schema]
    create: type[Schema]
    change: type[Schema]
    query: type[ListQuery]
    list_view: type[OrgListView]
    form: type[OrgModelForm]
    save: Callable[[Any], Any]
    delete: Callable[[Any], None]
    form_input: Callable[[dict[str, Any], Any], FormInput] = field(default=_as_is)


def _org(request: HttpRequest) -> Any:
    return key_of(request).organization


def register(resource: Resource) -> None:
    """The five operations of `resource` on the router."""
    name, model, out = resource.name, resource.model, resource.out
    singular = name.removesuffix("s")

    def list_records(request: HttpRequest, filters: Any) -> Any:
        rows = model._default_manager.filter(organization=_org(request))
        rows = search(rows, resource.list_view.search_fields, filters.q)
        rows = narrow(rows, resource.list_view.filters, filters.model_dump())
        return paginate(since(rows, filters.updated_since), filters.cursor, filters.limit)

    def get_record(request: HttpRequest, pk: int) -> HttpResponse:
        return one(request, get_for_org_or_404(model, _org(request), pk=pk), out)

    def save(request: HttpRequest, body: Schema, record: Any, status: int) -> HttpResponse:
        data, rename, form_kwargs = resource.form_input(body.model_dump(exclude_unset=True), record)
        form = bind(
            resource.form, _org(request), data, instance=record, rename=rename, **form_kwargs
        )
        return one(request, save_form(form, resource.save, rename), out, status)

    def create_record(request: HttpRequest, body: Any) -> HttpResponse:
        return save(request, body, None, 201)

    def update_record(request: HttpRequest, pk: int, body: Any) -> HttpResponse:
        return save(request, body, get_for_org_or_404(model, _org(request), pk=pk), 200)

    def delete_record(request: HttpRequest, pk: int) -> Status[None]:
        delete_with(get_for_org_or_404(model, _org(request), pk=pk), resource.delete)
        return Status(204, None)

    filters_type: Any = getitem(Query, resource.query)  # Query[...] of a class known at run time
    list_records.__annotations__ = {"request": HttpRequest, "filters": filters_type}
    get_record.__annotations__ = {"request": HttpRequest, "pk": Id}
    create_record.__annotations__ = {"request": HttpRequest, "body": resource.create}
    update_record.__annotations__ = {"request": HttpRequest, "pk": Id, "body": resource.change}
    delete_record.__annotations__ = {"request": HttpRequest, "pk": Id}
    read, write = needs(Scope.READ), needs(Scope.WRITE)
    tags = [name]
    router.get(
        f"/{name}",
        response={200: Page[out], **ERRORS},  # type: ignore[valid-type]  # a class made at run time
        auth=read,
        operation_id=f"list_{name}",
        summary=f"List {name}",
        tags=tags,
    )(list_records)
    router.get(
        f"/{name}/{{pk}}",
        response={200: out, 304: None, **ERRORS},
        auth=read,
        operation_id=f"get_{singular}",
        summary=f"Get a {singular}",
        tags=tags,
    )(get_record)
    router.post(
        f"/{name}",
        response={201: out, **WRITE_ERRORS},
        auth=write,
        operation_id=f"create_{singular}",
        summary=f"Create a {singular}",
        tags=tags,
    )(create_record)
    router.patch(
        f"/{name}/{{pk}}",
        response={200: out, **WRITE_ERRORS},
        auth=write,
        operation_id=f"update_{singular}",
        summary=f"Change a {singular}",
        tags=tags,
    )(update_record)
    router.delete(
        f"/{name}/{{pk}}",
        response={204: None, **WRITE_ERRORS},
        auth=write,
        operation_id=f"delete_{singular}",
        summary=f"Delete a {singular}",
        description="Refused (409, with the reasons) while something depends on it.",
        tags=tags,
    )(delete_record)


def _device_input(payload: dict[str, Any], device: Device | None) -> FormInput:
    """The device form's data from a JSON body: `details` flattened into the kind's own fields
    (lists as the form writes them); a detail the kind does not have is refused in the words of
    devices.kinds.validate_details. The kind is chosen on create and fixed after."""
    kind = payload.pop("kind", None)
    if device is not None:
        if kind not in (None, device.kind):
            raise invalid(
                {"kind": [f"A device's kind is fixed once it exists (this one is {device.kind})."]}
            )
        kind = device.kind
    if kind not in KINDS:
        raise invalid({"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    details = payload.pop("details", None) or {}
    known = set(KINDS[kind].field_names())
    strange = {name: details[name] for name in details if name not in known}
    _, messages = validate_details(kind, strange)
    if strange:
        raise invalid({f"details.{name}": [messages[name]] for name in strange})
    for name, value in details.items():
        payload[name] = ", ".join(str(v) for v in value) if isinstance(value, list) else value
    return payload, {name: f"details.{name}" for name in known}, {"kind": kind}


for _resource in (
    Resource(
        "customers",
        Customer,
        CustomerOut,
        CustomerCreate,
        CustomerIn,
        ListQuery,
        CustomerList,
        CustomerForm,
        home_services.save_customer,
        home_services.delete_customer,
    ),
    Resource(
        "homes",
        Home,
        HomeOut,
        HomeCreate,
        HomeIn,
        HomeQuery,
        HomeList,
        HomeForm,
        home_services.save_home,
        home_services.delete_home,
    ),
    Resource(
        "meters",
        Meter,
        MeterOut,
        MeterCreate,
        MeterIn,
        MeterQuery,
        MeterList,
        MeterForm,
        home_services.save_meter,
        home_services.delete_meter,
    ),
    Resource(
        "devices",
        Device,
        DeviceOut,
        DeviceCreate,
        DeviceIn,
        DeviceQuery,
        DeviceList,
        DeviceForm,
        device_services.save_device,
        device_services.delete_device,
        _device_input,
    ),
):
    register(_resource)
