"""The page and the command every importer shares: `ImportForm`, `CsvImportView` (the upload page:
check, then write all or nothing) and `ImportCommand` (`manage.py import_*`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import HttpResponse
from django.urls import reverse
from django.views.generic import FormView

from .csv_import import Importer, run_import
from .csv_reading import DEFAULT_LIMITS, Limits, _size, _too_big
from .models import Organization, Role
from .tenancy import OrgHttpRequest, OrgRequiredMixin


# --- the page and the command every importer shares --------------------------------------------------
class ImportForm(forms.Form):
    """Upload a CSV file, optionally only to check it."""

    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 (with or without BOM), comma- or semicolon-separated, header on the first line.",
    )
    dry_run = forms.BooleanField(
        label="Check only (write nothing)",
        required=False,
        help_text="Reports what the import would do, and every error, without saving anything.",
    )

    def __init__(self, *args: Any, limits: Limits = DEFAULT_LIMITS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.limits.max_bytes:
            raise ValidationError(_too_big(upload.size, self.limits))
        return upload


class CsvImportView(OrgRequiredMixin, FormView):
    """The upload page of one importer: form, expected columns, then the summary or the errors."""

    required_role = Role.MEMBER
    request: OrgHttpRequest
    template_name = "portal/import.html"
    form_class = ImportForm
    importer_class: type[Importer]
    title = "Import"
    intro = ""
    list_url_name = ""
    limits = DEFAULT_LIMITS

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["limits"] = self.limits
        return kwargs

    def template_links(self) -> list[tuple[str, str]]:
        """(label, url) of the downloadable example files."""
        return []

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            title=self.title,
            intro=self.intro,
            columns=self.importer_class.columns,
            template_links=self.template_links(),
            list_url=reverse(self.list_url_name) if self.list_url_name else "",
            max_size=_size(self.limits.max_bytes),
            max_rows=f"{self.limits.max_rows:,}",
            noun_plural=self.importer_class.noun_plural,
        )
        return context

    def form_valid(self, form: ImportForm) -> HttpResponse:
        importer = self.importer_class(self.request.organization)
        result = run_import(
            importer,
            form.cleaned_data["file"],
            dry_run=form.cleaned_data["dry_run"],
            limits=self.limits,
        )
        return self.render_to_response(self.get_context_data(form=form, result=result))


class ImportCommand(BaseCommand):
    """`manage.py import_<things> --org SLUG FILE`: prints every error and exits 1 on any."""

    importer_class: type[Importer]
    limits = DEFAULT_LIMITS

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("file", help="The CSV file ('-' reads standard input).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization has the slug {options['org']!r}.")
        data = self._read(options["file"])
        result = run_import(
            self.importer_class(organization), data, dry_run=options["dry_run"], limits=self.limits
        )
        for warning in result.warnings:
            self.stderr.write(f"Warning: {warning}")
        if not result.ok:
            for error in result.errors:
                self.stderr.write(str(error))
            raise CommandError(result.summary())
        self.stdout.write(self.style.SUCCESS(result.summary()))

    def _read(self, name: str) -> bytes:
        if name == "-":
            return sys.stdin.buffer.read(self.limits.max_bytes + 1)
        try:
            with Path(name).open("rb") as handle:
                return handle.read(self.limits.max_bytes + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {name}: {exc.strerror}.") from None
