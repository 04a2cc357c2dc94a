"""`manage.py expire_uploads`: the hourly beat sweep of unconfirmed uploads, run now."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from readings.services import expire_pending_uploads


class Command(BaseCommand):
    help = (
        "Delete the files of checked readings uploads never confirmed within "
        "UPLOAD_PENDING_TTL_S and mark those uploads expired; delete old files in "
        "DATA_DIR/uploads/ that no waiting upload names. Celery beat runs this every hour."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sweep = expire_pending_uploads()
        hours = settings.UPLOAD_PENDING_TTL_S / 3600
        self.stdout.write(
            f"{sweep.expired:,} upload{'s' if sweep.expired != 1 else ''} unconfirmed for over "
            f"{hours:g} hours expired; {sweep.orphans_removed:,} orphaned "
            f"file{'s' if sweep.orphans_removed != 1 else ''} removed."
        )
