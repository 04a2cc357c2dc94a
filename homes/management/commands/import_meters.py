"""`manage.py import_meters --org SLUG FILE [--dry-run]`: the meter import page, from a shell."""

from __future__ import annotations

from homes.imports import MeterImporter
from portal.csv_import_views import ImportCommand


class Command(ImportCommand):
    help = (
        "Import meters (keyed by meterNumber) from a CSV file into one organization. "
        "Every error is printed and nothing is written if there is any (exit status 1)."
    )
    importer_class = MeterImporter
