"""The new-home wizard in Chromium: sign in, run it from zip 95313 to a home with solar and a heat
pump, with the page's own JavaScript (CSP-clean: any violation is a console error).

Chromium, the `page` that records console errors, `site_url` and `artifacts` come from
tests/e2e/conftest.py; screenshots of each step go to test-artifacts/wizard-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from homes.models import Customer, Home
from integrations.clients import forget_clients
from integrations.models import Connection, LinkState, UpstreamLink
from integrations.sandbox import registry
from integrations.services import save_connection
from portal.models import Membership, Organization, Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "wizard-owner@acme.test"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def sandbox(settings, tmp_path) -> Iterator[None]:
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    yield
    registry.reset_all()
    forget_clients()


@pytest.fixture
def organization(sandbox) -> Organization:
    organization = Organization.objects.create(
        name="Acme Solar", slug="acme", timezone="America/New_York"
    )
    user = User.objects.create_user(EMAIL, PASSWORD, full_name="Wizard Owner")
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    Customer.objects.create(organization=organization, name="Existing Customer Co")
    for platform in ("wattshift", "wattcarbon"):
        save_connection(
            Connection(organization=organization, platform=platform, base_url=""),
            **registry.SANDBOX_CREDENTIALS[platform],
        )
    return organization


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"wizard-{name}.png"), full_page=True)


def test_it_onboards_a_home_with_solar_and_a_heat_pump_in_the_browser(
    site_url, organization, page, artifacts
):
    from playwright.sync_api import expect

    page.goto(f"{site_url}/accounts/login/?next=/homes/new/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # 1. Zip code: first one that two utilities serve.
    expect(page.locator("h1")).to_contain_text("Zip code")
    page.get_by_label("Zip code").fill("01040")
    shot(page, artifacts, "1-zip")
    page.get_by_role("button", name="Next").click()

    # 2. Both utilities as cards, each with its plans; then Back to change the zip code.
    expect(page.locator("h1")).to_contain_text("Utility & rate plan")
    expect(page.get_by_text("2 utilities serve 01040")).to_be_visible()
    expect(page.locator("[data-utility-card]")).to_have_count(2)
    # Picking a plan picks its utility (wizard.js); the server checks the pair regardless.
    page.locator("[data-utility-card]").nth(1).locator("input[data-utility]").first.check()
    expect(
        page.locator("[data-utility-card]").nth(1).locator("input[data-utility-choice]")
    ).to_be_checked()
    shot(page, artifacts, "2a-plan-ambiguous")
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_label("Zip code")).to_have_value("01040")
    page.get_by_label("Zip code").fill("95313")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("#place")).to_contain_text("Crows Landing, CA")
    expect(page.locator("#place")).to_contain_text("America/Los_Angeles")
    expect(page.get_by_label("Pacific Gas & Electric")).to_be_checked()
    page.get_by_label(re.compile(r"^TOU-D\b")).check()
    shot(page, artifacts, "2-plan")
    page.get_by_role("button", name="Next").click()

    # 3. Customer and home; the AC type appears only once AC is ticked.
    expect(page.locator("h1")).to_contain_text("Customer & home")
    expect(page.get_by_label("City")).to_have_value("Crows Landing")
    expect(page.get_by_label("Existing customer", exact=True)).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_be_hidden()
    page.get_by_label("A new customer").check()
    expect(page.get_by_label("Existing customer", exact=True)).to_be_hidden()
    page.get_by_label("Name", exact=True).fill("Maria Rivera")
    page.get_by_label("Email").fill("maria@example.test")
    page.get_by_label("Home name").fill("Rivera residence")
    page.get_by_label("Street").fill("12 Main St")
    page.get_by_label("EV charger").check()
    expect(page.get_by_label("AC type")).to_be_hidden()
    page.get_by_label("Air conditioning").check()
    expect(page.get_by_label("AC type")).to_be_visible()
    page.get_by_role("button", name="Next").click()  # no type: the server refuses the step
    expect(page.locator("#ac-type")).to_contain_text("Choose the AC type")
    expect(page.get_by_label("Name", exact=True)).to_have_value("Maria Rivera")
    shot(page, artifacts, "3a-home-error")
    page.get_by_label("AC type").select_option("central")
    page.get_by_label("Yes").check()
    shot(page, artifacts, "3-home")
    page.get_by_role("button", name="Next").click()

    # 4. Solar: the fields show once the switch is on.
    expect(page.locator("h1")).to_contain_text("Solar")
    expect(page.locator("#solar-fields")).to_be_hidden()
    page.get_by_label("This home has solar").check()
    expect(page.locator("#solar-fields")).to_be_visible()
    page.get_by_label("System size (kW)").fill("7.5")
    page.get_by_label("Inverter data source").select_option("enphase")
    page.get_by_label("Inverter data id").fill("ENV-1234")
    page.get_by_label("Commenced operation").fill("2024-05-01")
    page.get_by_label("Custom id").fill("SOLAR-RIVERA")
    shot(page, artifacts, "4-solar")
    page.get_by_role("button", name="Next").click()

    # 5. Heat pump.
    expect(page.locator("h1")).to_contain_text("Heat pump")
    page.get_by_label("This home has a heat pump").check()
    page.get_by_label("Conditioned area (sq ft)").fill("1800")
    page.get_by_label("Previous fuel").select_option("natural_gas")
    page.get_by_label("Replaces a furnace").check()
    shot(page, artifacts, "5-heat-pump")
    page.get_by_role("button", name="Next").click()

    # 6. Review; Edit the solar step and come straight back with what was typed kept.
    expect(page.locator("h1")).to_contain_text("Review")
    expect(page.locator("main")).to_contain_text("TOU-D")
    expect(page.locator("main")).to_contain_text("Maria Rivera (new)")
    page.get_by_role("button", name="Edit solar").click()
    expect(page.get_by_label("System size (kW)")).to_have_value("7.5")
    expect(page.get_by_label("Inverter data id")).to_have_value("ENV-1234")
    page.get_by_role("button", name="Save and review").click()
    expect(page.locator("h1")).to_contain_text("Review")
    shot(page, artifacts, "6-review")
    page.get_by_role("button", name="Create home").click()

    # The home's page, with its devices and its sync.
    expect(page.locator("h1")).to_have_text("Rivera residence")
    expect(page.get_by_role("alert")).to_contain_text("Rivera residence was created")
    expect(page.get_by_role("cell", name="SOLAR-RIVERA")).to_be_visible()
    expect(page.get_by_role("cell", name="Heat pump / electrification")).to_be_visible()
    shot(page, artifacts, "7-home")

    home = Home.objects.get(organization=organization)
    assert home.rate_plan.name == "TOU-D" and home.ac_type == "central"
    assert home.devices.count() == 2
    assert set(UpstreamLink.objects.values_list("state", flat=True)) == {LinkState.SYNCED}
    assert page.console_errors == []
