"""NetBox-style CSV import: read the file, check every row, then write all of it or none of it.

An app describes its import with an `Importer` subclass (its columns, how to look up what exists,
and how to plan one row); `run_import()` does the rest the same way for every kind of record:

1. The file as a whole: size, encoding (UTF-8 with or without a BOM), delimiter (comma or
   semicolon), header (unknown, duplicate and missing required columns), row limit. A problem here
   rejects the file before any row is read.
2. Every row is planned against what the organization already holds (loaded once, in bulk):
   create, update or unchanged, or a list of "Row N, column: message" errors. All rows are checked,
   so the user can fix the whole file at once.
3. Only when no row has an error (and this is not a dry run) are the plans written, through the
   apps' services, in one transaction. Unchanged rows are not saved, so nothing announces them.

Row numbers are the file's line numbers (header = 1), as a text editor or spreadsheet shows them.
The same `ImportForm`, `CsvImportView` and `ImportCommand` serve every importer.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, models, transaction
from django.http import HttpResponse
from django.urls import reverse
from django.views.generic import FormView

from .models import Organization, Role
from .tenancy import OrgHttpRequest, OrgRequiredMixin

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]

_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# More errors than this are still counted, but a page would be unreadable: it shows the first ones.
ERRORS_SHOWN = 1000


# --- what a file may hold -------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One column an importer understands: its name in the header and what goes in it."""

    name: str
    help: str = ""
    required: bool = False  # the header must have it (a cell may still be blank where allowed)
    aliases: tuple[str, ...] = ()


def header_key(name: str) -> str:
    """How header names are compared: case, spaces, dots, dashes and underscores do not matter,
    so `customId`, `custom_id` and `Custom ID` are the same column."""
    return re.sub(r"[\s_.\-]+", "", name).lower()


@dataclass(frozen=True)
class Limits:
    """What one import may cost; a whole portfolio's worth of rows still fits in one file."""

    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 50_000


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Issue:
    """One problem, located by file row (header = 1; None for the file as a whole) and column."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"File: {self.message}"
        if self.column:
            return f"Row {self.row}, {self.column}: {self.message}"
        return f"Row {self.row}: {self.message}"


class FileRejected(Exception):
    """The file as a whole cannot be imported; `issues` say why."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.issues = [Issue(None, None, message) for message in messages]


@dataclass
class Row:
    """One data row: canonical column name -> stripped cell text, for the columns the file has."""

    number: int
    cells: dict[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "")

    def has(self, column: str) -> bool:
        """Whether the file has this column at all (a blank cell and a missing column differ on
        update: a missing column leaves the field as it is)."""
        return column in self.cells


@dataclass
class CsvFile:
    """A file that passed the file-level checks."""

    columns: list[str]
    rows: list[Row]
    delimiter: str
    issues: list[Issue] = field(default_factory=list)  # rows too broken to plan


def _size(n_bytes: int) -> str:
    return f"{n_bytes / (1024 * 1024):.1f} MB"


def read_upload(source: bytes | IO[bytes], limits: Limits = DEFAULT_LIMITS) -> bytes:
    """The file's bytes, refusing more than `limits.max_bytes` without reading it all."""
    if isinstance(source, bytes):
        data = source
    else:
        size = getattr(source, "size", None)
        if size is not None and size > limits.max_bytes:
            raise FileRejected(_too_big(size, limits))
        data = source.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise FileRejected(_too_big(len(data), limits))
    return data


def _too_big(n_bytes: int, limits: Limits) -> str:
    return (
        f"The file is {_size(n_bytes)}; at most {_size(limits.max_bytes)} can be imported at once. "
        "Split it into smaller files."
    )


def _decode(data: bytes) -> str:
    if data.startswith(_UTF16_BOMS):
        raise FileRejected("The file is UTF-16 text. Save it as “CSV UTF-8” and upload it again.")
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if b"\x00" in data:
        raise FileRejected("This is not a CSV text file (it contains binary data).")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRejected(
            f"Line {line} is not UTF-8 text. Save the file as “CSV UTF-8” and upload it again."
        ) from None
    if not text.strip():
        raise FileRejected("The file is empty.")
    return text


_EXCEL_SEP = re.compile(r"sep=([,;])\r?\n")
# OWASP "CSV Injection": a spreadsheet runs a cell that starts with one of these. Refused on
# import, so nothing imported becomes a formula in a later export or a platform's own sheet; a
# number (-5, +1.5e3) or a "latitude, longitude" pair is data, not a formula.
_FORMULA_START = ("=", "+", "-", "@")
_NUMBERS = re.compile(r"[+-]?\d+(?:[.,]\d+)?(?:[eE][+-]?\d+)?(?:\s*[,;]\s*[+-]?\d+(?:\.\d+)?)?")
# C0 controls and DEL, except tab and line ends (a quoted cell may hold those).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Longer than any real row (a 40-column row is ~2 KB): a line of millions of commas costs ~70
# bytes a cell once split, so it is refused before the csv module reads it.
MAX_LINE_CHARS = 256 * 1024
UNKNOWN_COLUMNS_SHOWN = 20


def cell_problem(value: str) -> str | None:
    """Why a (stripped) cell cannot be imported as it is, or None."""
    if value.startswith(_FORMULA_START) and not _NUMBERS.fullmatch(value):
        shown = value if len(value) <= 40 else value[:39] + "…"
        return (
            f"“{shown}” starts with “{value[0]}”, which makes a spreadsheet run it as a "
            "formula; remove that character."
        )
    if _CONTROL.search(value):
        return "This cell holds an invisible control character (from a copy and paste?); retype it."
    return None


def _lines(text: str) -> Iterator[str]:
    """The file's lines for the csv reader, refusing one longer than any real row."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise FileRejected(
                f"Line {number:,} is longer than {MAX_LINE_CHARS:,} characters, which no row of "
                "an import is: check that this is the right file (and that its lines end)."
            )
        yield line


def _delimiter(text: str) -> tuple[str, int]:
    """(delimiter, line of the header).

    Excel may write a first line `sep=;`. Otherwise the header decides: column names hold neither
    commas nor semicolons, so whichever separates more of them is the delimiter (a spreadsheet in
    a decimal-comma locale writes semicolons).
    """
    if match := _EXCEL_SEP.match(text):
        return match.group(1), 2
    header = text.split("\n", 1)[0]
    return (";" if header.count(";") > header.count(",") else ","), 1


def read_csv(data: bytes, columns: Sequence[Column], limits: Limits = DEFAULT_LIMITS) -> CsvFile:
    """Parse and check a whole file against `columns`; raises FileRejected for file-level errors."""
    text = _decode(data)
    delimiter, expected_header_line = _delimiter(text)
    reader = csv.reader(_lines(text), delimiter=delimiter, strict=True)
    if expected_header_line == 2:
        next(reader)  # the `sep=` line
    records = _records(reader)
    try:
        first = next(records, None)
        if first is None:
            raise FileRejected("The file is empty.")
        header_line, header = first
        if header_line != expected_header_line:
            raise FileRejected("The first line must be the header (the column names).")
        names = _match_header(header, columns)
        rows: list[Row] = []
        issues: list[Issue] = []
        width = len(header)
        count = 0
        for line, cells in records:
            count += 1
            if count > limits.max_rows:
                raise FileRejected(
                    f"The file has more than {limits.max_rows:,} rows; import at most "
                    f"{limits.max_rows:,} at a time (split the file)."
                )
            extra = cells[width:]
            if len(cells) < width or any(value.strip() for value in extra):
                issues.append(
                    Issue(
                        line,
                        None,
                        f"This row has {len(cells)} values but the header has {width} columns "
                        "(check the delimiters and quotes).",
                    )
                )
                continue
            row_cells = {}
            for position, name in enumerate(names):
                if name is None:
                    if cells[position].strip():
                        issues.append(
                            Issue(
                                line,
                                f"column {position + 1}",
                                "This column has no name in the header.",
                            )
                        )
                    continue
                value = cells[position].strip()
                problem = cell_problem(value)
                if problem:
                    issues.append(Issue(line, name, problem))
                row_cells[name] = value
            rows.append(Row(line, row_cells))
    except csv.Error as exc:
        raise FileRejected(
            f"Line {reader.line_num} cannot be read: {exc}. Check its quotes."
        ) from None
    if not rows and not issues:
        raise FileRejected("The file has a header but no rows.")
    return CsvFile([name for name in names if name], rows, delimiter, issues)


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) per non-blank record; a quoted cell may span lines."""
    previous = reader.line_num
    for cells in reader:
        line = previous + 1
        previous = reader.line_num
        if any(cell.strip() for cell in cells):
            yield line, cells


def _match_header(header: list[str], columns: Sequence[Column]) -> list[str | None]:
    """Canonical column name per header position (None for an unnamed, ignored column)."""
    known: dict[str, str] = {}
    for column in columns:
        for alias in (column.name, *column.aliases):
            known[header_key(alias)] = column.name
    names: list[str | None] = []
    unknown: list[str] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for position, raw in enumerate(header, start=1):
        title = raw.strip()
        if not title:
            names.append(None)
            continue
        name = known.get(header_key(title))
        if name is None:
            unknown.append(title)
            names.append(None)
            continue
        if name in seen:
            problems.append(
                f"The column {name} appears twice (columns {seen[name]} and {position})."
            )
        seen[name] = position
        names.append(name)
    if unknown:
        shown = [name if len(name) <= 40 else name[:39] + "…" for name in unknown]
        listed = ", ".join(shown[:UNKNOWN_COLUMNS_SHOWN])
        if len(unknown) > UNKNOWN_COLUMNS_SHOWN:
            listed += f" and {len(unknown) - UNKNOWN_COLUMNS_SHOWN:,} more"
        problems.append(
            f"Unknown column{'s' if len(unknown) > 1 else ''}: {listed}. "
            f"The columns are: {', '.join(c.name for c in columns)}."
        )
    missing = [column.name for column in columns if column.required and column.name not in seen]
    if missing:
        problems.append(
            f"Missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."
        )
    if problems:
        raise FileRejected(*problems)
    return names


# --- planning rows ---------------------------------------------------------------------------------
class RowError(Exception):
    """Raised while writing a row: (column, message) pairs, e.g. from a service's ValidationError."""

    def __init__(self, issues: list[tuple[str | None, str]]) -> None:
        super().__init__("; ".join(message for _, message in issues))
        self.issues = issues


def validation_issues(
    exc: ValidationError, columns: Mapping[str, str]
) -> list[tuple[str | None, str]]:
    """A model ValidationError as (column, message) pairs; `columns` maps field name -> column."""
    if not hasattr(exc, "error_dict"):
        return [(None, message) for message in exc.messages]
    issues: list[tuple[str | None, str]] = []
    for name, errors in exc.message_dict.items():
        column = columns.get(name)
        for message in errors:
            if column or name == NON_FIELD_ERRORS:
                issues.append((column, message))
            else:
                issues.append((None, f"{name}: {message}"))
    return issues


class RowIssues:
    """Collects one row's errors and warnings."""

    def __init__(self, row: int, errors: list[Issue], warnings: list[Issue]) -> None:
        self.row = row
        self._errors = errors
        self._warnings = warnings
        self.count = 0
        self.columns: set[str | None] = set()  # columns that already have an error

    def error(self, column: str | None, message: str) -> None:
        self._errors.append(Issue(self.row, column, message))
        self.count += 1
        self.columns.add(column)

    def warn(self, column: str | None, message: str) -> None:
        self._warnings.append(Issue(self.row, column, message))

    @property
    def any(self) -> bool:
        return self.count > 0

    def check_fields(
        self, instance: models.Model, columns: Mapping[str, str], exclude: Iterable[str] = ()
    ) -> bool:
        """Run the model's field validation (lengths, validators, choices) without queries.

        Relations are left out (`exclude`): validating a foreign key queries the database, and the
        service's full_clean checks them again when the row is written. Fields whose column already
        has an error on this row are skipped, so one mistake gives one message.
        """
        skip = set(exclude) | {name for name, column in columns.items() if column in self.columns}
        try:
            instance.clean_fields(exclude=skip)
        except ValidationError as exc:
            for column, message in validation_issues(exc, columns):
                self.error(column, message)
            return False
        return True


@dataclass
class Plan:
    """What one row will do; `write` is None for an unchanged row (which is not saved)."""

    row: int
    action: Action
    write: Callable[[], None] | None = None


class Importer:
    """An app's import: its columns, what to load up front and how to plan a row.

    Subclasses load what the file refers to in bulk (`load`), then `plan` each row against it,
    recording problems on `issues` and returning None for a row with errors.
    """

    columns: ClassVar[tuple[Column, ...]] = ()
    noun: ClassVar[str] = "record"
    noun_plural: ClassVar[str] = "records"

    def __init__(self, organization: Organization) -> None:
        self.organization = organization
        self.delimiter = ","

    def load(self, rows: Sequence[Row]) -> None:
        """Fetch the existing records the rows refer to, once, into dicts."""

    def plan(self, row: Row, issues: RowIssues) -> Plan | None:
        raise NotImplementedError

    def also_created(self) -> list[tuple[int, str, str]]:
        """Other records the import creates: (count, singular, plural), e.g. (2, "home", "homes")."""
        return []


def in_chunks[T](values: Iterable[T], size: int = 1000) -> Iterator[list[T]]:
    """`values` in lists of at most `size`: SQLite limits the parameters of one query."""
    chunk: list[T] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- running an import -----------------------------------------------------------------------------
def _count(n: int, singular: str, plural: str) -> str:
    return f"{n:,} {singular if n == 1 else plural}"


@dataclass
class ImportResult:
    """What an import did (or, for a dry run or a file with errors, would have done)."""

    noun: str
    noun_plural: str
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    also_created: list[tuple[int, str, str]] = field(default_factory=list)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    @property
    def rows(self) -> int:
        return self.created + self.updated + self.unchanged

    @property
    def shown_errors(self) -> list[Issue]:
        return self.errors[:ERRORS_SHOWN]

    @property
    def hidden_errors(self) -> int:
        return max(0, len(self.errors) - ERRORS_SHOWN)

    def summary(self) -> str:
        if not self.ok:
            return (
                f"{_count(len(self.errors), 'error', 'errors')} found: nothing was written. "
                "Fix the file and import it again."
            )
        counts = (
            f"{_count(self.created, self.noun, self.noun_plural)} "
            f"{'to create' if self.dry_run else 'created'}, {self.updated:,} "
            f"{'to update' if self.dry_run else 'updated'}, {self.unchanged:,} unchanged"
        )
        others = [_count(n, singular, plural) for n, singular, plural in self.also_created if n]
        if others:
            counts += f"; also {'to create' if self.dry_run else 'created'}: {', '.join(others)}"
        if self.dry_run:
            return f"Check passed: {counts}. Nothing was written (check only)."
        return f"Imported: {counts}."


def run_import(
    importer: Importer,
    source: bytes | IO[bytes],
    *,
    dry_run: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> ImportResult:
    """Check every row of the file, then write all rows in one transaction (or none)."""
    result = ImportResult(importer.noun, importer.noun_plural, dry_run=dry_run)
    try:
        csv_file = read_csv(read_upload(source, limits), importer.columns, limits)
    except FileRejected as exc:
        result.errors = exc.issues
        return result
    importer.delimiter = csv_file.delimiter
    importer.load(csv_file.rows)
    errors: list[Issue] = list(csv_file.issues)
    plans: list[Plan] = []
    for row in csv_file.rows:
        issues = RowIssues(row.number, errors, result.warnings)
        plan = importer.plan(row, issues)
        if plan is not None and not issues.any:
            plans.append(plan)
    errors.sort(key=lambda issue: issue.row or 0)
    result.errors = errors
    if errors:
        return result
    for plan in plans:
        if plan.action == "create":
            result.created += 1
        elif plan.action == "update":
            result.updated += 1
        else:
            result.unchanged += 1
    result.also_created = importer.also_created()
    if dry_run:
        return result
    try:
        _write(plans)
    except _Aborted as aborted:
        result.errors = aborted.issues
        return result
    logger.info(
        "CSV import of %s into organization %s: %s created, %s updated, %s unchanged",
        importer.noun_plural,
        importer.organization.pk,
        result.created,
        result.updated,
        result.unchanged,
    )
    return result


class _Aborted(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(issues)
        self.issues = issues


def _write(plans: Sequence[Plan]) -> None:
    # Every row was checked, so an error here means the data changed meanwhile (or a rule only the
    # database knows): report it on its row and roll the whole file back.
    with transaction.atomic():
        for plan in plans:
            if plan.write is None:
                continue
            try:
                plan.write()
            except RowError as exc:
                raise _Aborted([_written(plan.row, c, m) for c, m in exc.issues]) from exc
            except ValidationError as exc:
                raise _Aborted([_written(plan.row, None, m) for m in exc.messages]) from exc
            except DatabaseError as exc:
                logger.warning("CSV import row %s failed: %s", plan.row, exc)
                raise _Aborted(
                    [_written(plan.row, None, "The database refused this row; try again.")]
                ) from exc


def _written(row: int, column: str | None, message: str) -> Issue:
    return Issue(row, column, f"{message} (while saving: nothing was written)")


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
