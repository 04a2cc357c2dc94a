"""Alert emails: at once or in a daily digest, never twice, with links to the alert and an
unsubscribe link that works without signing in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.test import Client
from django.utils import timezone

from alerts import services
from alerts.models import AlertDelivery, AlertKind, NotificationMode
from integrations.models import UpstreamLink
from portal.models import Membership


def fail_link(device, **fields) -> UpstreamLink:
    return UpstreamLink.objects.create(
        organization=device.organization,
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        platform="wattcarbon",
        state="rejected",
        last_error="422: nameplateCapacityKw must be positive",
        **fields,
    )


def membership_of(user) -> Membership:
    return Membership.objects.get(user=user)


def links_in(text: str) -> list[str]:
    return re.findall(r"http://\S+?/(?=\s|$|\")", text)


@pytest.mark.django_db
def test_it_emails_an_alert_at_once_and_only_once(device, org, owner, member):
    fail_link(device)
    services.check_organization(org)
    assert sorted(m.to[0] for m in mail.outbox) == [member.email, owner.email]
    message = mail.outbox[0]
    assert "Rejected on WattCarbon" in message.subject
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html" and "422: nameplateCapacityKw" in html
    assert "/alerts/" in message.body and "unsubscribe" in message.body

    services.check_organization(org)
    services.send_digests()
    assert len(mail.outbox) == 2
    assert AlertDelivery.objects.filter(sent_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_it_gathers_digest_alerts_into_one_email_a_day_and_skips_empty_days(device, org, owner):
    services.set_notification_modes(
        membership_of(owner), dict.fromkeys(AlertKind.values, NotificationMode.DIGEST)
    )
    fail_link(device)
    fail_link(device, channel="timeseries")
    services.check_organization(org)
    assert mail.outbox == []  # not at once

    assert services.send_digests() == 1
    (digest,) = mail.outbox
    assert digest.subject.endswith("2 alerts today")
    assert digest.body.count("Rejected on WattCarbon") == 2

    assert services.send_digests() == 0  # nothing new: no email
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_it_says_in_the_digest_that_an_alert_resolved_since(device, org, owner):
    services.set_notification_modes(membership_of(owner), {"sync_problem": "digest"})
    link = fail_link(device)
    services.check_organization(org)
    UpstreamLink.objects.filter(pk=link.pk).update(state="synced")
    services.check_organization(org)
    services.send_digests()
    assert "(resolved since)" in mail.outbox[0].body


@pytest.mark.django_db
def test_it_sends_nothing_to_a_member_who_chose_none(device, org, owner):
    services.set_notification_modes(membership_of(owner), {"sync_problem": "none"})
    fail_link(device)
    services.check_organization(org)
    services.send_digests()
    assert mail.outbox == []


@pytest.mark.django_db
def test_it_does_not_email_old_alerts_to_someone_who_joins_later(device, org, owner, member):
    fail_link(device)
    services.check_organization(org, now=timezone.now() - timedelta(days=3))
    assert mail.outbox == []  # older than the look-back of a new member's or of a run's "now"


@pytest.mark.django_db
def test_its_links_open_the_alert_and_unsubscribe_without_signing_in(
    device, org, owner, owner_client
):
    fail_link(device)
    services.check_organization(org)
    (message,) = mail.outbox
    alert_url, _, _, unsubscribe_url = links_in(message.body)
    path = alert_url.removeprefix("http://127.0.0.1:8000")
    page = owner_client.get(path)
    assert page.status_code == 200 and b"Rejected on WattCarbon" in page.content

    anonymous = Client(enforce_csrf_checks=True)
    unsubscribe_path = unsubscribe_url.removeprefix("http://127.0.0.1:8000")
    page = anonymous.get(unsubscribe_path)
    assert page.status_code == 200 and owner.email.encode() in page.content
    assert services.modes_of(membership_of(owner))["sync_problem"] == "immediate"  # GET asks only
    token = anonymous.cookies["csrftoken"].value
    page = anonymous.post(unsubscribe_path, {"scope": "these", "csrfmiddlewaretoken": token})
    assert b"data-unsubscribed" in page.content
    modes = services.modes_of(membership_of(owner))
    assert modes["sync_problem"] == "none" and modes["no_data"] == "immediate"

    fail_link(device, channel="timeseries")
    services.check_organization(org)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_it_refuses_a_forged_unsubscribe_token(owner, client):
    token = services.unsubscribe_token(membership_of(owner), ["no_data"])
    forged = token.replace(token.split(":")[0], "eyJtIjoyLCJrIjpbIm5vX2RhdGEiXX0")
    assert client.get(f"/alerts/unsubscribe/{forged}/").status_code == 404
    assert client.post(f"/alerts/unsubscribe/{forged}/", {"scope": "all"}).status_code == 404
    assert services.modes_of(membership_of(owner))["no_data"] == "immediate"


@pytest.mark.django_db
def test_a_member_chooses_emails_and_an_admin_sets_thresholds(member_client, owner_client, org):
    page = member_client.get("/alerts/email/")
    assert page.status_code == 200 and b"Thresholds" not in page.content
    modes = {kind: "digest" for kind in AlertKind.values} | {"form": "modes"}
    assert member_client.post("/alerts/email/", modes).status_code == 302
    member = Membership.objects.get(user__email="member@acme.test")
    assert set(services.modes_of(member).values()) == {"digest"}
    # A member cannot change the organization's thresholds.
    member_client.post("/alerts/email/", {"form": "thresholds", "no_data_days": 2})
    assert services.settings_for(org).no_data_days == 7

    response = owner_client.post(
        "/alerts/email/",
        {
            "form": "thresholds",
            "no_data_days": 3,
            "wattics_behind_hours": 2,
            "spark_silence_days": 1,
        },
    )
    assert response.status_code == 302
    assert services.settings_for(org).no_data_days == 3
    page = owner_client.post("/alerts/email/", {"form": "thresholds", "no_data_days": 0})
    assert page.status_code == 200 and b"greater than or equal to 1" in page.content
