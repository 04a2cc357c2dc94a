"""Device pages: list, detail, create (kind first), edit, delete."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from homes.views import home_choices
from portal.crud import ListFilter, OrgDeleteView, OrgDetailView, OrgFormView, OrgListView
from portal.models import Role
from portal.tenancy import org_required

from . import services
from .forms import DeviceForm
from .kinds import KINDS, DeviceKind
from .models import Device, DeviceStatus

MV_CHOICES = (("ready", "M&V ready"), ("not_ready", "Not M&V ready"))


class DeviceList(OrgListView):
    model = Device
    template_name = "devices/device_list.html"
    search_fields = ("name", "custom_id", "home__name", "owner_name")
    filters = (
        ListFilter("kind", "Kind", lambda org: list(DeviceKind.choices), "kind"),
        ListFilter("status", "Status", lambda org: list(DeviceStatus.choices), "status"),
        ListFilter("home", "Home", home_choices, "home_id"),
        # The verdict readings keeps for each series (readings.models.Readiness, by name: readings
        # sits above devices).
        ListFilter("mv", "M&V", lambda org: list(MV_CHOICES), "series__readiness__status"),
    )
    sort_options = {
        "name": ("Name", ("name",)),
        "custom_id": ("Custom id", ("custom_id",)),
        "kind": ("Kind", ("kind", "name")),
        "-created": ("Newest", ("-created_at",)),
    }
    default_sort = "name"
    related = ("home", "series__readiness")


class DeviceDetail(OrgDetailView):
    model = Device
    template_name = "devices/device_detail.html"
    related = ("home", "home__customer", "meter")


@org_required(Role.MEMBER)
def choose_kind(request: HttpRequest) -> HttpResponse:
    """Step one of adding a device: its kind decides which fields the form shows."""
    return render(
        request,
        "devices/choose_kind.html",
        {"kinds": list(KINDS.values()), "query": request.GET.urlencode()},
    )


class DeviceFormView(OrgFormView):
    model = Device
    form_class = DeviceForm
    save = services.save_device
    related = ("home",)
    object: Device | None

    def kind(self) -> str:
        if self.object is not None:
            return self.object.kind
        kind = self.kwargs.get("kind", "")
        if kind not in KINDS:
            raise Http404("Unknown device kind")
        return kind

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["kind"] = self.kind()
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        initial = super().get_initial()
        for name in ("home", "meter"):
            if name in self.request.GET:
                initial[name] = self.request.GET[name]
        return initial

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["kind"] = KINDS[self.kind()]
        return context


class DeviceDelete(OrgDeleteView):
    model = Device
    delete = services.delete_device
