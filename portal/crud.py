"""Generic organization-scoped list, detail, create, edit and delete views.

Each app's views subclass these and name their model, form, service, search fields, filters and
sort orders; everything else (scoping, roles, messages, pagination, refusal to delete) is here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import DetailView, FormView, ListView, TemplateView

from .lists import columns_for, describe_rows
from .models import Organization, Role
from .signals import delete_blockers
from .tenancy import OrgHttpRequest, OrgOwned, OrgRequiredMixin, get_for_org_or_404

if TYPE_CHECKING:
    from django.core.paginator import _SupportsPagination

# The largest primary key (a bigint): a longer number in a query string is no record's id.
MAX_ID = 2**63 - 1


def query_id(value: str | None) -> int | None:
    """A record id from a query parameter: ASCII digits within a bigint, else None. (str.isdigit()
    alone lets through "²", which int() refuses, and numbers no database column holds.)"""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def query_ids(value: str | None, limit: int) -> list[int]:
    """The record ids of a comma-separated query parameter (at most `limit`; the rest ignored)."""
    ids = (query_id(part) for part in (value or "").split(",")[:limit])
    return [pk for pk in ids if pk is not None]


@dataclass(frozen=True)
class ListFilter:
    """A select above a list: `?name=value` narrows the queryset by `lookup`."""

    name: str
    label: str
    choices: Callable[[Organization], list[tuple[str, str]]]
    lookup: str

    def clean(self, model: type[models.Model], value: str) -> Any:
        """`value` as the filtered field takes it, or None when it can't be one (a hand-edited
        or stale link then shows the whole list instead of an error): the field's own checks
        (a number within the column's range, one of its choices, its length), and no NUL,
        which PostgreSQL refuses in any string."""
        if not value or "\x00" in value:
            return None
        field = _lookup_field(model, self.lookup)
        try:
            return field.clean(value, None)
        except ValidationError:
            return None


def _lookup_field(model: type[models.Model], lookup: str) -> models.Field:
    """The field at the end of `lookup` (the related model's key for a foreign key)."""
    field: Any = None
    for part in lookup.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation:
            model = field.related_model
    return field.target_field if field.is_relation else field


def _with_related(queryset: models.QuerySet, related: tuple[str, ...]) -> models.QuerySet:
    return queryset.select_related(*related) if related else queryset


def search_text(raw: str) -> str:
    """A `?q=` as searched: without NUL characters (PostgreSQL refuses them), at most 200."""
    return raw.replace("\x00", "").strip()[:200]


def search(queryset: models.QuerySet, fields: tuple[str, ...], text: str) -> models.QuerySet:
    """The records where any of `fields` contains `text` (the lists' search; the API's `q`)."""
    text = search_text(text)
    if not text or not fields:
        return queryset
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__icontains": text})
    return queryset.filter(condition)


class _Linked(Protocol):
    def get_absolute_url(self) -> str: ...


def _url_of(record: models.Model) -> str:
    """`record.get_absolute_url()`: every model these views serve defines one (Model doesn't)."""
    return cast(_Linked, record).get_absolute_url()


def _verbose_name(model: type[models.Model]) -> str:
    """The model's verbose name, capitalized (Django always sets one; the stubs allow None)."""
    return str(model._meta.verbose_name).capitalize()


class OrgModelForm(forms.ModelForm):
    """A ModelForm whose related-record choices are limited to the current organization (records
    owned through a parent, like a utility's rate plans, by their queryset's `for_org`)."""

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.instance.organization = organization
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
                queryset = field.queryset
                if any(f.name == "organization" for f in queryset.model._meta.fields):
                    field.queryset = queryset.filter(organization=organization)
                elif hasattr(queryset, "for_org"):
                    field.queryset = queryset.for_org(organization)

    def add_service_errors(self, exc: ValidationError) -> None:
        """Place a service's ValidationError on the matching fields (the rest above the form)."""
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                target = name if name in self.fields else None
                for error in errors:
                    message = " ".join(error.messages)
                    self.add_error(
                        target,
                        message if target or name == NON_FIELD_ERRORS else f"{name}: {message}",
                    )
        else:
            self.add_error(None, exc)

    def unique_in_org(self, field: str, value: str, message: str) -> str:
        """Refuse `value` when another record of this organization has it (case-insensitive)."""
        clash = self._meta.model.objects.filter(
            organization=self.organization, **{f"{field}__iexact": value}
        )
        if self.instance.pk:
            clash = clash.exclude(pk=self.instance.pk)
        if value and clash.exists():
            raise ValidationError(message)
        return value


def save_form(form: OrgModelForm, save: Callable[[Any], Any]) -> Any | None:
    """Save a valid form's record through its service (`save`, e.g. homes.services.save_home), in
    the form's organization; None, with the service's errors placed on the form, when it refuses.
    (The pages' OrgFormView and the public API both save this way.)"""
    record = form.save(commit=False)
    record.organization = form.organization
    try:
        save(record)
    except ValidationError as exc:
        form.add_service_errors(exc)
        return None
    if hasattr(form, "save_m2m"):
        form.save_m2m()
    return record


class OrgListView(OrgRequiredMixin, ListView):
    """A searchable, filterable, sortable, paginated list of the organization's records."""

    request: OrgHttpRequest
    model: type[OrgOwned]
    paginate_by = 50
    search_fields: tuple[str, ...] = ()
    filters: tuple[ListFilter, ...] = ()
    sort_options: dict[str, tuple[str, tuple[str, ...]]] = {}
    default_sort = ""
    related: tuple[str, ...] = ()

    def base_queryset(self) -> models.QuerySet:
        return _with_related(
            self.model.objects.filter(organization=self.request.organization), self.related
        )

    def search_text(self) -> str:
        return search_text(self.request.GET.get("q", ""))

    def filter_values(self) -> dict[str, Any]:
        """Each filter's value from the query string, cleaned; a value it can't take is left out."""
        values = {}
        for list_filter in self.filters:
            value = list_filter.clean(self.model, self.request.GET.get(list_filter.name, ""))
            if value is not None:
                values[list_filter.name] = value
        for column in columns_for(self.model):
            value = column.clean(self.request.GET.get(column.key, ""))
            if value is not None:
                values[column.key] = value
        return values

    def get_queryset(self) -> models.QuerySet:
        queryset = search(self.base_queryset(), self.search_fields, self.search_text())
        values = self.filter_values()
        for list_filter in self.filters:
            if list_filter.name in values:
                queryset = queryset.filter(**{list_filter.lookup: values[list_filter.name]})
        for column in columns_for(self.model):
            if column.key in values:
                queryset = column.narrow(queryset, values[column.key])
        sort = self.request.GET.get("sort", self.default_sort)
        ordering = self.sort_options.get(
            sort, self.sort_options.get(self.default_sort, ("", ("pk",)))
        )[1]
        return queryset.order_by(*ordering, "pk")

    def paginate_queryset(
        self, queryset: _SupportsPagination[Any], page_size: int
    ) -> tuple[Paginator[Any], Page[Any], list[Any], bool]:
        """The page's ids first, then its rows by primary key (a "deferred join").

        OFFSET reads and discards every row before the page, joins included: page 1,997 of an
        organization's 100,000 devices took ~300 ms of SQL that way. The ids alone, in the list's
        order, come from the (organization, name, id) index without reading the table (~10 ms),
        and the 50 rows are then fetched by primary key.
        """
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        # get_queryset() gives a QuerySet, and the page's slice of a QuerySet is one too.
        assert isinstance(queryset, models.QuerySet) and isinstance(object_list, models.QuerySet)
        ids = list(object_list.values_list("pk", flat=True))
        rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
        page.object_list = [rows[pk] for pk in ids if pk in rows]
        # Columns other apps add (portal/lists.py), described for this page's rows only.
        self.extra_columns = describe_rows(self.model, page.object_list)
        return paginator, page, page.object_list, is_paginated

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        organization = self.request.organization
        params = self.request.GET
        values = self.filter_values()
        context["q"] = self.search_text()
        context["sort"] = params.get("sort", self.default_sort)
        context["sort_options"] = [(key, label) for key, (label, _) in self.sort_options.items()]
        context["filter_controls"] = [
            {
                "name": f.name,
                "label": f.label,
                "choices": f.choices(organization),
                "value": str(values.get(f.name, "")),
            }
            for f in self.filters
        ] + [
            {
                "name": column.key,
                "label": column.label,
                "choices": column.choices(),
                "value": str(values.get(column.key, "")),
            }
            for column in columns_for(self.model)
        ]
        context["extra_columns"] = getattr(self, "extra_columns", [])
        kept = {key: value for key, value in params.items() if key != "page" and value}
        context["querystring"] = urlencode(kept)
        context["is_filtered"] = bool(context["q"] or values)
        return context


class OrgObjectMixin:
    """Fetches the record through the organization (another organization's record is a 404)."""

    request: OrgHttpRequest
    kwargs: dict[str, Any]
    model: type[OrgOwned]
    related: tuple[str, ...] = ()

    def get_object(self, queryset: models.QuerySet | None = None) -> OrgOwned:
        source = _with_related(self.model.objects.all(), self.related)
        return get_for_org_or_404(source, self.request.organization, pk=self.kwargs["pk"])


def record_timezone(record: object) -> str:
    """The zone a record's page shows its times in (README, "Time"): a home's own, a device's or
    meter's home's; "" for records with no place (customers: the organization's zone)."""
    zone = getattr(record, "timezone", "") or getattr(getattr(record, "home", None), "timezone", "")
    return zone if isinstance(zone, str) else ""


class OrgDetailView(OrgRequiredMixin, OrgObjectMixin, DetailView):
    """A record's page, its times in the record's own zone (`page_timezone`, used by base.html)."""

    request: OrgHttpRequest

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["page_timezone"] = record_timezone(self.object)
        return context


class OrgFormView(OrgRequiredMixin, FormView):
    """Create (no pk) or edit (pk) a record through its service."""

    required_role = Role.MEMBER
    request: OrgHttpRequest
    model: type[OrgOwned]
    form_class: type[OrgModelForm]
    save: ClassVar[Callable[[Any], Any]]  # the service, e.g. homes.services.save_home
    related: tuple[str, ...] = ()
    object: OrgOwned | None

    def setup(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        super().setup(request, *args, **kwargs)
        self.object = None

    def get_object(self) -> OrgOwned | None:
        if "pk" not in self.kwargs:
            return None
        source = _with_related(self.model.objects.all(), self.related)
        return get_for_org_or_404(source, self.request.organization, pk=self.kwargs["pk"])

    def get_form_kwargs(self) -> dict[str, Any]:
        self.object = self.get_object()
        kwargs = super().get_form_kwargs()
        kwargs["organization"] = self.request.organization
        kwargs["instance"] = self.object
        return kwargs

    def get_template_names(self) -> list[str]:
        meta = self.model._meta
        return [f"{meta.app_label}/{meta.model_name}_form.html", "portal/record_form.html"]

    def form_valid(self, form: OrgModelForm) -> HttpResponse:
        record = save_form(form, type(self).save)
        if record is None:
            return self.form_invalid(form)
        verb = "saved" if self.object else "created"
        messages.success(self.request, f"{_verbose_name(self.model)} “{record}” {verb}.")
        return HttpResponseRedirect(record.get_absolute_url())

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["object"] = self.object
        context["verbose_name"] = self.model._meta.verbose_name
        context["cancel_url"] = _url_of(self.object) if self.object else self.list_url()
        return context

    def list_url(self) -> str:
        return reverse(f"{self.model._meta.model_name}_list")


class OrgDeleteView(OrgRequiredMixin, OrgObjectMixin, TemplateView):
    """Confirm, then delete through the service; refused (with the reasons) while something depends on it."""

    required_role = Role.MEMBER
    request: OrgHttpRequest
    template_name = "portal/record_confirm_delete.html"
    delete: ClassVar[Callable[[Any], None]]  # the service, e.g. homes.services.delete_home

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        record = self.get_object()
        context["object"] = record
        context["verbose_name"] = self.model._meta.verbose_name
        context["blockers"] = delete_blockers(record) + self.dependents(record)
        return context

    def dependents(self, record: models.Model) -> list[str]:
        """Local records that would block the delete (PROTECT), named for the confirmation page."""
        reasons = []
        for relation in record._meta.related_objects:
            accessor = relation.get_accessor_name()
            if relation.on_delete is models.PROTECT and accessor is not None:
                count = getattr(record, accessor).count()
                if count:
                    name = relation.related_model._meta.verbose_name
                    reasons.append(
                        f"It has {count} {name}{'s' if count > 1 else ''}: delete or move them first."
                    )
        return reasons

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        record = self.get_object()
        try:
            type(self).delete(record)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(_url_of(record))
        messages.success(request, f"{_verbose_name(self.model)} “{record}” deleted.")
        return redirect(reverse(f"{self.model._meta.model_name}_list"))
