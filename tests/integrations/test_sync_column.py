"""Sync state on the lists: a "Sync" column and filter on customers, homes, meters and devices,
in the same words (and by the same rule) as the dashboard and the Integrations page."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from integrations.models import LinkState, Unsent, UpstreamLink
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db


def linked(record, state, **values) -> UpstreamLink:
    return UpstreamLink.objects.create(
        organization_id=record.organization_id,
        platform=values.pop("platform", "wattcarbon"),
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        state=state,
        **values,
    )


@pytest.fixture
def devices(org, home):
    made = {
        name: DeviceFactory(organization=org, home=home, name=name, custom_id=name.upper())
        for name in ["rejected", "outdated", "pending", "synced", "alone", "retrying"]
    }
    linked(made["rejected"], LinkState.REJECTED, last_error="kind: not a valid choice")
    linked(made["outdated"], LinkState.SYNCED, unsent=Unsent.OUT_OF_DATE)
    linked(made["pending"], LinkState.PENDING)
    linked(made["synced"], LinkState.SYNCED)
    linked(made["synced"], LinkState.SYNCED, platform="spark")
    linked(
        made["retrying"], LinkState.PENDING, last_error="Service Unavailable", last_status_code=503
    )
    return made


def names(client, **query) -> list[str]:
    response = client.get(reverse("device_list"), query)
    assert response.status_code == 200
    return sorted(row.name for row in response.context["object_list"])


def test_the_filter_narrows_the_list_by_sync_state(member_client, devices):
    assert names(member_client, sync="attention") == ["outdated", "rejected"]
    assert names(member_client, sync="pending") == ["pending", "retrying"]
    assert names(member_client, sync="synced") == ["synced"]
    assert names(member_client, sync="none") == ["alone"]
    assert len(names(member_client, sync="nonsense")) == 6  # a value it can't take: the whole list


def test_each_row_says_its_state_and_the_platforms(member_client, devices):
    page = member_client.get(reverse("device_list")).content.decode()
    assert '<th scope="col">Sync</th>' in page
    response = member_client.get(reverse("device_list"))
    at = response.context["extra_columns"].index("Sync")
    cells = {row.name: row.extra_cells[at] for row in response.context["object_list"]}
    assert cells["rejected"].text == "Needs attention"
    assert cells["rejected"].title == "WattCarbon: rejected"
    assert cells["outdated"].text == "Needs attention"
    assert cells["pending"].text == "Pending" and cells["retrying"].text == "Pending"
    assert cells["synced"].text == "Synced"
    assert cells["synced"].title == "Volue Spark: synced, WattCarbon: synced"
    assert cells["alone"].text == "—"


@pytest.mark.parametrize(
    ("url", "factory"),
    [("customer_list", "customer"), ("home_list", "home"), ("meter_list", "meter")],
)
def test_customers_homes_and_meters_have_the_column_too(
    member_client, org, home, meter, url, factory
):
    record = {"customer": home.customer, "home": home, "meter": meter}[factory]
    linked(record, LinkState.FAILED)
    response = member_client.get(reverse(url), {"sync": "attention"})
    assert [row.pk for row in response.context["object_list"]] == [record.pk]
    at = response.context["extra_columns"].index("Sync")
    assert response.context["object_list"][0].extra_cells[at].text == "Needs attention"


def test_another_organizations_links_change_nothing(member_client, org, other_org, devices):
    theirs = DeviceFactory(organization=other_org, home=HomeFactory(organization=other_org))
    linked(theirs, LinkState.REJECTED)
    assert names(member_client, sync="attention") == ["outdated", "rejected"]


def test_the_dashboard_and_the_integrations_page_count_the_same(owner_client, devices):
    dashboard = owner_client.get(reverse("dashboard"))
    cards = {card.label: n for card, n in dashboard.context["cards"]}
    assert cards["Needs attention"] == 2
    board = owner_client.get(reverse("integrations"))
    troubled = list(board.context["troubled"])
    needing = [link for link in troubled if link.attention]
    assert len(needing) == 2
    assert len(troubled) == 3  # and the one retrying by itself, listed after them
    assert not troubled[-1].attention and troubled[-1].last_status_code == 503
    text = board.content.decode()
    assert "WattCarbon is unavailable (503)" in text
    assert "rejected (REJECTED)" in text  # the record by its name, not "device #1"
