"""`manage.py sync_status`: every link of an organization, as lines or as one JSON array."""

from __future__ import annotations

import io
import json
import re
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from homes import services as home_services
from homes.models import Meter
from integrations import engine, services
from integrations.clients import forget_clients
from integrations.models import Connection, LinkState, Profile, SyncAttempt, UpstreamLink
from integrations.sandbox import registry
from portal.demo import seed_demo
from readings.store import series_for
from readings.uploads import import_readings

pytestmark = pytest.mark.django_db

KEYS = {
    "platform",
    "channel",
    "kind",
    "record",
    "identifier",
    "state",
    "paused",
    "behind",
    "remote_id",
    "last_error",
    "profile",
    "unsent",
}


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    registry.reset_all()
    forget_clients()
    cache.clear()
    organization, _ = seed_demo("a-test-password-only")  # seed_demo's own data, without DEBUG
    yield organization
    registry.reset_all()
    forget_clients()


def sync_status(*args: str) -> str:
    out = StringIO()
    call_command("sync_status", *args, stdout=out)
    return out.getvalue()


def test_it_lists_every_link_of_the_demo_organization_as_json(demo):
    engine.sync_now(demo.pk)
    rows = json.loads(sync_status("--org", demo.slug, "--json"))
    links = UpstreamLink.objects.filter(organization=demo).select_related("content_type")
    assert len(rows) == links.count() > 10
    assert {(r["platform"], r["channel"], r["record"]) for r in rows} == {
        (link.platform, link.channel, f"{link.content_type.model}#{link.object_id}")
        for link in links
    }
    assert all(set(row) == KEYS for row in rows)
    solar = next(r for r in rows if r["identifier"] == "SP-ALV-01" and r["channel"] == "record")
    assert (solar["platform"], solar["kind"], solar["state"]) == ("wattcarbon", "device", "synced")
    assert solar["remote_id"].startswith("dev_") and solar["behind"] is None
    car = next(r for r in rows if r["identifier"] == "EV-OKA-01" and r["platform"] == "spark")
    assert (car["kind"], car["remote_id"]) == ("vehicle", "EV-OKA-01")
    assert {r["kind"] for r in rows if r["platform"] == "spark"} >= {"user", "meter", "resource"}


def test_it_filters_and_shows_in_doubt_paused_and_behind_in_lines(demo):
    user = UpstreamLink.objects.filter(organization=demo, platform="spark").first()
    UpstreamLink.objects.filter(pk=user.pk).update(
        state=LinkState.IN_DOUBT, last_error="The answer to the create was lost"
    )
    lines = sync_status("--org", demo.slug, "--state", "in_doubt").splitlines()
    assert len(lines) == 1
    platform, channel, kind, record, _name, state, remote_id, error = lines[0].split("\t")
    assert (platform, channel, state, remote_id) == ("spark", "record", "in_doubt", "-")
    assert record == f"{user.content_type.model}#{user.object_id}" and kind
    assert error == "The answer to the create was lost"

    # A meter given a Wattics stream, with three hours stored and none acknowledged yet.
    meter = Meter.objects.filter(organization=demo).first()
    meter.wattics_stream_id = "demo-stream-1"
    home_services.save_meter(meter)
    csv = b"datetime,value_kwh\n" + b"".join(
        f"2024-01-01T0{hour}:00:00+00:00,1.{hour}\n".encode() for hour in range(3)
    )
    import_readings(series_for(meter), io.BytesIO(csv), filename="meter.csv")
    stream = UpstreamLink.objects.get(organization=demo, channel="packets")
    UpstreamLink.objects.filter(pk=stream.pk).update(paused=True)
    wattics = sync_status("--org", demo.slug, "--platform", "wattics").splitlines()
    assert len(wattics) == 1 and wattics[0].startswith("wattics\tpackets\tstream\tmeter#")
    assert "\tpending,paused,behind:3\t" in wattics[0]
    (row,) = json.loads(sync_status("--org", demo.slug, "--platform", "wattics", "--json"))
    assert (row["identifier"], row["paused"], row["behind"]) == (meter.meter_number, True, 3)
    assert sync_status("--org", demo.slug, "--platform", "wattics", "--state", "rejected") == ""


def test_it_refuses_an_unknown_organization(demo):
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("sync_status", "--org", "nope")


def test_it_shows_the_demo_on_the_current_profile_synced_or_not_accepted_with_current_calls(demo):
    # The done-when: the demo synced (quickstart), every connection switched to
    # `current`, then Sync now.
    engine.sync_now(demo.pk)
    switched_at = timezone.now()
    for connection in Connection.objects.filter(organization=demo):
        connection.profile = Profile.CURRENT
        services.save_connection(connection)
    engine.sync_now(demo.pk)
    rows = json.loads(sync_status("--org", demo.slug, "--json"))
    assert {row["state"] for row in rows} == {LinkState.SYNCED}, rows
    not_sent = {(row["platform"], row["kind"], row["identifier"]) for row in rows if row["unsent"]}
    # Spark's current API has no meters, WattCarbon's no EV-charger asset, WattShift's solar is a
    # part of the home: kept with their quickstart ids (or none), said to be not sent.
    assert ("wattcarbon", "asset", "EVC-OKA-01") in not_sent
    assert {platform for platform, _, _ in not_sent} == {"spark", "wattcarbon", "wattshift"}
    assert all(row["unsent"] == "not_accepted" for row in rows if row["unsent"])
    sent = [row for row in rows if not row["unsent"] and row["platform"] != "wattics"]
    assert sent and all(row["profile"] == Profile.CURRENT for row in sent), sent
    lines = sync_status("--org", demo.slug).splitlines()
    assert any("\tEVC-OKA-01\tsynced,not_accepted\t" in line for line in lines), lines
    # Each record's history since the switch: the current calls, none of the quickstart's.
    since = SyncAttempt.objects.filter(link__organization=demo, started_at__gte=switched_at)
    paths = set(since.values_list("path", flat=True))
    assert {"/assets", "/meters", "/users"} <= paths, paths
    assert any(path.endswith("/locations") for path in paths), paths
    quickstart = re.compile(r"/devices(/.*)?|/users/[^/]+/meters|/v1/homes/solar/create")
    assert not [path for path in paths if quickstart.fullmatch(path)], paths
