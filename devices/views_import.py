"""The device import page and the per-kind CSV templates."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from portal.csv_import_views import CsvImportView
from portal.models import Role
from portal.tenancy import org_required

from .import_templates import template_csv
from .imports import DeviceImporter
from .kinds import KINDS


class DeviceImportView(CsvImportView):
    importer_class = DeviceImporter
    title = "Import devices"
    intro = (
        "One device per row, in WattCarbon's column names: a file prepared for WattCarbon's bulk "
        "upload imports as is. Homes, customers and meters the rows name are created when missing. "
        "Every row is checked first; if any has an error, nothing is written."
    )
    list_url_name = "device_list"

    def template_links(self) -> list[tuple[str, str]]:
        return [
            (spec.label, reverse("device_import_template", args=[kind]))
            for kind, spec in KINDS.items()
        ]


@org_required(Role.VIEWER)
def device_import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """A kind's CSV template: it reveals nothing of the organization, so any member may have it."""
    if kind not in KINDS:
        raise Http404("Unknown device kind")
    response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="gridfolio-devices-{kind}.csv"'
    return response
