"""`manage.py readings_partitions [show|ensure]`: the yearly partitions of the readings table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from readings import partitions

# A century either way: enough for any retention or planning, and years stay four digits.
MAX_MONTHS = 1200


class Command(BaseCommand):
    help = (
        "Show the yearly partitions of the readings table (PostgreSQL), or ensure them: create "
        "those of the years the months around now touch (--months-back, --months-ahead) and move "
        "rows waiting in the default partition into their own year. Celery beat runs 'ensure' "
        "every hour."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", nargs="?", choices=["show", "ensure"], default="show")
        parser.add_argument("--months-back", type=int, default=partitions.MONTHS_BACK)
        parser.add_argument("--months-ahead", type=int, default=partitions.MONTHS_AHEAD)
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        if using not in connections:
            raise CommandError(f"No database is configured as {using!r}.")
        for option in ("months_back", "months_ahead"):
            if not 0 <= options[option] <= MAX_MONTHS:
                raise CommandError(
                    f"--{option.replace('_', '-')} takes 0 to {MAX_MONTHS} months, "
                    f"not {options[option]}."
                )
        if not partitions.is_partitioned(using):
            raise CommandError(
                "The readings table is not partitioned here (SQLite, or migration "
                "readings 0008 not applied): nothing to show or ensure."
            )
        if options["action"] == "ensure":
            done = partitions.ensure_partitions(
                using, months_back=options["months_back"], months_ahead=options["months_ahead"]
            )
            self.stdout.write(
                f"{len(done.created)} partition(s) created"
                + (f": {', '.join(done.created)}" if done.created else "")
                + f"; {sum(done.moved.values()):,} row(s) moved out of the default partition."
            )
            for name in done.skipped:
                self.stderr.write(f"{name}: a lock was not granted in time; left for the next run.")
        self._show(using)

    def _show(self, using: str) -> None:
        found = partitions.partitions(using)
        this = datetime.now(UTC).year
        years = [p for p in found if p.year is not None]
        for part in found:
            self.stdout.write(
                f"{part.name:28} ~{part.rows:>13,} rows {part.bytes / 2**20:>10,.1f} MiB"
            )
        ahead = sum(1 for p in years if p.year is not None and p.year > this)
        self.stdout.write(
            f"{len(years)} yearly partition(s), {ahead} ahead of this year; "
            f"{partitions.default_rows(using):,} row(s) in {partitions.DEFAULT_PARTITION}."
        )
