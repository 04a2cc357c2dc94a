"""`manage.py spark_webhook --org SLUG [--test]`: register (or re-register) the Spark webhook."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import services, webhooks
from portal.models import Organization


class Command(BaseCommand):
    help = (
        "Register the organization's Spark webhook (a new secret each time; the previous one keeps "
        "working until Spark accepts the new registration) and print the receiving URL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument(
            "--test", action="store_true", help="then ask Spark to send a test event"
        )

    def handle(self, *args: object, **options: object) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        try:
            endpoint = services.register_spark_webhook(organization)
            self.stdout.write(f"Registered Spark webhook {endpoint.remote_id}")
            self.stdout.write(f"Receiving URL: {endpoint.url}")
            if endpoint.previous_secret_valid_until:
                self.stdout.write(
                    "The previous secret is accepted until "
                    f"{endpoint.previous_secret_valid_until:%Y-%m-%d %H:%M} UTC."
                )
            if endpoint.removal_note:
                self.stdout.write(endpoint.removal_note)
            if options["test"]:
                services.send_spark_test_event(organization)
                if settings.INTEGRATIONS_SANDBOX:
                    # The in-process emulator delivers from a thread of this process: let it finish.
                    from integrations.sandbox.registry import emulator

                    emulator("spark").wait_for_deliveries(15)
                self.stdout.write(
                    "Test event requested: it appears under Events (/integrations/events/)."
                )
        except webhooks.WebhookSetupError as exc:
            raise CommandError(str(exc)) from exc
