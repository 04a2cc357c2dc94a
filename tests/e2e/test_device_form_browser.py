"""The device form in Chromium: the meter list follows the chosen home."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from homes.models import Meter
from portal.demo import DEMO_EMAIL
from tests.e2e.demo_pages import PASSWORD
from tests.e2e.journey_steps import sign_in_through_form

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]


def test_the_meter_list_offers_only_the_chosen_homes_meters(site_url, page, demo):
    meters = list(Meter.objects.filter(organization=demo).select_related("home"))
    homes = {meter.home for meter in meters}
    assert len(homes) >= 2, "the demo has meters in several homes"
    sign_in_through_form(page, site_url, DEMO_EMAIL, PASSWORD)
    page.goto(f"{site_url}/devices/new/solar/")
    for home in homes:
        page.select_option("select[name=home]", str(home.pk))
        offered = page.eval_on_selector_all(
            "select[name=meter] option:not([hidden])", "els => els.map(e => e.value)"
        )
        expected = {str(m.pk) for m in meters if m.home_id == home.pk}
        assert set(offered) - {""} == expected
    # A meter chosen, then another home: the choice is cleared rather than kept hidden.
    first = meters[0]
    page.select_option("select[name=home]", str(first.home_id))
    page.select_option("select[name=meter]", str(first.pk))
    other = next(home for home in homes if home.pk != first.home_id)
    page.select_option("select[name=home]", str(other.pk))
    expect(page.locator("select[name=meter]")).to_have_value("")
    assert page.console_errors == []
