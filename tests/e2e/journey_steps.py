"""What the end-to-end journey (and the accessibility test) do in the browser, step by step, as a
user would: the onboarding wizard, readings files, the per-record sync state.

Every helper drives the page through its labels, roles and buttons (clicks and form fills); none
writes to the database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

Step = Callable[[str], None]


def _nothing(_: str) -> None:
    return None


def shot(page: Any, artifacts: Path, name: str) -> Path:
    settle(page)
    path = artifacts / f"journey-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in_through_form(page: Any, site_url: str, email: str, password: str) -> None:
    page.goto(f"{site_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def settle(page: Any) -> None:
    """Wait for what loads after the page: the readings panel and price curve (htmx), then each
    chart's data (static/js/charts.js); a chart that could not be drawn is a failure."""
    expect(page.get_by_text(re.compile(r"^\s*Loading the (charts|price curve)"))).to_have_count(
        0, timeout=20_000
    )
    expect(page.locator(".chart-message", has_text="Loading")).to_have_count(0, timeout=20_000)
    expect(
        page.locator(".chart-message", has_text=re.compile("could not be loaded|did not load"))
    ).to_have_count(0)


def field(page: Any, label: str) -> Any:
    """The form field labelled `label`, required (crispy adds "*" to the label) or not."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$"))


# --- the onboarding wizard ------------------------------------------------------------------------
def onboard_home(
    page: Any,
    *,
    home_name: str,
    new_customer: tuple[str, str] | None = None,
    zip_code: str = "95313",
    plan: str = "TOU-D",
    solar: dict[str, str] | None = None,
    heat_pump: dict[str, str] | None = None,
    on_step: Step = _nothing,
) -> None:
    """Run the wizard from its first step (the page must be on it) to Create.

    `new_customer` is (name, email); without it the customer chosen on step 3 is kept (the one
    "Add a home" on a customer's page preselects). `on_step(name)` runs once each step is filled,
    before Next (screenshots, axe).
    """
    expect(page.locator("h1")).to_contain_text("Zip code")
    page.get_by_label("Zip code").fill(zip_code)
    on_step("1-zip")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("h1")).to_contain_text("Utility & rate plan")
    page.get_by_label(re.compile(rf"^{re.escape(plan)}\b")).check()
    on_step("2-plan")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("h1")).to_contain_text("Customer & home")
    if new_customer is not None:
        name, email = new_customer
        new = page.get_by_label("A new customer")
        if new.is_visible():  # only offered as a choice when the organization has customers
            new.check()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Email").fill(email)
    page.get_by_label("Home name").fill(home_name)
    page.get_by_label("Street").fill("12 Main St")
    page.get_by_label("EV charger").check()
    page.get_by_label("Air conditioning").check()
    page.get_by_label("AC type").select_option("central")
    on_step("3-home")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("h1")).to_contain_text("Solar")
    if solar:
        page.get_by_label("This home has solar").check()
        expect(page.locator("#solar-fields")).to_be_visible()
        page.get_by_label("System size (kW)").fill(solar["size_kw"])
        page.get_by_label("Inverter data source").select_option(solar["inverter"])
        page.get_by_label("Inverter data id").fill(solar["inverter_id"])
        page.get_by_label("Commenced operation").fill(solar["since"])
        page.get_by_label("Custom id").fill(solar["custom_id"])
    on_step("4-solar")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("h1")).to_contain_text("Heat pump")
    if heat_pump:
        page.get_by_label("This home has a heat pump").check()
        expect(page.locator("#heat-pump-fields")).to_be_visible()
        page.get_by_label("Conditioned area (sq ft)").fill(heat_pump["area_sqft"])
        page.get_by_label("Previous fuel").select_option(heat_pump["previous_fuel"])
        page.get_by_label("Replaces a furnace").check()
        page.get_by_label("Custom id").fill(heat_pump["custom_id"])
    on_step("5-heat-pump")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("h1")).to_contain_text("Review")
    on_step("6-review")
    page.get_by_role("button", name="Create home").click()
    expect(page.locator("h1")).to_have_text(home_name)


# --- readings files -------------------------------------------------------------------------------
def hourly_csv(
    timezone: str, start_local: datetime, hours: int, value: Callable[[datetime], float]
) -> bytes:
    """`datetime,value_kwh` rows, one per hour from `start_local`, with the local UTC offset."""
    zone = ZoneInfo(timezone)
    start = start_local.replace(tzinfo=zone).astimezone(UTC)
    lines = ["datetime,value_kwh"]
    for i in range(hours):
        moment = (start + timedelta(hours=i)).astimezone(zone)
        lines.append(f"{moment.isoformat()},{value(moment):.3f}")
    return ("\n".join(lines) + "\n").encode()


def solar_kwh(moment: datetime) -> float:
    """A 7.5 kW array: nothing at night, a bell over the day, more in summer."""
    hour = moment.hour + 0.5
    if not 6 <= hour <= 20:
        return 0.0
    season = 0.65 + 0.35 * math.sin(math.pi * (moment.timetuple().tm_yday - 80) / 365)
    return 6.0 * season * math.sin(math.pi * (hour - 6) / 14) ** 2


def household_kwh(moment: datetime) -> float:
    return 0.35 + 0.9 * (17 <= moment.hour <= 21) + 0.05 * (moment.day % 3)


def drop_and_confirm(page: Any, name: str, content: bytes, readings: int) -> Any:
    """Drop one file on the page's drop zone, wait for its preview, confirm; the stored card."""
    page.set_input_files(
        "form[data-dropzone] input[type=file]",
        [{"name": name, "mimeType": "text/csv", "buffer": content}],
    )
    card = page.locator(".upload-card", has_text=name)
    expect(card).to_contain_text("Checked; nothing is stored yet.", timeout=30_000)
    card.get_by_role("button", name=f"Confirm and store {readings:,} readings").click()
    stored = page.locator('.upload-card[data-upload-status="stored"]', has_text=name)
    expect(stored).to_contain_text(f"{readings:,} new, 0 changed, 0 unchanged", timeout=60_000)
    return stored


# --- sync state -----------------------------------------------------------------------------------
def sync_states(page: Any) -> list[tuple[str, str]]:
    """(platform and channel, state) of each row of the record's "Upstream platforms" card."""
    rows = page.locator("#upstream-links li")
    return [
        (
            " ".join(rows.nth(i).locator("span").first.inner_text().split()),
            rows.nth(i).locator(".state-badge").inner_text().strip(),
        )
        for i in range(rows.count())
    ]


def expect_all_synced(page: Any, nudged: list[str]) -> list[tuple[str, str]]:
    """Every platform row of the record's page says Synced. A row still pending gets the user's
    "Sync now" (noted in `nudged`, for the report); failed or rejected is a failure."""
    expect(page.locator("#upstream-links .state-badge").first).to_be_visible()
    for index, (label, state) in enumerate(sync_states(page)):
        assert state in ("Synced", "Pending", "Syncing"), f"{page.url}: {label} is {state}"
        if state != "Synced":
            nudged.append(f"{page.url} {label}: {state}")
            row = page.locator("#upstream-links li").nth(index)
            with page.expect_navigation():
                row.get_by_role("button", name="Sync now").click()
    expect(
        page.locator("#upstream-links .state-badge").filter(has_not_text="Synced")
    ).to_have_count(0)
    return sync_states(page)
