"""`manage.py connect --org SLUG --platform P [--profile quickstart|current] [--base-url URL]
[--token-url URL] (--username U --password P | --api-key K)`."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations import services
from integrations.models import PROFILE_HELP, Connection, Platform, Profile
from portal.models import Organization


class Command(BaseCommand):
    help = (
        "Connect an organization to a platform. The pair is the platform's own: WattCarbon account "
        "email and API key, Spark client id and secret, Wattics Basic user and password; WattShift "
        "takes --api-key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--platform", required=True, choices=Platform.values)
        parser.add_argument(
            "--profile",
            choices=Profile.values,
            default="",
            help="which version of the platform's API to speak (default: keep the connection's; "
            "a new one: quickstart). "
            + " ".join(f"{p}: {PROFILE_HELP[p]}" for p in Profile.values),
        )
        parser.add_argument(
            "--base-url", default="", help="the platform's address (default: its production API)"
        )
        parser.add_argument(
            "--token-url",
            default="",
            help="Spark only: the token endpoint (default: SPARK_TOKEN_URL, the seed's)",
        )
        parser.add_argument("--username", default="")
        parser.add_argument("--password", default="")
        parser.add_argument("--api-key", default="")
        parser.add_argument(
            "--disable", action="store_true", help="keep the connection but stop syncing"
        )
        parser.add_argument("--test", action="store_true", help="sign in once and print the answer")

    def handle(self, *args: object, **options: str) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with slug {options['org']!r}.")
        platform = options["platform"]
        if platform == Platform.WATTSHIFT:
            if (
                not options["api_key"]
                and not Connection.objects.filter(
                    organization=organization, platform=platform
                ).exists()
            ):
                raise CommandError("WattShift takes --api-key.")
            if options["username"] or options["password"]:
                raise CommandError("WattShift takes --api-key, not --username/--password.")
        else:
            if options["api_key"]:
                raise CommandError(
                    f"{Platform(platform).label} takes --username and --password, not --api-key."
                )
            if bool(options["username"]) != bool(options["password"]):
                raise CommandError("Give --username and --password together.")
        connection = Connection.objects.filter(
            organization=organization, platform=platform
        ).first() or Connection(organization=organization, platform=platform)
        if not connection.has_credentials and not (options["api_key"] or options["password"]):
            raise CommandError("A new connection needs its credentials.")
        if options["token_url"] and platform != Platform.SPARK:
            raise CommandError("Only Spark connections take --token-url.")
        if options["profile"]:
            connection.profile = options["profile"]
        if options["base_url"]:
            connection.base_url = options["base_url"]
        if options["token_url"]:
            connection.token_url = options["token_url"]
        connection.enabled = not options["disable"]
        try:
            services.save_connection(
                connection,
                username=options["username"],
                password=options["password"],
                api_key=options["api_key"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(
            f"{connection.get_platform_display()} connected for {organization} at {connection.effective_base_url}."
        )
        if options["test"]:
            check = services.test_connection(connection)
            self.stdout.write(("OK: " if check.ok else "FAILED: ") + check.message)
            if not check.ok:
                raise CommandError("The platform refused the credentials.")
