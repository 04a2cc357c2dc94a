"""`manage.py rebuild_reading_summaries`: recompute the day summaries the dashboard reads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from readings.summaries import rebuild


class Command(BaseCommand):
    help = (
        "Recompute every series' day summaries (the dashboard's month figures) from its "
        "readings, a batch of series per transaction. The store keeps them current; run this "
        "after writing readings by other means (SQL, a restore of the readings table alone)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--series", type=int, nargs="*", help="Only these series (ids); default: all."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        done = rebuild(series_ids=options["series"])
        self.stdout.write(f"Recomputed the day summaries of {done:,} series.")
