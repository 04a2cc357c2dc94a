"""The fault drills on both contract profiles: the `current` profile's emulators with traps, its
connections, the calls the drills hold or count, and its exactly-once checks (the current
emulators keep their records in other shapes: WattCarbon assets, meters and intervals; Spark users,
locations and resources under ids we choose; WattShift homes carrying their solar).

Each helper named `..._as(profile, ...)` does the quickstart's (harness.py) or the current
profile's part; the drills call those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from homes.models import Home
from integrations import services
from integrations.models import Channel, Connection, LinkState, Profile, UpstreamLink
from integrations.sandbox.base import Emulator
from integrations.sandbox.spark import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from integrations.sandbox.spark.current import SparkCurrentEmulator
from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL
from integrations.sandbox.wattcarbon.current import WattCarbonCurrentEmulator
from integrations.sandbox.wattics import SANDBOX_PASSWORD, SANDBOX_USERNAME
from integrations.sandbox.wattshift import DEFAULT_API_KEY
from integrations.sandbox.wattshift.current import WattShiftCurrentEmulator

from . import harness
from .harness import (
    DrillSpark,
    DrillWattCarbon,
    DrillWattics,
    DrillWattShift,
    Portfolio,
    Trapping,
    Upstreams,
    _utc,
    assert_readings_stored_once,
    assert_wattics_exactly_once,
    blocked,
    describe_links,
    link_states,
)

PROFILES = (Profile.QUICKSTART.value, Profile.CURRENT.value)


class DrillWattCarbonCurrent(Trapping, WattCarbonCurrentEmulator):
    """WattCarbon's current emulator with traps."""


class DrillSparkCurrent(Trapping, SparkCurrentEmulator):
    """Spark's current emulator with traps."""


class DrillWattShiftCurrent(Trapping, WattShiftCurrentEmulator):
    """WattShift's current emulator with traps."""


def emulators(profile: str) -> list[Emulator]:
    """WattCarbon, Spark, WattShift and Wattics (one emulator for both profiles), with traps."""
    if profile == Profile.CURRENT:
        return [
            DrillWattCarbonCurrent(),
            DrillSparkCurrent(),
            DrillWattShiftCurrent(),
            DrillWattics(),
        ]
    return [DrillWattCarbon(), DrillSpark(), DrillWattShift(), DrillWattics()]


# The calls the drills hold (a Trap's path) per profile: the first create of each platform, and
# WattCarbon's monthly upload of a device's readings.
CALLS = {
    Profile.QUICKSTART: {
        "wattcarbon create": "/devices",
        "wattcarbon upload": r"/devices/[^/]+/timeseries",
        "spark create": "/users",
        "wattshift create": "/v1/homes/create",
    },
    Profile.CURRENT: {
        "wattcarbon create": "/meters",
        "wattcarbon upload": r"/meters/[^/]+/intervals",
        "spark create": "/users",
        "wattshift create": "/v1/homes/create",
    },
}


def connect_as(profile: str, org, upstreams: Upstreams) -> None:
    """The organization's four connections of `profile`, each to its emulator over HTTP."""
    if profile == Profile.QUICKSTART:
        harness.connect(org, upstreams)
        return
    spark = upstreams.spark.base_url
    for connection, credentials in [
        (
            Connection(platform="wattcarbon", base_url=upstreams.wattcarbon.base_url),
            {"username": SANDBOX_EMAIL, "password": SANDBOX_API_KEY},
        ),
        (
            Connection(platform="spark", base_url=spark, token_url=f"{spark}/connect/token"),
            {"username": DEFAULT_CLIENT_ID, "password": DEFAULT_CLIENT_SECRET},
        ),
        (
            Connection(platform="wattshift", base_url=upstreams.wattshift.base_url),
            {"api_key": DEFAULT_API_KEY},
        ),
        (
            Connection(platform="wattics", base_url=upstreams.wattics.base_url),
            {"username": SANDBOX_USERNAME, "password": SANDBOX_PASSWORD},
        ),
    ]:
        connection.organization = org
        connection.profile = Profile.CURRENT
        services.save_connection(connection, **credentials)


def upload_link_of(remote_id: str) -> UpstreamLink:
    """The WattCarbon timeseries link of the device whose record (quickstart device) or meter
    (current) has `remote_id`: what a held upload is for."""
    owner = UpstreamLink.objects.get(
        platform="wattcarbon", channel__in=[Channel.RECORD, Channel.METER], remote_id=remote_id
    )
    return UpstreamLink.objects.get(
        platform="wattcarbon", channel=Channel.TIMESERIES, object_id=owner.object_id
    )


def nothing_upstream(profile: str, upstreams: Upstreams) -> dict[str, int]:
    """How many records each platform holds (all zero before anything got through)."""
    wattcarbon, spark = upstreams.wattcarbon.app.state, upstreams.spark.app.state
    held = {
        "wattshift homes": len(upstreams.wattshift.app.state["homes"]),
        "wattics streams": len(upstreams.wattics.app.state["streams"]),
        "spark users": len(spark["users"]),
    }
    if profile == Profile.CURRENT:
        held |= {"wattcarbon meters": len(wattcarbon["meters"])}
        held |= {"wattcarbon assets": len(wattcarbon["assets"])}
        held |= {"spark locations": len(spark["locations"])}
    else:
        held |= {"wattcarbon devices": len(wattcarbon["devices"])}
    return {what: n for what, n in held.items() if n}


# --- what must be true after every drill, current profile --------------------------------------
def _remote_ids(platform: str, channel: str = Channel.RECORD) -> dict[tuple[str, int], str]:
    return {
        (link.content_type.model, link.object_id): link.remote_id
        for link in UpstreamLink.objects.filter(
            platform=platform, channel=channel, profile=Profile.CURRENT
        ).select_related("content_type")
    }


def assert_wattcarbon_current_exactly_once(
    upstreams: Upstreams, portfolio: Portfolio, *, resent_months: int = 0
) -> None:
    """One meter and one asset (on that meter) per device; each meter's intervals exactly its
    device's year, in twelve monthly uploads (`resent_months`: the uploads a killed worker may have
    to repeat)."""
    state = upstreams.wattcarbon.app.state
    custom_ids = Counter(record["asset"].get("customId") for record in state["assets"].values())
    assert custom_ids == Counter(dict.fromkeys(portfolio.device_readings, 1)), custom_ids
    assert len(state["meters"]) == len(portfolio.devices), sorted(state["meters"])
    meters, assets = _remote_ids("wattcarbon", Channel.METER), _remote_ids("wattcarbon")
    uploads = Counter(upload["recordId"] for upload in state["uploads"])
    for device in portfolio.devices:
        meter_id, asset_id = meters[("device", device.pk)], assets[("device", device.pk)]
        asset = state["assets"][asset_id]["asset"]
        assert asset["customId"] == device.custom_id, asset
        assert [str(m) for m in asset["meterIds"]] == [meter_id], asset
        expected = portfolio.device_readings[device.custom_id]
        stored = {_utc(key): value for key, value in state["intervals"][meter_id].items()}
        assert stored == expected, f"{device.custom_id}: {len(stored)} of {len(expected)} hours"
        assert 12 <= uploads[meter_id] <= 12 + resent_months, (device.custom_id, uploads)
    assert sum(uploads.values()) <= 12 * len(portfolio.devices) + resent_months, uploads


def assert_spark_current_exactly_once(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """A Spark user per customer, a location per home (its customer's), a resource per solar
    array (at its home's location), each under the id we chose; the meters have no place here."""
    state = upstreams.spark.app.state
    ids = _remote_ids("spark")
    assert set(state["users"]) == {ids[("customer", c.pk)] for c in portfolio.customers}
    assert set(state["locations"]) == {ids[("home", h.pk)] for h in portfolio.homes}
    assert set(state["resources"]) == {ids[("device", d.pk)] for d in portfolio.devices}
    for home in portfolio.homes:
        location = state["locations"][ids[("home", home.pk)]]
        assert location["userId"] == ids[("customer", home.customer_id)], location
    for device in portfolio.devices:
        resource = state["resources"][ids[("device", device.pk)]]
        assert resource["locationId"] == ids[("home", device.home_id)], resource


def assert_wattshift_current_exactly_once(upstreams: Upstreams, portfolio: Portfolio) -> None:
    """One WattShift home per home, its solar (the array's size) a part of it."""
    state = upstreams.wattshift.app.state
    ids = _remote_ids("wattshift")
    assert set(state["homes"]) == {ids[("home", home.pk)] for home in portfolio.homes}
    for home_id in state["homes"]:
        assert float(state["solar"][home_id]["solarSystemSizeKw"]) == 7.2, state["solar"]


def assert_links_settled_or_not_sent() -> None:
    """Every link synced with its remote id, but for those the profile has no place for (synced,
    "not sent", e.g. a meter on Spark's current API, kept with the quickstart's id if it had one)."""
    assert set(link_states()) == {LinkState.SYNCED}, describe_links()
    unknown = UpstreamLink.objects.filter(remote_id="").exclude(unsent="not_accepted")
    assert not unknown.exists(), describe_links()


def assert_exactly_once_as(
    profile: str, upstreams: Upstreams, portfolio: Portfolio, *, resent_months: int = 0
) -> None:
    """The end state every drill must reach, on `profile` (harness.assert_exactly_once for the
    quickstart). Every check runs, so a failure lists all that went wrong."""
    if profile == Profile.QUICKSTART:
        harness.assert_exactly_once(upstreams, portfolio, resent_months=resent_months)
        return
    checks: list[tuple[str, Callable[[], None]]] = [
        ("links", assert_links_settled_or_not_sent),
        ("readings", lambda: assert_readings_stored_once(portfolio)),
        (
            "WattCarbon",
            lambda: assert_wattcarbon_current_exactly_once(
                upstreams, portfolio, resent_months=resent_months
            ),
        ),
        ("Wattics", lambda: assert_wattics_exactly_once(upstreams, portfolio)),
        ("Spark", lambda: assert_spark_current_exactly_once(upstreams, portfolio)),
        ("WattShift", lambda: assert_wattshift_current_exactly_once(upstreams, portfolio)),
    ]
    problems = []
    for name, check in checks:
        try:
            check()
        except (AssertionError, KeyError) as exc:
            problems.append(f"--- {name}: {type(exc).__name__}: {exc}")
    assert not problems, "\n".join(problems)


def assert_nothing_twice_nothing_refused_as(
    profile: str, upstreams: Upstreams, portfolio: Portfolio
) -> None:
    """Before a person settles the links in doubt (harness.assert_nothing_twice_nothing_refused
    for the quickstart): nothing failed or refused, nothing made twice."""
    if profile == Profile.QUICKSTART:
        harness.assert_nothing_twice_nothing_refused(upstreams, portfolio)
        return
    states = link_states()
    assert not states[LinkState.FAILED] and not states[LinkState.REJECTED], describe_links()
    assert not states[LinkState.SYNCING], describe_links()
    assert states[LinkState.PENDING] == blocked(), describe_links()
    in_doubt = UpstreamLink.objects.filter(state=LinkState.IN_DOUBT)
    assert not in_doubt.filter(create_sent_at__isnull=True).exists(), describe_links()
    assert not in_doubt.exclude(remote_id="").exists(), describe_links()
    wattcarbon = upstreams.wattcarbon.app.state
    assert len(wattcarbon["meters"]) <= len(portfolio.devices), sorted(wattcarbon["meters"])
    custom_ids = Counter(
        record["asset"].get("customId") for record in wattcarbon["assets"].values()
    )
    assert all(n == 1 for n in custom_ids.values()), custom_ids
    spark = upstreams.spark.app.state
    assert len(spark["users"]) <= len(portfolio.customers), sorted(spark["users"])
    homes = upstreams.wattshift.app.state["homes"]
    assert len(homes) == len(portfolio.homes), sorted(homes)


def resolve_in_doubt_as(profile: str, upstreams: Upstreams) -> dict[str, int]:
    """What a person does on each in-doubt link's page (harness.resolve_in_doubt for the
    quickstart): find the record on its platform (a WattCarbon meter no link names, the home's
    name on WattShift) and say "it exists: use id ...". Returns how many of each were in doubt."""
    if profile == Profile.QUICKSTART:
        return harness.resolve_in_doubt(upstreams)
    resolved: Counter[str] = Counter()
    linked = set(UpstreamLink.objects.exclude(remote_id="").values_list("remote_id", flat=True))
    for link in UpstreamLink.objects.filter(state=LinkState.IN_DOUBT):
        record: Any = link.record
        if link.platform == "wattcarbon" and link.channel == Channel.METER:
            meters = upstreams.wattcarbon.app.state["meters"]
            found = [key for key in meters if key not in linked]
        elif link.platform == "wattshift" and isinstance(record, Home):
            homes = upstreams.wattshift.app.state["homes"].items()
            found = [key for key, home in homes if home["name"] == record.name]
        else:
            raise AssertionError(f"no way to find {link} upstream: {link.last_error}")
        assert len(found) == 1, (link, found)  # one there: the lost create made it once
        assert services.adopt_remote_id(link, found[0]), link
        resolved[link.platform] += 1
    return dict(resolved)
