"""`manage.py sync_now [--org SLUG]`: run all due sync work in this process and print a summary."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import services
from integrations.models import LinkState, UpstreamLink
from portal.models import Organization


class Command(BaseCommand):
    help = "Sync every pending record now, in this process. Exit status 1 if any ends failed or rejected."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", default="", help="only this organization (slug)")

    def handle(self, *args: object, **options: str) -> None:
        organization_id = None
        if options["org"]:
            organization = Organization.objects.filter(slug=options["org"]).first()
            if organization is None:
                raise CommandError(f"No organization with slug {options['org']!r}.")
            organization_id = organization.pk
        counts = services.sync_now(organization_id)
        self.stdout.write(
            ", ".join(f"{state}: {counts.get(state, 0)}" for state in LinkState.values)
        )
        bad = UpstreamLink.objects.filter(state__in=[LinkState.FAILED, LinkState.REJECTED])
        if organization_id is not None:
            bad = bad.filter(organization_id=organization_id)
        for link in bad.select_related("content_type")[:50]:
            self.stdout.write(f"  {link.get_state_display()}: {link} — {link.last_error}")
        if bad.exists():
            raise CommandError(f"{bad.count()} link(s) failed or were rejected.", returncode=1)
