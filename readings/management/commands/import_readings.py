"""`manage.py import_readings --org SLUG (--device CUSTOM_ID | --meter METER_NUMBER) FILE`.

The upload page's pipeline from a shell: the same checks, the same idempotent store. Every error
and warning is printed as "Row N, column: message"; a rejected file stores nothing and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from devices.models import Device
from homes.models import Meter
from portal.models import Organization
from readings.models import ReadingChannel, Series, UploadStatus
from readings.services import import_readings
from readings.store import series_for


class Command(BaseCommand):
    help = (
        "Import hourly readings (CSV datetime,value_kwh, Green Button XML or CSV, plain or gzip, "
        "told by their content) into one device's or meter's series (a meter's file may fill its "
        "delivered and received channels). Re-importing the same rows changes nothing. Every error is printed and "
        "nothing is stored if there is any (exit status 1)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug.")
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--device", metavar="CUSTOM_ID", help="The device's custom id.")
        owner.add_argument("--meter", metavar="METER_NUMBER", help="The meter's number.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report; store nothing."
        )
        parser.add_argument("file", help="The CSV file ('-' reads standard input).")

    def handle(self, *args: Any, **options: Any) -> None:
        series = self._series(options)
        owner = series.owner
        name = options["file"]
        if name == "-":
            upload = import_readings(
                series, sys.stdin.buffer, filename="stdin.csv", dry_run=options["dry_run"]
            )
        else:
            try:
                stream: BinaryIO = Path(name).open("rb")  # noqa: SIM115 (closed just below)
            except OSError as exc:
                raise CommandError(f"Cannot read {name}: {exc.strerror}.") from None
            with stream:
                upload = import_readings(
                    series, stream, filename=Path(name).name, dry_run=options["dry_run"]
                )
        report = upload.report
        self._print_issues(report)
        if upload.status == UploadStatus.REJECTED:
            count = report["error_count"]
            raise CommandError(
                f"{upload.filename} was rejected ({count:,} error{'s' if count != 1 else ''}); "
                "nothing was stored.",
                returncode=1,
            )
        self.stdout.write(_summary_line(upload.filename, owner, report["summary"]))
        if options["dry_run"]:
            self.stdout.write(self.style.SUCCESS("Dry run: the file is fine; nothing was stored."))
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Stored: {upload.inserted:,} new, {upload.updated:,} changed, "
                    f"{upload.unchanged:,} unchanged."
                )
            )

    def _series(self, options: dict[str, Any]) -> Series:
        """The owner's delivered series with the owner, its home and organization in one query
        (a script may run this once per file, thousands of times); made on the first file."""
        kind, identified = _identified_by(options)
        series = (
            Series.objects.select_related(f"{kind}__home", f"{kind}__organization", "organization")
            .filter(
                channel=ReadingChannel.DELIVERED,
                **{f"{kind}__{lookup}": value for lookup, value in identified.items()},
            )
            .order_by()  # unique per organization: no sort
            .first()
        )
        return series if series is not None else series_for(self._owner(options))

    def _owner(self, options: dict[str, Any]) -> Device | Meter:
        """The device or meter (a first file: its series does not exist yet), with its home and
        organization. Custom ids and meter numbers are unique per organization regardless of
        case."""
        kind, identified = _identified_by(options)
        model: type[Device] | type[Meter] = Device if kind == "device" else Meter
        owner = (
            model.objects.select_related("home", "organization")
            .filter(**identified)
            .order_by()  # unique per organization: no sort, no default ordering's join
            .first()
        )
        if owner is None:
            slug = options["org"]
            organization = Organization.objects.filter(slug=slug).first()
            if organization is None:
                raise CommandError(f"No organization has the slug {slug!r}.")
            missing = (
                f"no device with the custom id {options['device']!r}"
                if kind == "device"
                else f"no meter numbered {options['meter']!r}"
            )
            raise CommandError(f"{organization.name} has {missing}.")
        return owner

    def _print_issues(self, report: dict[str, Any]) -> None:
        for key, total, prefix in (
            ("errors", report["error_count"], ""),
            ("warnings", report["warning_count"], "Warning: "),
        ):
            listed = report[key]
            for issue in listed:
                self.stderr.write(prefix + issue_line(issue))
            if total > len(listed):
                self.stderr.write(f"{prefix}... and {total - len(listed):,} more not listed.")


def issue_line(issue: dict[str, Any]) -> str:
    """ "Row N, column: message", as the device import and a spreadsheet user read it."""
    row, column, message = issue["row"], issue["column"], issue["message"]
    if row is None:
        return f"Column {column}: {message}" if column else f"File: {message}"
    return f"Row {row}, {column}: {message}" if column else f"Row {row}: {message}"


def _summary_line(filename: str, owner: Device | Meter, summary: dict[str, Any]) -> str:
    readings = summary["readings"]
    text = f"{filename} for {owner}: {readings:,} hourly reading{'s' if readings != 1 else ''}"
    if summary["first"]:
        text += (
            f" from {summary['first'][:16].replace('T', ' ')} to "
            f"{summary['last'][:16].replace('T', ' ')} UTC ({summary['timezone']})"
        )
        if summary["missing_hours"]:
            text += f", {summary['missing_hours']:,} hours missing in {summary['gap_count']:,} gaps"
    return text + "."


def _identified_by(options: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """Which kind of owner the options name, and the lookups that find it."""
    if options["device"]:
        return "device", {
            "organization__slug": options["org"],
            "custom_id__iexact": options["device"],
        }
    return "meter", {
        "organization__slug": options["org"],
        "meter_number__iexact": options["meter"],
    }
