"""Exactly-once creates: a create whose answer is lost never makes a second record upstream.

Each emulator can "act, then drop the answer" (the record is made, the connection drops). The
engine then finds the record where the platform enforces an id of ours, and otherwise leaves the
link in doubt for a person, who says "it exists: use id ..." or "create it again".
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from devices import services as device_services
from devices.models import Device
from homes import services as home_services
from homes.directory import lookup_utilities
from homes.models import Customer, Home, Meter
from integrations import engine, receivers, services
from integrations.clients import CallLog, client_for
from integrations.egress import EgressBlocked
from integrations.http import UpstreamClient, UpstreamError
from integrations.models import Connection, LinkState, UpstreamLink
from integrations.sandbox import registry
from integrations.sandbox.base import SandboxTransport
from integrations.sandbox.registry import SANDBOX_CREDENTIALS, tenant_of
from integrations.views import sync_summary
from integrations.wattshift import WattShiftClient
from portal.models import Membership
from tests.factories import HomeFactory

pytestmark = pytest.mark.django_db

VEHICLE = {"brand": "Tesla", "model": "Model 3", "year": 2019, "vin": "5YJ3E1EA2KF317000"}
TANK = {"brand": "OSO", "model": "Saga", "capacity_l": 200, "heating_elements_w": "2000, 1000"}


def connect(org, platform: str, profile: str = "quickstart") -> None:
    services.save_connection(
        Connection(organization=org, platform=platform, profile=profile),
        **SANDBOX_CREDENTIALS[platform],
    )


def settle_all(org, rounds: int = 12) -> None:
    """Run every pending link of `org`, ignoring backoffs, until none is left (or only links
    waiting for a parent that will not come)."""
    for _ in range(rounds):
        ids = list(
            UpstreamLink.objects.filter(organization=org, state=LinkState.PENDING).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            return
        for link_id in ids:
            engine.run_link(link_id, ignore_schedule=True)


def link_of(record, platform: str, channel: str = "record") -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform=platform,
        channel=channel,
    )


# --- the records, one per create call -------------------------------------------------------------
def new_home(org, *, wattshift: bool = False) -> Home:
    customer = home_services.save_customer(
        Customer(organization=org, name="Ada Lovelace", email="ada@example.test")
    )
    extra: dict[str, Any] = {}
    if wattshift:
        utility = lookup_utilities(org, "95313").utilities[0]
        extra = {"utility": utility, "rate_plan": utility.rate_plans.first()}
    return home_services.save_home(
        HomeFactory.build(
            organization=org,
            customer=customer,
            name="Sunny home",
            street="1 Main St",
            city="Crows Landing",
            zip_code="95313",
            **extra,
        )
    )


def new_device(org, home: Home, kind: str, custom_id: str, details: dict[str, Any]) -> Device:
    return device_services.save_device(
        Device(
            organization=org,
            home=home,
            kind=kind,
            name=f"{kind} {custom_id}",
            custom_id=custom_id,
            details=details,
        )
    )


def solar(org, home: Home) -> Device:
    return new_device(
        org,
        home,
        "solar",
        "SP-1",
        {"nameplate_capacity_kw": 7.2, "inverter_data_source": "enphase"},
    )


def vehicle(org, home: Home) -> Device:
    return new_device(org, home, "vehicle", "EV-1", VEHICLE)


def report(org, home: Home) -> Any:
    return services.create_charge_report(
        vehicle=vehicle(org, home),
        event=None,
        name="Start charging",
        action="Start",
        power_w=7400,
        state_of_charge=0.35,
        battery_capacity_wh=75000,
    )


def spark_children(state: dict[str, Any], kind: str) -> dict[str, Any]:
    return {key: value for user in state["users"].values() for key, value in user[kind].items()}


def only(ids: Any) -> str:
    ids = list(ids)
    assert len(ids) == 1, ids
    return ids[0]


@dataclass
class Case:
    """One create call: its platform and path, the record that makes it, how the emulator counts
    what it holds, and how a person would find the record's id there."""

    platform: str
    path: str
    make: Callable[[Any, Home], Any]
    held: Callable[[dict[str, Any]], dict[str, Any]]
    settles_as: str  # after the lost answer: synced (found by the engine) or in doubt
    wattshift_home: bool = False
    profile: str = "quickstart"  # the connection's contract profile
    channel: str = "record"  # the link's channel (WattCarbon current: a device's meter)

    def emulator(self) -> Any:
        return registry.emulator(self.platform, self.profile)

    def count(self) -> int:
        return len(self.held(self.emulator().state))

    def found_id(self) -> str:
        return only(self.held(self.emulator().state))


CASES = {
    "wattcarbon device": Case(
        "wattcarbon", "/devices", solar, lambda s: s["devices"], LinkState.IN_DOUBT
    ),
    "spark user": Case(
        "spark", "/users", lambda org, home: home.customer, lambda s: s["users"], LinkState.IN_DOUBT
    ),
    "spark vehicle": Case(
        "spark",
        "/users/[^/]+/vehicles",
        vehicle,
        lambda s: spark_children(s, "vehicles"),
        LinkState.SYNCED,
    ),
    "spark meter": Case(
        "spark",
        "/users/[^/]+/meters",
        lambda org, home: home_services.save_meter(
            Meter(organization=org, home=home, meter_number="E-42", meter_point_id="MP-42")
        ),
        lambda s: spark_children(s, "meters"),
        LinkState.IN_DOUBT,
    ),
    "spark resource": Case(
        "spark",
        "/users/[^/]+/resources",
        lambda org, home: new_device(org, home, "hot_water_tank", "HWT-1", TANK),
        lambda s: spark_children(s, "resources"),
        LinkState.SYNCED,
    ),
    "spark report": Case("spark", "/reports", report, lambda s: s["reports"], LinkState.IN_DOUBT),
    "wattshift home": Case(
        "wattshift",
        "/v1/homes/create",
        lambda org, home: home,
        lambda s: s["homes"],
        LinkState.IN_DOUBT,
        wattshift_home=True,
    ),
    "wattshift solar": Case(
        "wattshift",
        "/v1/homes/solar/create",
        solar,
        lambda s: s["solar"],
        LinkState.IN_DOUBT,
        wattshift_home=True,
    ),
    # The current profile (docs/upstreams/): Spark's records carry ids we choose, so the engine
    # sends a lost create again and finds it there; WattCarbon's meter and WattShift's home have
    # the platform's ids and no lookup; a WattCarbon asset sent again is refused for its customId.
    "current wattcarbon meter": Case(
        "wattcarbon",
        "/meters",
        solar,
        lambda s: s["meters"],
        LinkState.IN_DOUBT,
        profile="current",
        channel="meter",
    ),
    "current wattcarbon asset": Case(
        "wattcarbon", "/assets", solar, lambda s: s["assets"], LinkState.IN_DOUBT, profile="current"
    ),
    "current spark user": Case(
        "spark",
        "/users",
        lambda org, home: home.customer,
        lambda s: s["users"],
        LinkState.SYNCED,
        profile="current",
    ),
    "current spark location": Case(
        "spark",
        "/users/[^/]+/locations",
        lambda org, home: home,
        lambda s: s["locations"],
        LinkState.SYNCED,
        profile="current",
    ),
    "current spark vehicle": Case(
        "spark",
        "/users/[^/]+/vehicles",
        vehicle,
        lambda s: s["resources"],
        LinkState.SYNCED,
        profile="current",
    ),
    "current spark resource": Case(
        "spark",
        "/users/[^/]+/locations/[^/]+/resources",
        lambda org, home: new_device(org, home, "hot_water_tank", "HWT-1", TANK),
        lambda s: s["resources"],
        LinkState.SYNCED,
        profile="current",
    ),
    "current wattshift home": Case(
        "wattshift",
        "/v1/homes/create",
        lambda org, home: home,
        lambda s: s["homes"],
        LinkState.IN_DOUBT,
        wattshift_home=True,
        profile="current",
    ),
}
IN_DOUBT_CASES = [name for name, case in CASES.items() if case.settles_as == LinkState.IN_DOUBT]


def lose_the_answer(org, case: Case) -> Any:
    """Connect, arm "act, then drop the answer" on the case's create (for this organization's
    calls only), save the records, and let the engine do what it can."""
    connect(org, case.platform, case.profile)
    home = new_home(org, wattshift=case.wattshift_home)
    case.emulator().drop_answers(1, case.path, tenant=tenant_of(org.pk))
    record = case.make(org, home)
    settle_all(org)
    assert case.emulator().faults_for(tenant_of(org.pk)).drop_answer_next == 0
    return record


def assert_nothing_refused(org) -> None:
    refused = UpstreamLink.objects.filter(
        organization=org, state__in=[LinkState.REJECTED, LinkState.FAILED]
    )
    assert not refused.exists(), list(refused.values_list("platform", "last_error"))


@pytest.mark.parametrize("name", CASES)
def test_it_makes_each_record_once_when_the_answer_to_its_create_is_lost(org, sandbox, name):
    case = CASES[name]
    record = lose_the_answer(org, case)
    link = link_of(record, case.platform, case.channel)
    assert case.count() == 1  # exactly one upstream
    assert link.state == case.settles_as, link.last_error
    assert_nothing_refused(org)
    if case.settles_as == LinkState.SYNCED:
        assert link.remote_id == case.found_id() and link.create_sent_at is None
    else:
        assert not link.remote_id and link.create_sent_at is not None
        assert link.pk not in engine.due_link_ids()  # the sweep leaves it to a person


@pytest.mark.parametrize("name", IN_DOUBT_CASES)
def test_it_lets_a_member_link_an_in_doubt_record_to_the_id_found_upstream(
    org, sandbox, member_client, django_capture_on_commit_callbacks, name
):
    case = CASES[name]
    record = lose_the_answer(org, case)
    link = link_of(record, case.platform, case.channel)
    page = member_client.get(reverse("link_history", args=[link.pk])).content.decode()
    assert "What we sent" in page and "It exists upstream: use id" in page
    assert "create it again" in page
    sent = json.dumps(link.create_payload, indent=2, sort_keys=True)
    assert escape(sent) in page  # the body as sent: our record's fields, never a credential

    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("link_use_id", args=[link.pk]), {"remote_id": case.found_id()})
    settle_all(org)
    link.refresh_from_db()
    assert (link.state, link.remote_id) == (LinkState.SYNCED, case.found_id())
    assert case.count() == 1
    assert link.create_sent_at is None and link.create_payload == {}
    assert set(UpstreamLink.objects.filter(organization=org).values_list("state", flat=True)) == {
        LinkState.SYNCED
    }  # what waited for it (a Spark vehicle's report, WattShift solar) followed


# After "create it again": one more record, unless the platform enforces an id of ours, in which
# case it refuses the second one (the person was wrong; the link says so in the platform's words).
# WattShift keeps one solar system per home: a second create replaces the first.
CREATED_AGAIN = {
    "wattcarbon device": (1, LinkState.REJECTED),
    "spark user": (2, LinkState.SYNCED),
    "spark meter": (1, LinkState.REJECTED),
    "spark report": (2, LinkState.SYNCED),
    "wattshift home": (2, LinkState.SYNCED),
    "wattshift solar": (1, LinkState.SYNCED),
    "current wattcarbon meter": (2, LinkState.SYNCED),
    "current wattcarbon asset": (1, LinkState.REJECTED),
    "current wattshift home": (2, LinkState.SYNCED),
}


@pytest.mark.parametrize("name", IN_DOUBT_CASES)
def test_it_creates_an_in_doubt_record_once_more_when_a_member_says_it_is_not_there(
    org, sandbox, member_client, django_capture_on_commit_callbacks, name
):
    case = CASES[name]
    record = lose_the_answer(org, case)
    link = link_of(record, case.platform, case.channel)
    creates = [call for call in case.emulator().calls if call[0] == "POST"]
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("link_create_again", args=[link.pk]))
    settle_all(org)
    link.refresh_from_db()
    count, state = CREATED_AGAIN[name]
    assert (case.count(), link.state) == (count, state), link.last_error
    after = [call for call in case.emulator().calls if call[0] == "POST"]
    assert any(re.fullmatch(case.path, path) for _, path, _ in after[len(creates) :])
    if state == LinkState.REJECTED:
        assert link.last_status_code == 409
    # Once settled, the actions refuse: nothing is in doubt any more.
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(reverse("link_create_again", args=[link.pk]))
    settle_all(org)
    assert case.count() == count


def test_it_keeps_the_in_doubt_actions_to_members(org, sandbox, viewer_client):
    record = lose_the_answer(org, CASES["spark user"])
    link = link_of(record, "spark")
    page = viewer_client.get(reverse("link_history", args=[link.pk])).content.decode()
    assert "What we sent" in page and "use id" not in page
    assert viewer_client.post(reverse("link_create_again", args=[link.pk])).status_code == 403
    assert (
        viewer_client.post(reverse("link_use_id", args=[link.pk]), {"remote_id": "x"}).status_code
        == 403
    )
    link.refresh_from_db()
    assert link.state == LinkState.IN_DOUBT


def test_it_refuses_an_empty_or_spaced_id(org, sandbox, member_client):
    record = lose_the_answer(org, CASES["wattshift home"])
    link = link_of(record, "wattshift")
    for bad in ("", "ws home 1"):
        response = member_client.post(
            reverse("link_use_id", args=[link.pk]), {"remote_id": bad}, follow=True
        )
        assert response.status_code == 200
    link.refresh_from_db()
    assert link.state == LinkState.IN_DOUBT and not link.remote_id


def test_it_counts_and_badges_in_doubt_links(org, sandbox, owner_client):
    record = lose_the_answer(org, CASES["wattshift home"])
    board = owner_client.get(reverse("integrations")).content.decode()
    assert "In doubt" in board and 'text-bg-dark">1<' in board
    panel = sync_summary(Membership(organization=org))
    wattshift = next(row for row in panel["rows"] if row["label"] == "WattShift")
    assert (wattshift["in_doubt"], wattshift["problems"]) == (1, 1)
    page = owner_client.get(record.get_absolute_url()).content.decode()
    assert "In doubt" in page and "Say whether it is there" in page
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    problems = dashboard.split("Needs attention", 1)[1]
    assert '<div class="card-count text-body">1</div>' in problems[:200]
    assert "1 in doubt</span>" in dashboard


def test_it_leaves_an_in_doubt_link_alone_when_its_record_changes(org, sandbox):
    home = lose_the_answer(org, CASES["wattshift home"])
    home.name = "Renamed home"
    home_services.save_home(home)
    link = link_of(home, "wattshift")
    assert link.state == LinkState.IN_DOUBT
    assert link.pk not in engine.due_link_ids()
    assert engine.run_link(link.pk).state == "skipped"  # not claimable
    assert CASES["wattshift home"].count() == 1


# --- what counts as "answer lost" ----------------------------------------------------------------
def client_raising(exc: Exception | None = None, status: int = 200) -> UpstreamClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if exc is not None:
            raise exc
        return httpx.Response(status, json={"detail": "x"})

    return UpstreamClient("http://upstream.test", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(
    ("raised", "status", "lost"),
    [
        (httpx.ConnectError("refused"), 200, False),
        (httpx.ConnectTimeout("slow handshake"), 200, False),
        (httpx.PoolTimeout("no connection free"), 200, False),
        (EgressBlocked("not an allowed origin"), 200, False),
        (httpx.ReadTimeout("no answer"), 200, True),
        (httpx.WriteTimeout("stuck sending"), 200, True),
        (httpx.ReadError("reset by peer"), 200, True),
        (httpx.RemoteProtocolError("peer closed mid-body"), 200, True),
        (None, 500, True),
        (None, 502, True),
        (None, 504, True),
        (None, 503, False),  # RFC 9110: unable to handle it (down, overloaded)
        (None, 429, False),
        (None, 422, False),
    ],
)
def test_it_tells_a_lost_answer_from_a_call_that_surely_did_nothing(raised, status, lost):
    with pytest.raises(UpstreamError) as failed:
        client_raising(raised, status).request("POST", "/things")
    assert failed.value.answer_lost is lost


def test_it_creates_once_more_when_the_create_surely_never_went_out(org, sandbox, monkeypatch):
    connect(org, "wattshift")
    home = new_home(org, wattshift=True)
    original = SandboxTransport.handle_request
    refused = {"n": 0}

    def refuse_once(self, request):
        if request.url.path == "/v1/homes/create" and not refused["n"]:
            refused["n"] += 1
            raise httpx.ConnectError("connection refused", request=request)
        return original(self, request)

    monkeypatch.setattr(SandboxTransport, "handle_request", refuse_once)
    link = link_of(home, "wattshift")
    assert engine.run_link(link.pk).state == LinkState.PENDING
    link.refresh_from_db()
    assert link.create_sent_at is None and "could not be reached" in link.last_error
    registry.emulator("wattshift").faults.fail_next = 1  # a 503: not handled either
    settle_all(org)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCED and CASES["wattshift home"].count() == 1


def test_it_finds_a_device_whose_lost_create_never_reached_the_platform(org, sandbox):
    # The connection drops before WattCarbon sees the call: we cannot tell, so the create is in
    # question; sent again with its customId, it is made now, once.
    connect(org, "wattcarbon")
    device = solar(org, new_home(org))
    link = link_of(device, "wattcarbon")
    connection = Connection.objects.get(organization=org, platform="wattcarbon")
    client_for(connection, CallLog()).create_token()  # signed in: the next call is the create
    registry.emulator("wattcarbon").faults_for(tenant_of(org.pk)).drop_next = 1
    assert engine.run_link(link.pk).state == LinkState.PENDING
    settle_all(org)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCED and CASES["wattcarbon device"].count() == 1
    assert link.remote_id == CASES["wattcarbon device"].found_id()


def test_it_does_not_doubt_a_create_whose_sign_in_lost_its_answer(org, sandbox):
    connect(org, "spark")
    customer = new_home(org).customer
    registry.emulator("spark").drop_answers(1, "/connect/token", tenant=tenant_of(org.pk))
    link = link_of(customer, "spark")
    assert engine.run_link(link.pk).state == LinkState.PENDING  # no token: the create never left
    link.refresh_from_db()
    assert link.create_sent_at is None
    settle_all(org)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCED and CASES["spark user"].count() == 1


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after the call runs."""


def test_it_puts_a_create_in_doubt_when_its_worker_died_with_the_call_in_flight(
    org, sandbox, monkeypatch
):
    connect(org, "wattshift")
    home = new_home(org, wattshift=True)
    original = WattShiftClient.create_home

    def create_then_die(self, payload):
        original(self, payload)  # WattShift made it; its answer goes to a process that is gone
        raise WorkerKilled

    monkeypatch.setattr(WattShiftClient, "create_home", create_then_die)
    link = link_of(home, "wattshift")
    with pytest.raises(WorkerKilled):
        engine.run_link(link.pk)
    monkeypatch.setattr(WattShiftClient, "create_home", original)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCING and link.create_sent_at is not None
    assert receivers.upstream_copies(home)  # not deleted from under the platform meanwhile
    UpstreamLink.objects.filter(pk=link.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )  # its lease runs out: the sweep takes it
    assert engine.run_link(link.pk).state == LinkState.IN_DOUBT
    assert CASES["wattshift home"].count() == 1


def test_it_keeps_a_lost_create_noted_when_the_record_changed_meanwhile(org, sandbox, monkeypatch):
    connect(org, "wattshift")
    home = new_home(org, wattshift=True)
    original = WattShiftClient.create_home
    registry.emulator("wattshift").drop_answers(1, "/v1/homes/create", tenant=tenant_of(org.pk))

    def create_while_the_user_edits(self, payload):
        home.name = "Renamed while sending"
        home_services.save_home(home)
        return original(self, payload)

    monkeypatch.setattr(WattShiftClient, "create_home", create_while_the_user_edits)
    link = link_of(home, "wattshift")
    engine.run_link(link.pk)
    link.refresh_from_db()
    assert link.state == LinkState.PENDING and link.create_sent_at is not None  # the change waits
    monkeypatch.setattr(WattShiftClient, "create_home", original)
    assert engine.run_link(link.pk, ignore_schedule=True).state == LinkState.IN_DOUBT
    assert CASES["wattshift home"].count() == 1


def test_it_updates_a_found_device_with_changes_made_while_it_was_in_question(org, sandbox):
    connect(org, "wattcarbon")
    registry.emulator("wattcarbon").drop_answers(1, "/devices", tenant=tenant_of(org.pk))
    device = solar(org, new_home(org))
    link = link_of(device, "wattcarbon")
    engine.run_link(link.pk)
    link.refresh_from_db()
    assert link.state == LinkState.PENDING and link.create_payload["name"] == "solar SP-1"
    # Meanwhile WattCarbon loses the device (say someone deleted it): sent again, it is made anew.
    registry.emulator("wattcarbon").state["devices"].clear()
    device.name = "Renamed array"
    device_services.save_device(device)
    settle_all(org)
    link.refresh_from_db()
    held = registry.emulator("wattcarbon").state["devices"]
    assert link.state == LinkState.SYNCED and list(held) == [link.remote_id]
    assert held[link.remote_id]["device"]["name"] == "Renamed array"  # the change followed


# --- the emulators' fault ------------------------------------------------------------------------
def test_it_acts_then_drops_the_answer_on_every_emulator_for_one_tenant_only(sandbox):
    from integrations.sandbox.wattics import MEASUREMENTS_PATH
    from integrations.spark import SparkClient
    from integrations.wattcarbon import WattCarbonClient
    from integrations.wattics import WatticsClient

    def clients(tenant: str) -> dict[str, tuple[Any, Callable[[Any], Any]]]:
        def transport(platform: str) -> SandboxTransport:
            return SandboxTransport(app=registry.emulator(platform), tenant=tenant)

        wattcarbon = WattCarbonClient(
            "http://wattcarbon.sandbox",
            email=SANDBOX_CREDENTIALS["wattcarbon"]["username"],
            api_key=SANDBOX_CREDENTIALS["wattcarbon"]["password"],
            transport=transport("wattcarbon"),
        )
        spark = SparkClient(
            "http://spark.sandbox",
            token_url="http://spark.sandbox/connect/token",
            client_id=SANDBOX_CREDENTIALS["spark"]["username"],
            client_secret=SANDBOX_CREDENTIALS["spark"]["password"],
            transport=transport("spark"),
        )
        wattshift = WattShiftClient(
            "http://wattshift.sandbox",
            api_key=SANDBOX_CREDENTIALS["wattshift"]["api_key"],
            transport=transport("wattshift"),
        )
        wattics = WatticsClient(
            "http://wattics.sandbox",
            username=SANDBOX_CREDENTIALS["wattics"]["username"],
            password=SANDBOX_CREDENTIALS["wattics"]["password"],
            transport=transport("wattics"),
        )
        utility = wattshift.get_utilities("95313")[0]
        home = {
            "name": "Home",
            "zipcode": "95313",
            "utilityId": utility["utilityId"],
            "ratePlanId": utility["wsRatePlans"][0]["id"],
        }
        packets = iter(range(1, 10))
        return {
            "wattcarbon": (
                wattcarbon,
                lambda c: c.create_device(
                    {
                        "name": "A",
                        "kind": "solar",
                        "location": "Somewhere",
                        "nameplateCapacityKw": 5,
                    }
                ),
            ),
            "spark": (spark, lambda c: c.create_user()),
            "wattshift": (wattshift, lambda c: c.create_home(home)),
            "wattics": (
                wattics,
                lambda c: c.push_packet(
                    {
                        "id": f"stream-{tenant}",
                        "tsISO8601": f"2024-01-01T0{next(packets)}:00:00.000+00:00",
                        "value": 1.5,
                    }
                ),
            ),
        }

    held = {
        "wattcarbon": lambda s: len(s["devices"]),
        "spark": lambda s: len(s["users"]),
        "wattshift": lambda s: len(s["homes"]),
        "wattics": lambda s: sum(stream["accepted"] for stream in s["streams"].values()),
    }
    paths = {
        "wattcarbon": "/devices",
        "spark": "/users",
        "wattshift": "/v1/homes/create",
        "wattics": MEASUREMENTS_PATH,
    }
    mine, theirs = clients("org-1"), clients("org-2")
    for platform, (client, create) in mine.items():
        emulator = registry.emulator(platform)
        # Through the control endpoint, as the tenant: the fault is that tenant's alone.
        control = httpx.Client(
            transport=SandboxTransport(app=emulator, tenant="org-1"), base_url="http://sandbox"
        )
        armed = control.post(
            "/_sandbox/faults", json={"drop_answer_next": 1, "drop_answer_path": paths[platform]}
        ).json()
        assert armed["drop_answer_next"] == 1
        other_client, other_create = theirs[platform]
        other_create(other_client)  # another organization's call is answered
        assert held[platform](emulator.state) == 1
        with pytest.raises(UpstreamError) as lost:
            create(client)
        assert lost.value.answer_lost, platform
        assert held[platform](emulator.state) == 2, platform  # done, only the answer lost
        create(client)  # the fault is spent
        assert held[platform](emulator.state) == 3, platform
