"""`manage.py seed_demo`: the demo organization with an owner login (idempotent)."""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from portal.demo import seed_demo


class Command(BaseCommand):
    help = "Create (or refresh) the demo organization and print its owner login."

    def handle(self, *args: object, **options: object) -> None:
        password = os.environ.get("DEMO_PASSWORD", "gridfolio-demo")
        organization, user = seed_demo(password)
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Demo organization: {organization.name}\n"
                f"  Sign in at http://127.0.0.1:8000/accounts/login/\n"
                f"    email:    {user.email}\n"
                f"    password: {password}  (unless you changed it)\n"
            )
        )
