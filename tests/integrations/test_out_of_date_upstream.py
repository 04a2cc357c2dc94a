"""Changes a platform cannot take: WattShift (and Spark) in the quickstart profile have no update
call, so a synced record changed later is shown as out of date upstream, with what differs."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from homes import services as home_services
from homes.directory import lookup_utilities
from homes.models import Home, Meter
from integrations import engine, services
from integrations.models import Connection, LinkState, Unsent, UpstreamLink
from tests.factories import CustomerFactory, HomeFactory

pytestmark = pytest.mark.django_db

NOTE = "changes not sent: WattShift has no update call for homes"


@pytest.fixture
def spark(org, sandbox):
    services.save_connection(
        Connection(organization=org, platform="spark"),
        username="sandbox-spark-client",
        password="sandbox-spark-secret",
    )
    return sandbox.emulator("spark")


def link(record, platform: str = "wattshift") -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform=platform,
    )


def synced_home(org) -> Home:
    utility = lookup_utilities(org, "95313").utilities[0]
    home = home_services.save_home(
        Home(
            organization=org,
            customer=CustomerFactory(organization=org),
            name="Sunny home",
            zip_code="95313",
            utility=utility,
            rate_plan=utility.rate_plans.order_by("pk").first(),
        )
    )
    engine.sync_now(org.pk)
    assert link(home).state == LinkState.SYNCED
    return home


def change_rate_plan(home: Home) -> tuple[str, str]:
    old = home.rate_plan.ws_rate_plan_id
    home.rate_plan = home.utility.rate_plans.exclude(pk=home.rate_plan_id).order_by("pk").first()
    home_services.save_home(home)
    return old, home.rate_plan.ws_rate_plan_id


def test_it_shows_a_home_with_a_new_rate_plan_as_out_of_date_upstream(org, wattshift):
    home = synced_home(org)
    accepted = link(home)
    calls = len(wattshift.calls)
    old, new = change_rate_plan(home)

    engine.sync_now(org.pk)

    stale = link(home)
    assert stale.state == LinkState.SYNCED and stale.unsent == Unsent.OUT_OF_DATE
    assert stale.unsent_note == NOTE
    assert stale.unsent_changes == [{"field": "ratePlanId", "sent": old, "current": new}]
    assert stale.payload_hash == accepted.payload_hash  # still what WattShift accepted
    assert stale.synced_at == accepted.synced_at
    assert len(wattshift.calls) == calls  # no call: there is none to make
    assert wattshift.state["homes"][stale.remote_id]["ratePlanId"] == old


def test_it_lists_every_field_that_differs(org, wattshift):
    home = synced_home(org)
    home.name = "Sunnier home"
    home.has_ac, home.ac_type = True, "split"
    home_services.save_home(home)

    engine.sync_now(org.pk)

    changes = {change["field"]: change for change in link(home).unsent_changes}
    assert changes["name"] == {"field": "name", "sent": "Sunny home", "current": "Sunnier home"}
    assert changes["acType"] == {"field": "acType", "sent": None, "current": "split"}
    assert changes["hasAC"]["current"] is True


def test_it_shows_what_differs_on_the_home_page(org, wattshift, member_client):
    home = synced_home(org)
    old, new = change_rate_plan(home)
    engine.sync_now(org.pk)

    page = member_client.get(reverse("home_detail", args=[home.pk])).content.decode()

    assert "Out of date upstream" in page
    assert "Changes not sent: WattShift has no update call for homes." in page
    assert "ratePlanId" in page and old in page and new in page


def test_it_counts_out_of_date_links_on_the_integrations_board(org, wattshift, owner_client):
    home = synced_home(org)
    change_rate_plan(home)
    engine.sync_now(org.pk)

    response = owner_client.get(reverse("integrations"))

    [row] = [row for row in response.context["rows"] if row["platform"] == "wattshift"]
    assert row["counts"]["out_of_date"] == 1 and row["counts"]["synced"] == 0
    assert [troubled.pk for troubled in response.context["troubled"]] == [link(home).pk]
    page = response.content.decode()
    assert "Changes not sent: WattShift has no update call for homes (ratePlanId)" in page
    assert "Retry all failed" not in page  # nothing a retry could send


def test_it_drops_the_note_once_the_home_is_back_to_what_was_sent(org, wattshift):
    home = synced_home(org)
    original = home.rate_plan
    change_rate_plan(home)
    engine.sync_now(org.pk)
    home.rate_plan = original
    home_services.save_home(home)

    engine.sync_now(org.pk)

    back = link(home)
    assert back.state == LinkState.SYNCED and back.unsent == ""
    assert back.unsent_note == "" and back.unsent_changes == []


def test_it_says_so_when_what_was_sent_is_not_known(org, wattshift):
    # A home synced before the portal kept a copy of what it sent.
    home = synced_home(org)
    UpstreamLink.objects.filter(pk=link(home).pk).update(sent_payload=None)
    change_rate_plan(home)

    engine.sync_now(org.pk)

    stale = link(home)
    assert stale.unsent == Unsent.OUT_OF_DATE and stale.unsent_changes == []


def test_it_shows_a_spark_meter_changed_after_it_was_sent_as_out_of_date(org, spark):
    home = HomeFactory(organization=org, zip_code="95313")
    meter = home_services.save_meter(
        Meter(organization=org, home=home, meter_number="E-42", meter_point_id="MP-42")
    )
    engine.sync_now(org.pk)
    assert link(meter, "spark").state == LinkState.SYNCED
    meter.meter_number = "E-43"
    home_services.save_meter(meter)

    engine.sync_now(org.pk)

    stale = link(meter, "spark")
    assert stale.unsent == Unsent.OUT_OF_DATE
    assert stale.unsent_note == "changes not sent: Spark has no update call for meters"
    assert stale.unsent_changes == [{"field": "meterNumber", "sent": "E-42", "current": "E-43"}]
