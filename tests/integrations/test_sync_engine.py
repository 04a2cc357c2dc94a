"""The sync engine with WattCarbon: outbox, claims, retries, parents first, the ledger."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from devices import services as device_services
from integrations import engine, outcomes
from integrations.models import Channel, Connection, LinkState, SyncAttempt, UpstreamLink
from tests.factories import DeviceFactory, HomeFactory

pytestmark = pytest.mark.django_db


def link_of(record, channel=Channel.RECORD) -> UpstreamLink:
    return UpstreamLink.objects.get(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        platform="wattcarbon",
        channel=channel,
    )


def settle(link: UpstreamLink, rounds: int = 10) -> UpstreamLink:
    """Run a link until it leaves `pending`, ignoring the backoff schedule (tests don't wait)."""
    for _ in range(rounds):
        engine.run_link(link.pk, ignore_schedule=True)
        link.refresh_from_db()
        if link.state != LinkState.PENDING:
            break
    return link


def new_device(org, **kwargs):
    device = DeviceFactory.build(organization=org, home=HomeFactory(organization=org), **kwargs)
    return device_services.save_device(device)


def remote_devices(emulator) -> dict:
    return {key: value["device"] for key, value in emulator.app.state["devices"].items()}


def test_it_marks_a_new_device_pending_in_the_same_transaction_and_syncs_it(
    org, wattcarbon, wattcarbon_connection
):
    device = new_device(org, custom_id="SP-1", commenced_operation_date=date(2024, 1, 1))
    link = link_of(device)
    assert link.state == LinkState.PENDING
    link = settle(link)
    assert link.state == LinkState.SYNCED and link.remote_id.startswith("dev_")
    sent = remote_devices(wattcarbon)[link.remote_id]
    assert sent["customId"] == "SP-1" and sent["kind"] == "solar"
    assert sent["deviceOwner"] == {"name": device.home.customer.name}


def test_it_updates_with_put_and_sends_nothing_when_unchanged(
    org, wattcarbon, wattcarbon_connection
):
    device = new_device(org)
    link = settle(link_of(device))
    calls_before = len(wattcarbon.app.calls)
    device.name = "Renamed array"
    device_services.save_device(device)
    link = settle(link_of(device))
    assert remote_devices(wattcarbon)[link.remote_id]["name"] == "Renamed array"
    assert ("PUT", f"/devices/{link.remote_id}", 200) in wattcarbon.app.calls
    device_services.save_device(device)  # saved again, nothing changed
    calls = len(wattcarbon.app.calls)
    settle(link_of(device))
    assert len(wattcarbon.app.calls) == calls
    assert calls > calls_before


def test_it_reauthenticates_once_when_the_token_expires_mid_run(
    org, wattcarbon, wattcarbon_connection
):
    first = new_device(org)
    settle(link_of(first))
    wattcarbon.app.expire_tokens()
    second = new_device(org)
    link = settle(link_of(second))
    assert link.state == LinkState.SYNCED
    paths = [(m, p, s) for m, p, s in wattcarbon.app.calls]
    assert paths[-3:] == [
        ("POST", "/devices", 401),
        ("POST", "/auth/token", 200),
        ("POST", "/devices", 201),
    ]


def test_it_retries_503s_then_succeeds_without_losing_or_duplicating(
    org, wattcarbon, wattcarbon_connection
):
    wattcarbon.app.faults.fail_next = 3
    wattcarbon.app.faults.status = 503
    device = new_device(org, custom_id="SP-503")
    link = link_of(device)
    outcome = engine.run_link(link.pk)
    link.refresh_from_db()
    assert outcome.retry_in_s and link.state == LinkState.PENDING and link.attempts == 1
    assert link.next_attempt_at > timezone.now()
    assert engine.run_link(link.pk).state == "skipped"  # not due yet
    link = settle(link)
    assert link.state == LinkState.SYNCED
    assert [d["customId"] for d in remote_devices(wattcarbon).values()] == ["SP-503"]
    errors = SyncAttempt.objects.filter(link=link, status_code=503).count()
    assert errors >= 2 and SyncAttempt.objects.filter(link=link, status_code=201).count() == 1


def test_it_honours_retry_after_on_429(org, wattcarbon, wattcarbon_connection):
    wattcarbon.app.faults.fail_next = 1
    wattcarbon.app.faults.status = 429
    wattcarbon.app.faults.retry_after = 120
    device = new_device(org)
    outcome = engine.run_link(link_of(device).pk)
    link = link_of(device)
    assert outcome.retry_in_s == 120
    assert timedelta(seconds=110) < link.next_attempt_at - timezone.now() <= timedelta(seconds=120)
    assert link.last_status_code == 429


def test_it_fails_a_link_after_the_attempt_limit(org, wattcarbon, wattcarbon_connection, settings):
    settings.SYNC_MAX_ATTEMPTS = 3
    wattcarbon.app.faults.fail_next = 10
    link = settle(link_of(new_device(org)))
    assert link.state == LinkState.FAILED and "Gave up after 3 attempts" in link.last_error
    wattcarbon.app.faults.fail_next = 0
    engine.retry_links([link.pk])
    assert settle(link).state == LinkState.SYNCED


def test_it_shows_a_422_as_rejected_with_the_platforms_message(
    org, wattcarbon, wattcarbon_connection, monkeypatch
):
    from integrations.adapters import wattcarbon as mapping

    original = mapping.WattCarbonDevice.payload

    def with_bad_date(self, record, parent_remote_id):
        return {**original(self, record, parent_remote_id), "commencedOperationDate": "01/08/2022"}

    monkeypatch.setattr(mapping.WattCarbonDevice, "payload", with_bad_date)
    link = settle(link_of(new_device(org)))
    assert link.state == LinkState.REJECTED and link.last_status_code == 422
    assert "commencedOperationDate" in link.last_error


def test_it_shows_a_duplicate_custom_id_upstream_as_a_conflict(
    org, other_org, wattcarbon, wattcarbon_connection
):
    # The same account also serves another organization of ours that used the custom id first.
    from integrations import services
    from integrations.sandbox.wattcarbon import SANDBOX_API_KEY, SANDBOX_EMAIL

    services.save_connection(
        Connection(organization=other_org, platform="wattcarbon", base_url=wattcarbon.base_url),
        username=SANDBOX_EMAIL,
        password=SANDBOX_API_KEY,
    )
    settle(link_of(new_device(other_org, custom_id="SHARED-1")))
    link = settle(link_of(new_device(org, custom_id="SHARED-1")))
    assert link.state == LinkState.REJECTED and link.last_status_code == 409
    assert not link.remote_id  # nothing adopted silently


def test_it_lets_the_sweep_finish_a_link_whose_worker_died(
    org, wattcarbon, wattcarbon_connection, settings
):
    link = link_of(new_device(org))
    lease = engine.claim(link.pk)  # a worker took it ... and was killed before it finished
    assert lease is not None
    link.refresh_from_db()
    assert link.state == LinkState.SYNCING
    assert link.pk not in engine.due_link_ids()
    UpstreamLink.objects.filter(pk=link.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert link.pk in engine.due_link_ids()
    engine.run_link(link.pk)
    link.refresh_from_db()
    assert link.state == LinkState.SYNCED
    assert len(remote_devices(wattcarbon)) == 1


def test_it_does_not_let_a_slow_worker_overwrite_a_newer_change(
    org, wattcarbon, wattcarbon_connection
):
    device = new_device(org)
    link = link_of(device)
    lease = engine.claim(link.pk)
    device.name = "Changed while syncing"
    device_services.save_device(device)  # marks pending again; the claim stays the worker's
    assert not outcomes.finish(link, lease, state=LinkState.SYNCED)
    link.refresh_from_db()
    assert link.state == LinkState.PENDING and link.claimed_until is None


def test_it_lets_no_second_worker_send_a_record_changed_while_it_is_sent(
    org, wattcarbon, wattcarbon_connection
):
    device = new_device(org)
    link = link_of(device)
    lease = engine.claim(link.pk)
    assert lease is not None
    device.name = "Changed while syncing"
    device_services.save_device(device)
    link.refresh_from_db()
    assert (link.state, link.claimed_until) == (LinkState.PENDING, lease)
    assert engine.claim(link.pk) is None  # pending, but the first worker still sends it
    assert link.pk not in engine.due_link_ids()
    UpstreamLink.objects.filter(pk=link.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert link.pk in engine.due_link_ids()  # a worker that died lets go when its lease ends


def test_it_updates_rather_than_creates_again_when_the_record_changes_during_its_create(
    org, wattcarbon, wattcarbon_connection, monkeypatch
):
    from integrations import wattcarbon as client_module

    device = new_device(org, name="First name")
    link = link_of(device)
    original = client_module.WattCarbonClient.create_device

    def create_while_the_user_edits(self, payload):
        answer = original(self, payload)
        device.name = "Second name"  # saved while the POST was on its way
        device_services.save_device(device)
        return answer

    monkeypatch.setattr(
        client_module.WattCarbonClient, "create_device", create_while_the_user_edits
    )
    engine.run_link(link.pk)
    link.refresh_from_db()
    assert link.state == LinkState.PENDING and link.remote_id  # the id it created is kept
    monkeypatch.setattr(client_module.WattCarbonClient, "create_device", original)
    link = settle(link)
    assert link.state == LinkState.SYNCED
    devices = remote_devices(wattcarbon)
    assert list(devices) == [link.remote_id]  # one device upstream, not two
    assert devices[link.remote_id]["name"] == "Second name"
    assert ("PUT", f"/devices/{link.remote_id}", 200) in wattcarbon.app.calls


def test_it_uploads_a_year_of_readings_as_twelve_monthly_calls_after_the_device(
    org, wattcarbon, wattcarbon_connection
):
    from portal.signals import readings_changed
    from readings.models import Reading, Series

    device = new_device(org, commenced_operation_date=date(2024, 1, 1))
    series = Series.objects.create(organization=org, device=device, quantity="generation")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    Reading.objects.bulk_create(
        Reading(series=series, instant=start + timedelta(hours=h), value_kwh=1.5)
        for h in range(366 * 24)
    )
    readings_changed.send(
        sender=Series, series=series, start=start, end=start + timedelta(hours=366 * 24 - 1)
    )
    timeseries = link_of(device, Channel.TIMESERIES)
    # Parents first: the timeseries waits for the device.
    engine.run_link(timeseries.pk)
    timeseries.refresh_from_db()
    assert timeseries.state == LinkState.PENDING and "device" in timeseries.waiting_for
    engine.sync_now(org.pk)
    timeseries.refresh_from_db()
    assert timeseries.state == LinkState.SYNCED
    uploads = SyncAttempt.objects.filter(
        link=timeseries, path__endswith="/timeseries", status_code__lt=300
    )
    assert uploads.count() == 12
    remote = wattcarbon.app.state["devices"][timeseries.remote_id]
    assert remote is not None
    # A second run with nothing changed sends nothing.
    readings_changed.send(sender=Series, series=series, start=start, end=start)
    engine.sync_now(org.pk)
    assert SyncAttempt.objects.filter(link=timeseries, path__endswith="/timeseries").count() == 12


def test_it_builds_the_seed_solar_body_from_our_records(org):
    from integrations.adapters.wattcarbon import WattCarbonDevice
    from tests.factories import CustomerFactory

    home = HomeFactory(
        organization=org,
        customer=CustomerFactory(organization=org, name="Person Person"),
        street="60 Greene St",
        city="Riverside",
        state="IA",
        zip_code="52327",
        latitude=None,
        longitude=None,
    )
    device = DeviceFactory(
        organization=org,
        home=home,
        name="My device",
        custom_id="SP123",
        commenced_operation_date=date(2022, 8, 1),
        details={
            "nameplate_capacity_kw": "123",
            "inverter_data_id": "1234",
            "inverter_data_source": "enphase",
            "external_registry_name": "GATS",
            "external_registry_device_id": "45678",
        },
    )
    body = WattCarbonDevice().payload(device, "")
    assert body["location"] == "60 Greene St Riverside IA 52327 US"
    assert {
        k: body[k]
        for k in (
            "name",
            "customId",
            "kind",
            "commencedOperationDate",
            "inverterDataSource",
            "externalRegistryName",
            "externalRegistryDeviceId",
            "inverterDataId",
        )
    } == {
        "name": "My device",
        "customId": "SP123",
        "kind": "solar",
        "commencedOperationDate": "2022-08-01",
        "inverterDataSource": "enphase",
        "externalRegistryName": "GATS",
        "externalRegistryDeviceId": "45678",
        "inverterDataId": "1234",
    }
    assert float(body["nameplateCapacityKw"]) == 123
    assert body["deviceOwner"] == {"name": "Person Person"}


def test_it_never_shows_or_logs_credentials(org, owner_client, wattcarbon, caplog):
    caplog.set_level(logging.DEBUG)
    response = owner_client.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {
            "base_url": wattcarbon.base_url,
            "enabled": "on",
            "username": "sandbox@gridfolio.test",
            "password": "sandbox-wattcarbon-key",
        },
    )
    assert response.status_code == 302
    connection = Connection.objects.get(organization=org, platform="wattcarbon")
    assert "sandbox-wattcarbon-key" not in connection.credentials_encrypted
    owner_client.post(reverse("connection_test", args=["wattcarbon"]))
    pages = [
        owner_client.get(reverse("integrations")),
        owner_client.get(reverse("connection_edit", args=["wattcarbon"])),
    ]
    for page in pages:
        assert "sandbox-wattcarbon-key" not in page.content.decode()
    assert "sandbox-wattcarbon-key" not in caplog.text
    connection.refresh_from_db()
    assert connection.last_auth_at is not None
    # Blank password on edit keeps the stored secret.
    owner_client.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {"base_url": wattcarbon.base_url, "enabled": "on", "username": "", "password": ""},
    )
    connection.refresh_from_db()
    assert connection.credentials["password"] == "sandbox-wattcarbon-key"


def test_it_reports_a_refused_test_connection_in_the_platforms_words(org, owner_client, wattcarbon):
    owner_client.post(
        reverse("connection_edit", args=["wattcarbon"]),
        {
            "base_url": wattcarbon.base_url,
            "enabled": "on",
            "username": "sandbox@gridfolio.test",
            "password": "wrong-key",
        },
    )
    response = owner_client.post(reverse("connection_test", args=["wattcarbon"]), follow=True)
    assert "Incorrect username or password" in response.content.decode()


def test_it_keeps_the_integrations_page_to_admins(member_client, outsider_client, org, owner):
    assert member_client.get(reverse("integrations")).status_code == 403
    link = UpstreamLink.objects.create(
        organization=org,
        platform="wattcarbon",
        content_type=ContentType.objects.get_for_model(Connection),
        object_id=1,
    )
    assert outsider_client.get(reverse("link_history", args=[link.pk])).status_code == 404
    assert outsider_client.post(reverse("link_sync_now", args=[link.pk])).status_code == 404


def test_it_connects_and_syncs_from_the_command_line(org, wattcarbon, capsys):
    new_device(org, custom_id="CLI-1")  # exists before the connection
    call_command(
        "connect",
        "--org",
        org.slug,
        "--platform",
        "wattcarbon",
        "--base-url",
        wattcarbon.base_url,
        "--username",
        "sandbox@gridfolio.test",
        "--password",
        "sandbox-wattcarbon-key",
        "--test",
    )
    call_command("sync_now", "--org", org.slug)
    out = capsys.readouterr().out
    assert "OK: Signed in" in out and "synced: 1" in out
    assert "sandbox-wattcarbon-key" not in out


def test_it_exits_1_from_sync_now_when_a_link_is_rejected(
    org, wattcarbon, wattcarbon_connection, monkeypatch
):
    from django.core.management.base import CommandError

    from integrations.adapters import wattcarbon as mapping

    monkeypatch.setattr(
        mapping.WattCarbonDevice, "payload", lambda self, record, p: {"name": "x", "kind": "solar"}
    )
    new_device(org)
    with pytest.raises(CommandError) as excinfo:
        call_command("sync_now")
    assert excinfo.value.returncode == 1


def test_it_refuses_to_delete_a_device_the_platform_holds(
    org, member_client, wattcarbon, wattcarbon_connection
):
    device = new_device(org)
    settle(link_of(device))
    page = member_client.get(reverse("device_delete", args=[device.pk]))
    assert "registered on WattCarbon" in page.content.decode()
    member_client.post(reverse("device_delete", args=[device.pk]))
    assert type(device).objects.filter(pk=device.pk).exists()


def test_it_lets_an_admin_simulate_a_sandbox_outage_and_the_engine_recovers(
    org, owner_client, settings, tmp_path
):
    import time as _time

    from integrations import services
    from integrations.sandbox import registry
    from integrations.sandbox.registry import SANDBOX_CREDENTIALS

    settings.DATA_DIR = tmp_path
    registry.reset_all()
    services.save_connection(
        Connection(organization=org, platform="wattcarbon"), **SANDBOX_CREDENTIALS["wattcarbon"]
    )
    response = owner_client.post(
        reverse("sandbox_outage"),
        {"platform": "wattcarbon", "seconds": 60, "status": 503},
        follow=True,
    )
    assert "answers 503 to every call for 60 s" in response.content.decode()
    link = link_of(new_device(org))
    assert engine.run_link(link.pk, ignore_schedule=True).state == LinkState.PENDING
    link.refresh_from_db()
    assert link.last_status_code == 503
    owner_client.post(
        reverse("sandbox_outage"), {"platform": "wattcarbon", "seconds": 0, "status": 503}
    )
    assert registry.emulator("wattcarbon").faults.fail_until <= _time.time()
    assert settle(link).state == LinkState.SYNCED
    registry.reset_all()
