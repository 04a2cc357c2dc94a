"""`manage.py seed_demo`: the demo organization with an owner login (idempotent).

Development only: the owner it makes is a superuser whose password is published (README, this
file), so the command refuses to run unless DEBUG is on (`make run` sets DEBUG=1). Tests and
fixtures that need the demo data call `portal.demo.seed_demo(password)` with their own password.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import DEMO_EMAIL, seed_demo


class Command(BaseCommand):
    help = (
        "Create (or refresh) the demo organization and print its owner login. Development only: "
        "refuses to run unless DEBUG is on."
    )

    def handle(self, *args: object, **options: object) -> None:
        if not settings.DEBUG:
            raise CommandError(
                f"seed_demo makes {DEMO_EMAIL} a superuser with a published password, so it runs "
                "only with DEBUG on (make run sets DEBUG=1). DEBUG is off here: nothing was done.",
                returncode=2,
            )
        password = os.environ.get("DEMO_PASSWORD", "gridfolio-demo")
        organization, user = seed_demo(password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Demo organization: {organization.name}\n"
                f"  Sign in at {settings.PUBLIC_BASE_URL.rstrip('/')}/accounts/login/\n"
                f"    email:    {user.email}\n"
                f"    password: {password}  (unless you changed it)\n"
            )
        )
