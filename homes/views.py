"""Pages for customers, homes and meters (list, detail, create, edit, delete)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from portal.crud import ListFilter, OrgDeleteView, OrgDetailView, OrgFormView, OrgListView
from portal.models import Organization

from . import services
from .forms import CustomerForm, HomeForm, MeterForm
from .models import Customer, Home, LocationType, Meter


def home_choices(organization: Organization) -> list[tuple[str, str]]:
    """The organization's homes for a list filter (the first 500 by name)."""
    return [
        (str(pk), name)
        for pk, name in Home.objects.filter(organization=organization).values_list("pk", "name")[
            :500
        ]
    ]


class CustomerList(OrgListView):
    model = Customer
    template_name = "homes/customer_list.html"
    search_fields = ("name", "email", "phone", "external_ref")
    sort_options = {"name": ("Name", ("name",)), "-created": ("Newest", ("-created_at",))}
    default_sort = "name"

    def base_queryset(self):
        # A correlated count is evaluated for the page's 50 rows only; annotate(Count("homes"))
        # grouped every customer of the organization before paging (page 300 of 25,000
        # customers: 79 ms, against 5 ms for the page without any count).
        homes = Home.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
        return (
            super()
            .base_queryset()
            .annotate(home_count=Coalesce(Subquery(homes.annotate(n=Count("pk")).values("n")), 0))
        )


class CustomerDetail(OrgDetailView):
    model = Customer
    template_name = "homes/customer_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["homes"] = self.object.homes.annotate(device_count=Count("devices"))
        return context


class CustomerFormView(OrgFormView):
    model = Customer
    form_class = CustomerForm
    save = services.save_customer


class CustomerDelete(OrgDeleteView):
    model = Customer
    delete = services.delete_customer


class HomeList(OrgListView):
    model = Home
    template_name = "homes/home_list.html"
    search_fields = ("name", "street", "city", "zip_code", "customer__name")
    filters = (
        ListFilter(
            "state",
            "State",
            lambda org: [
                (s, s)
                for s in Home.objects.filter(organization=org)
                .order_by("state")
                .values_list("state", flat=True)
                .distinct()
                if s
            ],
            "state",
        ),
    )
    sort_options = {
        "name": ("Name", ("name",)),
        "zip": ("Zip code", ("zip_code",)),
        "-created": ("Newest", ("-created_at",)),
    }
    default_sort = "name"
    related = ("customer", "utility")


class HomeDetail(OrgDetailView):
    model = Home
    template_name = "homes/home_detail.html"
    related = ("customer", "utility", "rate_plan")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["meters"] = self.object.meters.all()
        context["devices"] = self.object.devices.select_related("meter")
        return context


class HomeFormView(OrgFormView):
    model = Home
    form_class = HomeForm
    save = services.save_home
    related = ("customer",)

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if "customer" in self.request.GET:
            initial["customer"] = self.request.GET["customer"]
        return initial


class HomeDelete(OrgDeleteView):
    model = Home
    delete = services.delete_home


class MeterList(OrgListView):
    model = Meter
    template_name = "homes/meter_list.html"
    search_fields = ("meter_number", "meter_point_id", "home__name", "wattics_stream_id")
    filters = (
        ListFilter(
            "location_type", "Location", lambda org: list(LocationType.choices), "location_type"
        ),
        ListFilter("home", "Home", home_choices, "home_id"),
    )
    sort_options = {
        "number": ("Meter number", ("meter_number",)),
        "home": ("Home", ("home__name",)),
        "-created": ("Newest", ("-created_at",)),
    }
    default_sort = "number"
    related = ("home",)


class MeterDetail(OrgDetailView):
    model = Meter
    template_name = "homes/meter_detail.html"
    related = ("home", "home__customer")


class MeterFormView(OrgFormView):
    model = Meter
    form_class = MeterForm
    save = services.save_meter

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        if "home" in self.request.GET:
            initial["home"] = self.request.GET["home"]
        return initial


class MeterDelete(OrgDeleteView):
    model = Meter
    delete = services.delete_meter
