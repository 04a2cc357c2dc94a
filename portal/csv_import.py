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

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, ClassVar, Literal

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, models, transaction

from .csv_reading import (
    DEFAULT_LIMITS,
    ERRORS_SHOWN,
    Column,
    CsvFile,
    FileRejected,
    Issue,
    Limits,
    Row,
    cell_problem,
    header_key,
    read_csv,
    read_upload,
)
from .models import Organization

# Reading the file is csv_reading.py (re-exported here for the importers); the page and the
# command every importer shares are csv_import_views.py.
__all__ = [
    "DEFAULT_LIMITS",
    "Action",
    "Column",
    "CsvFile",
    "FileRejected",
    "ImportResult",
    "Importer",
    "Issue",
    "Limits",
    "Plan",
    "Row",
    "RowError",
    "RowIssues",
    "cell_problem",
    "header_key",
    "in_chunks",
    "read_csv",
    "read_upload",
    "run_import",
    "validation_issues",
]

logger = logging.getLogger(__name__)

Action = Literal["create", "update", "unchanged"]


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
