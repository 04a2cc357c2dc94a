"""`manage.py api_key create --org SLUG --name N --scopes S,S [--expires DAYS]` prints a new key
once; `api_key list --org SLUG` shows the keys (prefixes only); `api_key revoke --org SLUG PREFIX`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api import services
from api.models import ApiKey, Scope
from portal.models import Organization


class Command(BaseCommand):
    help = "Create (printing the key once), list or revoke an organization's API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it (shown this once)")
        create.add_argument("--org", required=True, help="organization slug")
        create.add_argument("--name", required=True, help="what will use the key")
        create.add_argument(
            "--scopes", required=True, help=f"comma-separated: {','.join(Scope.values)}"
        )
        create.add_argument("--expires", type=int, default=None, help="days until it expires")
        listing = sub.add_parser("list", help="the organization's keys (never their secrets)")
        listing.add_argument("--org", required=True)
        revoke = sub.add_parser("revoke", help="revoke a key by its prefix (gf_xxxxxxxx)")
        revoke.add_argument("--org", required=True)
        revoke.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['org']!r}.")
        action = options["action"]
        if action == "create":
            try:
                new_key = services.create_api_key(
                    organization,
                    name=options["name"],
                    scopes=options["scopes"].split(","),
                    expires_days=options["expires"],
                )
            except ValidationError as exc:
                raise CommandError(
                    "; ".join(f"{field}: {' '.join(m)}" for field, m in exc.message_dict.items())
                ) from exc
            self.stderr.write(
                f"Key “{new_key.api_key.name}” for {organization.slug}, scopes "
                f"{','.join(new_key.api_key.scopes)}: shown this once, only its hash is kept."
            )
            self.stdout.write(new_key.plaintext)
        elif action == "list":
            for key in ApiKey.objects.filter(organization=organization):
                state = "revoked" if key.revoked_at else ("expired" if key.is_expired else "active")
                self.stdout.write(
                    "\t".join(
                        [
                            key.prefix,
                            key.name,
                            ",".join(key.scopes),
                            state,
                            key.expires_at.isoformat() if key.expires_at else "-",
                            key.last_used_at.isoformat() if key.last_used_at else "-",
                        ]
                    )
                )
        else:
            found = ApiKey.objects.filter(
                organization=organization, prefix=options["prefix"]
            ).first()
            if found is None:
                raise CommandError(f"{organization.slug} has no key {options['prefix']!r}.")
            services.revoke_api_key(found)
            self.stdout.write(f"revoked {found.prefix} ({found.name})")
