"""The whole journey in Chromium, as a user does it, through the pages only (clicks and form fills):
sign in; onboard a home with solar and a heat pump through the wizard; add a customer with a
vehicle; drop a year of hourly readings on the solar array, confirm, see its charts; see every
record synced in the sandbox; register the Spark webhook and receive its test event; give a meter
a Wattics stream and watch the stream catch up with its readings.

The journey runs once per contract profile (`quickstart`, `current`): the organization's four
sandbox connections are made with that profile in a fixture (empty base URL: the in-process
emulators; Spark delivers its webhooks over real HTTP to the live server), and `EXPECTED` says what
each record's page shows under it (which platforms have the record, as what; which event the Spark
test sends). A screenshot of each main page goes to test-artifacts/journey-<profile>-*.png. No
console error or uncaught exception (a CSP violation is one) is allowed on any page of the journey.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from integrations.models import Connection, LinkState, Platform, Profile, UpstreamLink
from integrations.sandbox import registry
from integrations.services import save_connection
from portal.models import Membership, Organization, Role, User
from tests.e2e.journey_steps import (
    drop_and_confirm,
    expect_all_synced,
    field,
    hourly_csv,
    household_kwh,
    onboard_home,
    sign_in_through_form,
    solar_kwh,
)
from tests.e2e.journey_steps import shot as take_shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(240),
]

EMAIL = "olivia@sunrise.test"
PASSWORD = "correct horse battery staple"
ORG_TZ = "America/New_York"
HOME_TZ = "America/Los_Angeles"  # zip 95313, Crows Landing, CA
STREAM_ID = "rivera-main-incomer"


@dataclass(frozen=True)
class Expected:
    """What the journey sees under one profile: each record's platforms (the labels of its page's
    upstream rows), the link carrying the solar array's readings, and the Spark test event's row."""

    customer: frozenset[str]
    home: frozenset[str]
    solar: frozenset[str]
    heat_pump: frozenset[str]
    meter: frozenset[str]
    vehicle: frozenset[str]
    readings_link: str  # the text of the solar array's row that carries its readings
    test_badge: str  # the badge of the Spark test event's row
    test_event: re.Pattern[str]  # its Type cell
    test_heading: str  # on its page
    webhook_calls: tuple[str, ...]  # Spark's answered calls for the registration and the test


EXPECTED = {
    # Customers are Spark users, homes WattShift homes, devices go to WattCarbon (the solar array
    # also to WattShift, its readings as a WattCarbon timeseries), vehicles and meters to Spark.
    Profile.QUICKSTART: Expected(
        customer=frozenset({"Volue Spark user"}),
        home=frozenset({"WattShift home"}),
        solar=frozenset({"WattCarbon device", "WattCarbon timeseries", "WattShift solar"}),
        heat_pump=frozenset({"WattCarbon device"}),
        meter=frozenset({"Volue Spark meter"}),
        vehicle=frozenset({"Volue Spark vehicle"}),
        readings_link="timeseries",
        test_badge="test",
        test_event=re.compile(r"^test Test$"),
        test_heading="Test",
        webhook_calls=(r"POST /webhooks 20\d", r"POST /webhooks/[^/]+/test 20\d"),
    ),
    # docs/upstreams/: a home is also a Spark location (its solar a part of the WattShift home),
    # a device a WattCarbon asset on its own meter with the meter's intervals and a Spark resource
    # at its home's location; Spark's current API has no place for a meter.
    Profile.CURRENT: Expected(
        customer=frozenset({"Volue Spark user"}),
        home=frozenset({"WattShift home", "Volue Spark location"}),
        solar=frozenset(
            {"WattCarbon asset", "WattCarbon meter", "WattCarbon intervals", "Volue Spark resource"}
        ),
        heat_pump=frozenset(
            {"WattCarbon asset", "WattCarbon meter", "WattCarbon intervals", "Volue Spark resource"}
        ),
        meter=frozenset(),
        vehicle=frozenset({"Volue Spark vehicle"}),
        readings_link="intervals",
        # Under current the test is Spark's price-curve simulation (/simulation/events/pricecurve).
        test_badge="price change",
        test_event=re.compile(r"^price change PriceCurve"),
        test_heading="PriceCurve",
        webhook_calls=(r"POST /webhooks 20\d", r"POST /simulation/events/pricecurve 20\d"),
    ),
}


@pytest.fixture(params=[Profile.QUICKSTART, Profile.CURRENT], ids=lambda profile: str(profile))
def profile(request) -> str:
    return request.param


@pytest.fixture
def organization(sandbox, profile) -> Organization:
    """An owner, and the four platforms connected to the sandbox emulators with `profile`."""
    organization = Organization.objects.create(
        name="Sunrise Solar", slug="sunrise", timezone=ORG_TZ
    )
    user = User.objects.create_user(EMAIL, PASSWORD, full_name="Olivia Owner")
    Membership.objects.create(user=user, organization=organization, role=Role.OWNER)
    for platform in Platform.values:
        save_connection(
            Connection(organization=organization, platform=platform, base_url="", profile=profile),
            **registry.SANDBOX_CREDENTIALS[platform],
        )
    return organization


def _nav(page, label: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()


def _term(scope, term: str):
    """The <dd> of the <dt> `term` in a definition list."""
    return scope.locator(f"dt:text-is('{term}') + dd")


def _local(moment: datetime) -> str:
    """As a record page shows a time: in the record's (its home's) zone, with its abbreviation."""
    return moment.astimezone(ZoneInfo(HOME_TZ)).strftime("%Y-%m-%d %H:%M %Z")


def test_it_runs_the_whole_journey_from_sign_in_to_a_caught_up_wattics_stream(
    site_url, page, artifacts, organization, profile
):
    expected = EXPECTED[profile]

    def shot(page, artifacts, name: str) -> None:
        take_shot(page, artifacts, f"{profile}-{name}")

    started = time.monotonic()
    timings: list[tuple[str, float]] = []
    nudged: list[str] = []

    def lap(name: str) -> None:
        timings.append((name, round(time.monotonic() - started, 1)))

    # --- sign in; the dashboard; the four sandbox connections ------------------------------------
    sign_in_through_form(page, site_url, EMAIL, PASSWORD)
    expect(page.locator("h1")).to_have_text("Sunrise Solar")
    shot(page, artifacts, "01-dashboard")
    _nav(page, "Integrations")
    expect(page.locator("h1")).to_have_text("Integrations")
    connections = page.locator("table").first.locator("tbody tr")
    expect(connections).to_have_count(4)
    for i in range(4):
        expect(connections.nth(i)).to_contain_text("enabled")
        expect(connections.nth(i)).to_contain_text("sandbox")
    shot(page, artifacts, "02-integrations")
    lap("signed in")

    # --- onboard a home with solar and a heat pump through the wizard ----------------------------
    _nav(page, "Homes")
    page.get_by_role("link", name="New home").click()
    onboard_home(
        page,
        home_name="Rivera residence",
        new_customer=("Maria Rivera", "maria@example.test"),
        solar={
            "size_kw": "7.5",
            "inverter": "enphase",
            "inverter_id": "ENV-1234",
            "since": "2022-06-01",
            "custom_id": "SOLAR-RIVERA",
        },
        heat_pump={"area_sqft": "1800", "previous_fuel": "natural_gas", "custom_id": "HP-RIVERA"},
        on_step=lambda step: shot(page, artifacts, f"03-wizard-{step}"),
    )
    expect(page.get_by_role("alert")).to_contain_text("Rivera residence was created")
    expect(page.get_by_role("cell", name="SOLAR-RIVERA")).to_be_visible()
    expect(page.get_by_role("cell", name="HP-RIVERA")).to_be_visible()
    shot(page, artifacts, "04-home-created")
    rivera_home_url = page.url
    # The home's meter, for the Wattics stream later.
    page.get_by_role("link", name="Add a meter").click()
    expect(page.get_by_label("Home")).to_have_value(rivera_home_url.rstrip("/").rsplit("/", 1)[1])
    page.get_by_label("Meter number").fill("PGE-RIV-01")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_contain_text("PGE-RIV-01")
    meter_url = page.url
    lap("home onboarded")

    # --- a customer with a vehicle: the customer, their home, the vehicle ------------------------
    _nav(page, "Customers")
    page.get_by_role("link", name="New customer").click()
    page.get_by_label("Name").fill("Sam Okafor")
    page.get_by_label("Email").fill("sam@example.test")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_have_text("Sam Okafor")
    okafor_url = page.url
    page.get_by_role("link", name="Add a home").click()
    onboard_home(page, home_name="Okafor house")  # step 3 starts with Sam Okafor chosen
    expect(page.locator("nav[aria-label=breadcrumb]")).to_contain_text("Sam Okafor")
    page.get_by_role("link", name="Add a device").click()
    page.get_by_role("link", name="Vehicle").click()
    expect(page.locator("h1")).to_have_text("New vehicle device")
    field(page, "Name").fill("Family car")
    field(page, "Custom id").fill("EV-OKAFOR")
    field(page, "Brand").fill("Tesla")
    field(page, "Model").fill("Model 3")
    field(page, "Model year").fill("2019")
    field(page, "VIN").fill("5YJ3E1EA2KF317000")
    field(page, "Battery capacity (kWh)").fill("75")
    page.get_by_role("button", name="Create").click()
    expect(page.locator("h1")).to_have_text("Family car")
    vehicle_url = page.url
    shot(page, artifacts, "05-vehicle")
    lap("customer with a vehicle")

    # --- drop a year of readings on the solar array, confirm, see the charts ---------------------
    page.goto(rivera_home_url)
    page.get_by_role("link", name="Solar array").click()
    expect(page.locator("h1")).to_have_text("Solar array")
    solar_url = page.url
    year = hourly_csv(HOME_TZ, datetime(2023, 1, 1), 8760, solar_kwh)
    assert year.count(b"\n") == 8761
    stored = drop_and_confirm(page, "SOLAR-RIVERA_2023.csv", year, 8760)
    shot(page, artifacts, "06-solar-stored")
    assert "Stored" in stored.inner_text()
    page.reload()
    charts = page.locator("#readings-panel .chart canvas")
    charts.first.wait_for()
    expect(charts).to_have_count(3)
    expect(page.locator("#heatmap")).to_be_visible()
    shot(page, artifacts, "07-solar-charts")
    lap("a year of readings")

    # --- every record synced in the sandbox -------------------------------------------------------
    # Each record's page, reached as a user would (a page, then a link on it), and the platforms
    # it must be on under the profile (EXPECTED).
    records = [
        ("08-customer-rivera", rivera_home_url, "Maria Rivera", expected.customer),
        ("09-home-rivera", rivera_home_url, None, expected.home),
        ("10-device-solar", rivera_home_url, "Solar array", expected.solar),
        ("11-device-heat-pump", rivera_home_url, "Heat pump", expected.heat_pump),
        ("12-meter", rivera_home_url, "PGE-RIV-01", expected.meter),
        ("13-customer-okafor", okafor_url, None, expected.customer),
        ("14-home-okafor", okafor_url, "Okafor house", expected.home),
        ("15-device-vehicle", vehicle_url, None, expected.vehicle),
    ]
    for name, url, link, platforms in records:
        page.goto(url)
        if link:
            name_starts = re.compile(rf"^{re.escape(link)}\b")
            page.locator("main").get_by_role("link", name=name_starts).first.click()
        if platforms:
            states = expect_all_synced(page, nudged)
            assert {label for label, _ in states} == platforms, (name, states)
        else:
            expect(page.locator("main")).to_contain_text("Not sent anywhere: no connected platform")
        shot(page, artifacts, name)
    # The year went to WattCarbon as monthly files, by UTC month: 2023 in Los Angeles ends on
    # 2024-01-01 07:00 UTC, so its last 8 hours make a thirteenth (UTC) month.
    page.goto(solar_url)
    timeseries = page.locator("#upstream-links li", has_text=expected.readings_link)
    expect(timeseries).to_contain_text("13 months")
    expect(timeseries.locator(".state-badge")).to_have_text("Synced")
    assert not UpstreamLink.objects.exclude(state=LinkState.SYNCED).exists()
    lap("every record synced")

    # --- the Spark webhook: register, send a test event, see it under Events ---------------------
    _nav(page, "Integrations")
    page.get_by_role("button", name="Register webhook").click()
    expect(page.get_by_role("alert")).to_contain_text("Spark webhook registered")
    expect(page.get_by_role("alert")).to_contain_text(site_url)
    page.get_by_role("button", name="Send test event").click()
    expect(page.locator("h1")).to_have_text("Events from Volue Spark")
    expect(page.get_by_role("alert")).to_contain_text("Spark is sending a test event")
    # The list refreshes itself (htmx, every 3 s) until the delivery has arrived.
    test_row = page.locator(
        "#events-table tbody tr", has=page.locator(".badge", has_text=expected.test_badge)
    )
    expect(test_row).to_have_count(1, timeout=20_000)
    expect(test_row.locator("td").nth(1)).to_have_text(expected.test_event)
    expect(test_row.locator("td").nth(4)).to_have_text("1")  # delivered once
    shot(page, artifacts, "16-events")
    test_row.get_by_role("link").first.click()  # its time; the records it concerns follow
    expect(page.locator("h1")).to_contain_text(expected.test_heading)
    shot(page, artifacts, "17-event")
    spark_calls = [
        f"{method} {path} {status}"
        for method, path, status in registry.emulator("spark", profile).calls
    ]
    for call in expected.webhook_calls:
        assert [c for c in spark_calls if re.fullmatch(call, c)], (call, spark_calls)
    _nav(page, "Integrations")
    expect(page.locator("main")).to_contain_text("Registered as")
    shot(page, artifacts, "18-integrations-webhook")
    lap("spark webhook")

    # --- the meter: readings, then a Wattics stream id, and the stream catches up ----------------
    page.goto(meter_url)
    first_start = datetime(2025, 3, 1)
    two_weeks = hourly_csv(HOME_TZ, first_start, 14 * 24, household_kwh)
    drop_and_confirm(page, "PGE-RIV-01_march.csv", two_weeks, 336)
    page.reload()
    expect(page.locator("#upstream-links")).not_to_contain_text("Wattics")
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Wattics data stream id").fill(STREAM_ID)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_contain_text("PGE-RIV-01")
    stream = page.locator("#upstream-links li", has_text="Wattics")
    expect(stream.locator(".state-badge")).to_have_text("Synced")
    start_utc = first_start.replace(tzinfo=ZoneInfo(HOME_TZ)).astimezone(UTC)
    last_hour = start_utc + timedelta(hours=336 - 1)
    expect(_term(stream, "Acknowledged up to")).to_have_text(_local(last_hour))
    expect(_term(stream, "Backlog")).to_have_text("0 readings")
    expect(_term(stream, "Packets sent")).to_have_text(re.compile(r"^336\b"))
    shot(page, artifacts, "19-meter-stream")
    # A third week: the stream follows it.
    next_week = hourly_csv(
        HOME_TZ,
        (last_hour + timedelta(hours=1)).astimezone(ZoneInfo(HOME_TZ)).replace(tzinfo=None),
        7 * 24,
        household_kwh,
    )
    drop_and_confirm(page, "PGE-RIV-01_week3.csv", next_week, 168)
    page.reload()
    stream = page.locator("#upstream-links li", has_text="Wattics")
    expect(_term(stream, "Acknowledged up to")).to_have_text(
        _local(last_hour + timedelta(hours=168))
    )
    expect(_term(stream, "Backlog")).to_have_text("0 readings")
    expect(_term(stream, "Packets sent")).to_have_text(re.compile(r"^504\b"))
    expect(stream.locator(".state-badge")).to_have_text("Synced")
    expect(page.locator("#readings-panel .chart canvas")).to_have_count(3)
    shot(page, artifacts, "20-meter-stream-caught-up")
    lap("wattics stream")

    # --- the lists, uploads and members -----------------------------------------------------------
    for label, name, expected in [
        ("Customers", "21-customers", "Sam Okafor"),
        ("Homes", "22-homes", "Rivera residence"),
        ("Meters", "23-meters", STREAM_ID),
        ("Devices", "24-devices", "EV-OKAFOR"),
        ("Uploads", "25-uploads", "SOLAR-RIVERA_2023.csv"),
    ]:
        _nav(page, label)
        expect(page.locator("main")).to_contain_text(expected)
        shot(page, artifacts, name)
    page.locator("#org-switcher").click()
    page.get_by_role("link", name="Members").click()
    expect(page.locator("main")).to_contain_text(EMAIL)
    shot(page, artifacts, "26-members")
    _nav(page, "Dashboard")
    expect(page.locator("h1")).to_have_text("Sunrise Solar")
    shot(page, artifacts, "27-dashboard-after")
    lap("lists")

    print("journey timings (s):", timings)
    if nudged:
        print("records that needed 'Sync now':", nudged)
    assert page.console_errors == [], "\n".join(page.console_errors)
