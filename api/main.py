"""The NinjaAPI of /api/v1/: its routers, error handlers and OpenAPI document."""

from __future__ import annotations

from ninja import NinjaAPI

from . import events, integration, readings, records
from .errors import install_handlers

DESCRIPTION = """\
Gridfolio's records, interval data and upstream sync state, for an organization's own systems.

**Authentication**: `Authorization: Bearer gf_…`, an organization API key (an admin creates one
under *API keys* in the portal, or `manage.py api_key create`). A key reaches its own
organization only: another organization's record is a 404. Scopes: `read` (every GET), `write`
(customers, homes, meters, devices), `readings` (uploads), `integrations` ("sync now"); a missing
scope is a 403. Each key may make `API_RATE_LIMIT` requests per `API_RATE_WINDOW_S` seconds;
past it, 429 with `Retry-After`.

**Errors** all have one shape: `{"detail": "...", "errors": {"field": ["message"]}}`, with the
same words as the portal's forms.

**Lists** are pages in id order: pass `next_cursor` back as `cursor`; `updated_since` returns what
changed since an instant. A record's `ETag` answers `If-None-Match` with 304.
"""

api = NinjaAPI(
    title="Gridfolio API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    docs_url=None,  # the reference page is ours (api/views.py): vendored assets under the CSP
    openapi_url="/openapi.json",
)
install_handlers(api)
api.add_router("", records.router)
api.add_router("", integration.router)
api.add_router("", readings.router)
api.add_router("", events.router)
