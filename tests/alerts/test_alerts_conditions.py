"""Each alert condition raised, raised once, acknowledged, and resolved when it clears."""

from __future__ import annotations

import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from alerts import services
from alerts.models import Alert, AlertKind, AlertSettings, AlertState
from integrations.models import Connection, UpstreamLink, WebhookEndpoint, WebhookEvent
from readings.models import Upload, UploadStatus
from readings.parser import HourlyReadings
from readings.store import series_for, store_readings

HOUR_S = 3600


def store_hours(owner, first, last) -> None:
    """Hourly readings of `owner` from `first` to `last` (aware datetimes, whole hours)."""
    start, end = int(first.timestamp()) // HOUR_S * HOUR_S, int(last.timestamp())
    epochs = array("q", range(start, end + 1, HOUR_S))
    store_readings(series_for(owner), HourlyReadings(epochs, array("d", [1.0] * len(epochs))))


def link_of(record, **fields) -> UpstreamLink:
    return UpstreamLink.objects.create(
        organization=record.organization,
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        **{"platform": "wattcarbon", "state": "synced", **fields},
    )


@dataclass
class Case:
    """How to bring a condition about, and how to clear it."""

    kind: str
    cause: Callable[..., object]
    clear: Callable[[object], None]


def _no_data(device, meter):
    now = timezone.now()
    store_hours(device, now - timedelta(days=30), now - timedelta(days=8))
    return device


def _no_data_clear(device):
    store_hours(device, timezone.now() - timedelta(days=8), timezone.now())


def _failed_link(device, meter):
    return link_of(device, state="failed", last_error="503: try later")


def _synced(link):
    UpstreamLink.objects.filter(pk=link.pk).update(state="synced", unsent="", last_error="")


def _out_of_date(device, meter):
    return link_of(device, platform="spark", unsent="out_of_date", unsent_note="no update call")


def _behind(device, meter):
    return link_of(
        meter,
        platform="wattics",
        channel="packets",
        behind_since=timezone.now() - timedelta(hours=7),
        last_error="503",
    )


def _caught_up(link):
    UpstreamLink.objects.filter(pk=link.pk).update(behind_since=None)


def _spark_silent(device, meter):
    endpoint = WebhookEndpoint(organization=device.organization, remote_id="wh-1")
    endpoint.set_secret("s")
    endpoint.registered_at = timezone.now() - timedelta(days=4)
    endpoint.save()
    return endpoint


def _spark_delivers(endpoint):
    WebhookEvent.objects.create(
        organization=endpoint.organization, endpoint=endpoint, notification_id="n-1", body={}
    )


def _upload_waiting(device, meter):
    upload = Upload.objects.create(
        organization=device.organization, series=series_for(device), filename="may.csv"
    )
    Upload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - timedelta(hours=25))
    return upload


def _upload_confirmed(upload):
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.STORED)


def _refused(device, meter):
    return Connection.objects.create(
        organization=device.organization, platform="wattcarbon", last_auth_error="401: bad key"
    )


def _refused_clear(connection):
    Connection.objects.filter(pk=connection.pk).update(last_auth_error="")


def _paused(device, meter):
    Connection.objects.create(organization=device.organization, platform="wattics")
    return link_of(meter, platform="wattics", channel="packets", paused_for_credentials=True)


def _resumed(link):
    UpstreamLink.objects.filter(pk=link.pk).update(paused_for_credentials=False)


CASES = {
    "no data": Case(AlertKind.NO_DATA, _no_data, _no_data_clear),
    "link failed": Case(AlertKind.SYNC_PROBLEM, _failed_link, _synced),
    "link out of date": Case(AlertKind.SYNC_PROBLEM, _out_of_date, _synced),
    "wattics behind": Case(AlertKind.WATTICS_BEHIND, _behind, _caught_up),
    "spark silent": Case(AlertKind.SPARK_SILENT, _spark_silent, _spark_delivers),
    "upload waiting": Case(AlertKind.UPLOAD_WAITING, _upload_waiting, _upload_confirmed),
    "credentials refused": Case(AlertKind.CREDENTIALS, _refused, _refused_clear),
    "stream paused for credentials": Case(AlertKind.CREDENTIALS, _paused, _resumed),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_it_raises_once_acknowledges_and_resolves_each_condition(name, device, meter, owner, org):
    case = CASES[name]
    record = case.cause(device, meter)

    first = services.check_organization(org)
    assert first.raised == 1
    alert = Alert.objects.get(organization=org)
    assert (alert.kind, alert.state) == (case.kind, AlertState.OPEN)
    assert alert.url

    assert services.check_organization(org).raised == 0  # raised once
    assert Alert.objects.filter(organization=org).count() == 1

    assert services.acknowledge_alert(alert, owner)
    services.check_organization(org)
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED
    assert Alert.objects.filter(organization=org).count() == 1

    case.clear(record)
    assert services.check_organization(org).resolved == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED and alert.resolved_at is not None
    assert services.check_organization(org).raised == 0


@pytest.mark.django_db
def test_it_resolves_no_data_by_itself_when_the_missing_days_are_uploaded(
    device, org, django_capture_on_commit_callbacks
):
    _no_data(device, None)
    services.check_organization(org)
    alert = Alert.objects.get(kind=AlertKind.NO_DATA)
    assert alert.title == f"No data for 7 days: {device}"

    with django_capture_on_commit_callbacks(execute=True):
        _no_data_clear(device)  # the store's readings_changed queues a check (eager here)
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED


@pytest.mark.django_db
def test_it_takes_the_organizations_threshold_and_skips_inactive_devices(device, meter, org):
    _no_data(device, meter)
    AlertSettings.objects.create(organization=org, no_data_days=10)
    assert services.check_organization(org).raised == 0
    assert services.check_organization(org, now=timezone.now() + timedelta(days=3)).raised == 1

    Alert.objects.all().delete()
    device.status = "decommissioned"
    device.save()
    assert services.check_organization(org, now=timezone.now() + timedelta(days=3)).raised == 0


@pytest.mark.django_db
def test_it_opens_a_new_alert_when_a_resolved_condition_comes_back(device, org):
    link = _failed_link(device, None)
    services.check_organization(org)
    _synced(link)
    services.check_organization(org)
    UpstreamLink.objects.filter(pk=link.pk).update(state="failed")
    assert services.check_organization(org).raised == 1
    states = sorted(Alert.objects.values_list("state", flat=True))
    assert states == [AlertState.OPEN, AlertState.RESOLVED]


@pytest.mark.django_db
def test_it_keeps_one_unresolved_alert_per_condition_in_the_database(org):
    now = timezone.now()

    def alert(state: str) -> Alert:
        return Alert(
            organization=org,
            kind=AlertKind.NO_DATA,
            key="no_data:series:1",
            title="t",
            state=state,
            opened_at=now,
            last_seen_at=now,
        )

    alert(AlertState.RESOLVED).save()
    alert(AlertState.OPEN).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        alert(AlertState.ACKNOWLEDGED).save()
    # What a concurrent check does with the same condition: its insert is a no-op.
    Alert.objects.bulk_create([alert(AlertState.OPEN)], ignore_conflicts=True)
    assert Alert.objects.filter(key="no_data:series:1").count() == 2


@pytest.mark.django_db
def test_it_keeps_each_organizations_conditions_to_itself(device, org, other_org):
    _failed_link(device, None)
    services.check_organization(other_org)
    assert not Alert.objects.filter(organization=other_org).exists()
    services.check_organization(org)
    assert Alert.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_the_command_checks_as_of_a_moved_clock(device, org, capsys):
    store_hours(device, timezone.now() - timedelta(days=3), timezone.now() - timedelta(days=1))
    call_command("check_alerts", "--org", org.slug)
    assert not Alert.objects.exists()
    later = (timezone.now() + timedelta(days=8)).strftime("%Y-%m-%dT%H:%MZ")
    call_command("check_alerts", "--org", org.slug, "--now", later)
    assert Alert.objects.get().kind == AlertKind.NO_DATA
    assert "1 raised" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_two_checks_at_once_raise_and_email_a_condition_once(device, org, owner, monkeypatch):
    """Both checks read the unresolved alerts (none) before either inserts: a barrier holds them
    there. The partial unique constraint lets one insert through, the membership lock one email."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serializes them)")
    _failed_link(device, None)
    barrier = threading.Barrier(2, timeout=30)
    read_by = services.unresolved_alerts

    def read_then_wait(organization):
        unresolved = read_by(organization)
        barrier.wait()
        return unresolved

    monkeypatch.setattr(services, "unresolved_alerts", read_then_wait)
    outcomes = []

    def check() -> None:
        try:
            outcomes.append(services.check_organization(org))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 2
    assert Alert.objects.filter(organization=org).count() == 1
    assert len(mail.outbox) == 1
