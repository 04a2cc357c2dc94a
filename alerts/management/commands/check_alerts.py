"""`manage.py check_alerts [--org SLUG] [--now ISO] [--digest]`: the beat's alert check, run now
(optionally as if it were another time, to see what a stopped device raises)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from alerts import services
from portal.models import Organization
from readings.services import refresh_stale_readiness


def _instant(text: str) -> datetime:
    value = parse_datetime(text.strip().replace("Z", "+00:00"))
    if value is None:
        raise CommandError(f"--now {text!r}: give an ISO date and time, e.g. 2026-12-16T12:00Z.")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Check every organization's alert conditions (or one's, with --org): raise new alerts, "
        "resolve cleared ones, email members who chose immediate email. --now checks as if it were "
        "that instant (e.g. a week after a device's last reading); --digest also "
        "sends the daily digests. Celery beat runs the check every ALERT_CHECK_INTERVAL_S."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="Only this organization (its slug).")
        parser.add_argument("--now", type=_instant, help="Check as of this instant (ISO 8601).")
        parser.add_argument("--digest", action="store_true", help="Also send the daily digests.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = options["now"]
        refresh_stale_readiness()
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organization with the slug {options['org']!r}.")
            results = [(organization, services.check_organization(organization, now=now))]
        else:
            results = services.check_all(now=now)
        for organization, outcome in results:
            self.stdout.write(
                f"{organization.slug}: {outcome.raised} raised, {outcome.resolved} resolved, "
                f"{outcome.unresolved} unresolved, {outcome.emails} email"
                f"{'s' if outcome.emails != 1 else ''} sent"
            )
        if options["digest"]:
            self.stdout.write(f"digests: {services.send_digests(now=now)} sent")
