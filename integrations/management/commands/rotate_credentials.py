"""`manage.py rotate_credentials`: re-encrypt every stored credential with the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations import crypto
from integrations.models import Connection


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials with the newest key (put it first in FIELD_ENCRYPTION_KEY)."
    )

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for connection in Connection.objects.exclude(credentials_encrypted=""):
            Connection.objects.filter(pk=connection.pk).update(
                credentials_encrypted=crypto.rotate(connection.credentials_encrypted)
            )
            count += 1
        self.stdout.write(f"Re-encrypted {count} connection(s).")
