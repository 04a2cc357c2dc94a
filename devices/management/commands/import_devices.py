"""`manage.py import_devices --org SLUG FILE [--dry-run]`: the device import page, from a shell."""

from __future__ import annotations

from devices.imports import DeviceImporter
from portal.csv_import_views import ImportCommand


class Command(ImportCommand):
    help = (
        "Import devices from a CSV file in WattCarbon's column names into one organization. "
        "Every error is printed and nothing is written if there is any (exit status 1)."
    )
    importer_class = DeviceImporter
