"""`manage.py rotate_credentials`: re-encrypt every stored credential with the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations import services


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials and webhook secrets with the newest key (put it first in "
        "FIELD_ENCRYPTION_KEY)."
    )

    def handle(self, *args: object, **options: object) -> None:
        count, endpoints = services.rotate_credentials()
        self.stdout.write(f"Re-encrypted {count} connection(s) and {endpoints} webhook(s).")
