"""Homes and solar to WattShift through the engine (parents first), and the price curve on a home page."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.urls import reverse

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.directory import DirectoryUnavailable, lookup_utilities
from homes.models import Home, ZipUtilities
from integrations import engine
from integrations.models import LinkState, UpstreamLink
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def new_home(org, zip_code="95313") -> Home:
    lookup = lookup_utilities(org, zip_code)
    utility = lookup.utilities[0]
    return home_services.save_home(
        Home(
            organization=org,
            customer=CustomerFactory(organization=org),
            name="Sunny home",
            zip_code=zip_code,
            utility=utility,
            rate_plan=utility.rate_plans.first(),
            has_ac=True,
            ac_type="central",
        )
    )


def link(record, platform="wattshift") -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform=platform,
    )


def test_it_caches_utilities_by_zip_and_uses_them_stale_while_wattshift_is_down(
    org, wattshift, settings
):
    first = lookup_utilities(org, "95313")
    assert [u.name for u in first.utilities] and not first.notice
    calls = len(wattshift.calls)
    assert lookup_utilities(org, "95313").utilities == first.utilities
    assert len(wattshift.calls) == calls  # served from the cache
    settings.UTILITY_CACHE_MAX_AGE_S = 0
    wattshift.faults.fail_next = 3
    stale = lookup_utilities(org, "95313")
    assert stale.utilities == first.utilities and "did not answer" in stale.notice
    ZipUtilities.objects.all().delete()
    wattshift.faults.fail_next = 3
    with pytest.raises(DirectoryUnavailable):
        lookup_utilities(org, "95313")


def test_it_sends_the_home_then_its_solar(org, wattshift):
    home = new_home(org)
    solar = device_services.save_device(
        Device(
            organization=org,
            home=home,
            kind="solar",
            name="Array",
            custom_id="S-1",
            details={"nameplate_capacity_kw": "7.6", "net_metered": False},
        )
    )
    solar_link = link(solar)
    engine.run_link(solar_link.pk)
    solar_link.refresh_from_db()
    assert solar_link.state == LinkState.PENDING and "home" in solar_link.waiting_for
    engine.sync_now(org.pk)
    home_link, solar_link = link(home), link(solar)
    assert home_link.state == solar_link.state == LinkState.SYNCED
    assert home_link.remote_id.startswith("ws_home_")
    posts = [path for method, path, status in wattshift.calls if method == "POST" and status == 200]
    assert posts.index("/v1/homes/create") < posts.index("/v1/homes/solar/create")
    stored = wattshift.state["homes"][home_link.remote_id]
    assert stored["name"] == "Sunny home" and stored["acType"] == "central"
    assert wattshift.state["solar"][home_link.remote_id]["isNonNetMetered"] is True


def test_it_draws_the_price_curve_of_a_synced_home_and_explains_when_it_cannot(
    org, wattshift, owner_client
):
    home = new_home(org)
    page = owner_client.get(reverse("home_prices", args=[home.pk])).content.decode()
    assert "not on WattShift yet" in page
    engine.sync_now(org.pk)
    response = owner_client.get(reverse("home_prices", args=[home.pk]))
    chart = response.context["chart"]
    assert len(chart["price"]) == 96 and chart["current"] == 0
    assert "Cheapest 2 hours" in response.content.decode()
    cache.clear()
    wattshift.faults.fail_next = 5
    assert (
        "unavailable right now"
        in owner_client.get(reverse("home_prices", args=[home.pk])).content.decode()
    )


def test_it_gives_an_outsider_404_on_a_homes_prices(org, outsider_client):
    home = Home.objects.create(
        organization=org, customer=CustomerFactory(organization=org), name="H", zip_code="95313"
    )
    assert outsider_client.get(reverse("home_prices", args=[home.pk])).status_code == 404
