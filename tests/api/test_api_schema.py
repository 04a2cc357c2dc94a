"""The OpenAPI document is valid and the API keeps to it: schemathesis generates requests from
the document (valid and invalid ones) for every operation and checks each answer: never a 500,
the status codes, content types, headers and bodies the document declares.

Examples are bounded and derandomized (the same inputs every run), so the run is short and a
failure reproduces; a new operation is exercised without anyone listing it.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.main import api as ninja_api
from api.services import create_api_key

APP = get_wsgi_application()
SCHEMA = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)
# The key of the test running now (each test makes its own, in its transaction).
CURRENT_KEY: dict[str, str] = {}


def _reach_a_record(case, ids: dict[str, int]) -> None:
    """Half the generated ids (the even ones) become a record that exists, so that reads, changes,
    uploads and deletes reach the forms and services instead of stopping at a 404."""
    pk = (case.path_parameters or {}).get("pk")
    resource = case.operation.path.split("/")[3]
    if isinstance(pk, int) and pk % 2 == 0 and resource in ids:
        case.path_parameters["pk"] = ids[resource]


@SCHEMA.auth(refresh_interval=None)
class BearerKey:
    """Schemathesis sends this key, and knows it does: its ignored-auth check then sends a
    request without it, and with a made-up one, and expects 401."""

    def get(self, case, context) -> str:
        return CURRENT_KEY.get("key", "")  # "" while pytest collects

    def set(self, case, data: str, context) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def test_the_document_is_openapi_3_1_and_names_every_operation():
    document = ninja_api.get_openapi_schema()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["KeyAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    SCHEMA.validate()  # against the OpenAPI 3.1 meta-schema: raises on any error
    operations = list(SCHEMA.get_all_operations())
    assert len(operations) == sum(len(item) for item in document["paths"].values())


@pytest.fixture
def _wsgi_in_the_test_transaction():
    """What Django's test client does around a request: keep the connection open (it holds the
    test's transaction), where the bare WSGI handler would close it after every request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_key(org, settings, world, _wsgi_in_the_test_transaction):
    """A key with every scope, no rate limit, and a record of each kind for the ids to find."""
    settings.API_RATE_LIMIT = 0
    cache.clear()
    CURRENT_KEY["key"] = create_api_key(
        org, name="schemathesis", scopes=["read", "write", "readings", "integrations"]
    ).plaintext
    yield CURRENT_KEY["key"]
    CURRENT_KEY.clear()


@pytest.mark.django_db
@SCHEMA.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_the_document(case, api_key, world):
    _reach_a_record(case, world)
    # Every check but one: a request the document allows may still be refused (422, in the
    # documented error shape, which is checked), because the rules are the forms' (a zip code's
    # pattern, a meter of the same home, a unique custom id) and a cursor is opaque.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
