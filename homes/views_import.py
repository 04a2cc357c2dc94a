"""The meter import page."""

from __future__ import annotations

from portal.csv_import_views import CsvImportView

from .imports import MeterImporter


class MeterImportView(CsvImportView):
    importer_class = MeterImporter
    title = "Import meters"
    intro = (
        "One meter per row, keyed by its meter number; each meter's home must already exist. "
        "Every row is checked first; if any has an error, nothing is written."
    )
    list_url_name = "meter_list"
