"""Every operation of /api/v1/, with every scope, another organization's key and no key.

The operations are read from the API itself (each one's `auth` names its scope), so an operation
added later is in this matrix without anyone remembering to add it.
"""

from __future__ import annotations

import re

import pytest

from api.main import api as ninja_api
from api.models import Scope

from .conftest import ApiClient


def _operations() -> list[tuple[str, str, str]]:
    """(method, path, scope) of every operation."""
    found = []
    for prefix, router in ninja_api._routers:
        for path, view in router.path_operations.items():
            for operation in view.operations:
                (auth,) = operation.auth_callbacks
                for method in operation.methods:
                    full = "/api/v1" + (prefix + path).replace("//", "/")
                    found.append((method, full, str(auth.scope)))
    return sorted(set(found))


OPERATIONS = _operations()


def test_it_covers_every_operation_in_the_openapi_document():
    document = ninja_api.get_openapi_schema()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    assert documented == {(method, path) for method, path, _ in OPERATIONS}
    assert len(OPERATIONS) >= 35


def _url(path: str, world: dict[str, int]) -> str:
    resource = path.split("/")[3]
    return re.sub(r"\{pk\}", str(world[resource]), path)


def _call(client: ApiClient, method: str, url: str):
    if method == "GET":
        return client.get(url)
    if method == "DELETE":
        return client.delete(url)
    if method == "PATCH":
        return client.patch(url, {})
    if url.endswith("/readings") or url.endswith("/check"):
        return client.client.post(url, {})  # multipart, no file: a 422, never a 500
    return client.post(url, {})


@pytest.mark.parametrize(
    ("method", "path", "scope"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_it_holds_scopes_and_tenancy(method, path, scope, world, make_key, rival_api, client):
    url = _url(path, world)
    # No key, or a key that is not one: 401 in the error shape.
    no_key = ApiClient("")
    no_key.client = client
    for anonymous in (no_key, ApiClient("gf_00000000_" + "x" * 43)):
        response = _call(anonymous, method, url)
        assert response.status_code == 401, (method, url)
        assert response.json()["detail"].startswith("Send a valid API key")
    # Another organization's key, with every scope: our record is a 404; our lists are not its.
    response = _call(rival_api, method, url)
    if "{pk}" in path:
        assert response.status_code == 404, (method, url, response.content)
        assert response.json() == {"detail": "Not found.", "errors": {}}
    elif method == "GET":
        assert response.status_code == 200
        assert response.json()["items"] == []
    # A key of this organization without the scope: 403 naming it.
    for other in Scope.values:
        if other == scope:
            continue
        response = _call(make_key(scopes=[other]), method, url)
        assert response.status_code == 403, (method, url, other)
        assert f"“{scope}”" in response.json()["detail"]
    # With it: through (a body this empty may be refused, never for want of a scope).
    response = _call(make_key(scopes=[scope]), method, url)
    assert response.status_code not in {401, 403, 404, 500}, (method, url, response.content)
    if response.status_code >= 400:
        assert set(response.json()) >= {"detail", "errors"}
