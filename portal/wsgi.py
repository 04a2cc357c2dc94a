"""WSGI entry point (gunicorn portal.wsgi)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

from portal.checks import require_secrets  # noqa: E402 (needs the settings configured above)

require_secrets()
