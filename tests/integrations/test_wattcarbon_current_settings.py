"""The paths WattCarbon has not published are settings of a WattCarbon connection: shown on its
form as not published, checked as path templates (never an address), kept in `Connection.extra`."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.models import Connection

pytestmark = pytest.mark.django_db

NOT_PUBLISHED = "not published: confirm with WattCarbon"


def post(client, connection: Connection, **paths: str):
    data = {"profile": "current", "base_url": connection.base_url, "enabled": "on"}
    data.update({f"path_{name}": value for name, value in paths.items()})
    return client.post(reverse("connection_edit", args=["wattcarbon"]), data)


def test_the_wattcarbon_form_labels_each_unpublished_path_with_its_default(
    wattcarbon_current_connection, admin_client_
):
    page = admin_client_.get(reverse("connection_edit", args=["wattcarbon"])).content.decode()
    assert page.count(NOT_PUBLISHED) == 4
    for default in (
        "/meters",
        "/meters/{id}/intervals",
        "/meters/{id}/bills",
        "/assets/{id}/documents",
    ):
        assert f'value="{default}"' in page
    spark = admin_client_.get(reverse("connection_edit", args=["spark"])).content.decode()
    assert NOT_PUBLISHED not in spark


def test_it_keeps_a_path_that_differs_from_the_default(
    wattcarbon_current_connection, admin_client_
):
    response = post(
        admin_client_,
        wattcarbon_current_connection,
        meters="/meters",
        intervals="/v2/meters/{id}/intervals",
        bills="",
        documents="/assets/{id}/documents",
    )
    assert response.status_code == 302
    wattcarbon_current_connection.refresh_from_db()
    assert wattcarbon_current_connection.extra["paths"] == {
        "intervals": "/v2/meters/{id}/intervals"
    }
    page = admin_client_.get(reverse("connection_edit", args=["wattcarbon"])).content.decode()
    assert 'value="/v2/meters/{id}/intervals"' in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("meters", "https://169.254.169.254/meters", "starting with one /"),
        ("meters", "//internal.example/meters", "starting with one /"),
        ("documents", "/assets/{id}/../../admin", "is not a path segment"),
        ("intervals", "/meters/intervals", "Exactly one {id}"),
    ],
)
def test_it_refuses_a_path_that_is_not_a_template_and_changes_nothing(
    wattcarbon_current_connection, admin_client_, field, value, message
):
    response = post(admin_client_, wattcarbon_current_connection, **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    wattcarbon_current_connection.refresh_from_db()
    assert wattcarbon_current_connection.extra.get("paths", {}) == {}


def test_a_connection_saved_otherwise_is_checked_too(wattcarbon_current_connection):
    wattcarbon_current_connection.extra = {"paths": {"bills": "http://evil.example/{id}"}}
    with pytest.raises(ValidationError) as caught:
        wattcarbon_current_connection.full_clean()
    assert "Meter bills upload path" in str(caught.value)


def test_another_organizations_admin_sees_only_their_own_settings(
    wattcarbon_current_connection, outsider_client
):
    Connection.objects.filter(pk=wattcarbon_current_connection.pk).update(
        extra={"paths": {"meters": "/ours/meters"}}
    )
    page = outsider_client.get(reverse("connection_edit", args=["wattcarbon"])).content.decode()
    assert "/ours/meters" not in page and 'value="/meters"' in page
