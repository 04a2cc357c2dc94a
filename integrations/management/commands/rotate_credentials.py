"""`manage.py rotate_credentials`: re-encrypt every stored credential with the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from integrations import crypto
from integrations.models import Connection, WebhookEndpoint

WEBHOOK_SECRET_FIELDS = (
    "secret_encrypted",
    "candidate_secret_encrypted",
    "previous_secret_encrypted",
)


class Command(BaseCommand):
    help = (
        "Re-encrypt stored credentials and webhook secrets with the newest key (put it first in "
        "FIELD_ENCRYPTION_KEY)."
    )

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for connection in Connection.objects.exclude(credentials_encrypted=""):
            Connection.objects.filter(pk=connection.pk).update(
                credentials_encrypted=crypto.rotate(connection.credentials_encrypted)
            )
            count += 1
        endpoints = 0
        for endpoint in WebhookEndpoint.objects.all():
            # Each field only if unchanged since read: a registration may promote a secret meanwhile.
            for field in WEBHOOK_SECRET_FIELDS:
                value = getattr(endpoint, field)
                if value:
                    WebhookEndpoint.objects.filter(pk=endpoint.pk, **{field: value}).update(
                        **{field: crypto.rotate(value)}
                    )
            endpoints += 1
        self.stdout.write(f"Re-encrypted {count} connection(s) and {endpoints} webhook(s).")
