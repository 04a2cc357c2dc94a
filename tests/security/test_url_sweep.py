"""Every URL, tried by an anonymous visitor and by a member of another organization: a sign-in
redirect, a 404 (or 403/405), never the other organization's data. A new URL fails this test until
it is classified below, so nobody adds a page without thinking about who may see it."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from devices import readings
from integrations.models import ChargeReport, UpstreamLink, WebhookEndpoint, WebhookEvent
from portal.models import Invitation, Membership
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

SECRET = "VICTIM-7f3a"  # appears in every record of the victim organization

# URLs anyone may open: they show nothing of any organization (or check their own token).
PUBLIC = {
    "healthz",
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "accept_invitation",
    "spark_webhook",
}
# Signed-in pages of one's own account (no organization data).
ACCOUNT = {"logout", "password_change", "password_change_done"}


def all_patterns(
    resolver: URLResolver | None = None, prefix: str = ""
) -> list[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern).startswith("admin/"):
                continue
            found.extend(all_patterns(pattern, prefix + str(pattern.pattern)))
        elif pattern.name:
            found.append((prefix + str(pattern.pattern), pattern))
    return found


@pytest.fixture
def victim(org, owner, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    home = HomeFactory(organization=org, name=f"Home {SECRET}", customer__name=f"Customer {SECRET}")
    meter = MeterFactory(organization=org, home=home, meter_number=f"M-{SECRET}")
    device = DeviceFactory(
        organization=org,
        home=home,
        name=f"Device {SECRET}",
        custom_id=f"D-{SECRET}",
        kind="vehicle",
        details={"brand": "Tesla", "model": "3", "year": 2019, "vin": "5YJ3E1EA2KF317000"},
    )
    endpoint = WebhookEndpoint.objects.create(organization=org, secret_encrypted="x")
    event = WebhookEvent.objects.create(
        organization=org, endpoint=endpoint, notification_id=SECRET, body={"secret": SECRET}
    )
    link = UpstreamLink.objects.create(
        organization=org,
        platform="wattcarbon",
        content_type=ContentType.objects.get_for_model(device),
        object_id=device.pk,
        remote_id=SECRET,
    )
    report = ChargeReport.objects.create(
        organization=org,
        vehicle=device,
        name=SECRET,
        action="Start",
        power_w=1,
        state_of_charge=0.5,
        battery_capacity_wh=1000,
    )
    invitation = Invitation.objects.create(organization=org, email="x@acme.test")
    return {
        "customer": home.customer,
        "home": home,
        "meter": meter,
        "device": device,
        "membership": Membership.objects.get(user=owner),
        "invitation": invitation,
        "link": link,
        "event": event,
        "report": report,
        "upload": readings.check_upload(
            readings.series_for(meter),
            io.BytesIO(b"datetime,value_kwh\n2024-01-01T00:00:00Z,1\n"),
            filename=f"{SECRET}.csv",
            user=owner,
        ),
    }


def kwargs_for(name: str, route: str, victim: dict) -> dict:
    params = re.findall(r"<(?:(\w+):)?(\w+)>", route)
    kwargs = {}
    for _, param in params:
        if param == "pk":
            owner = {
                "change_role": "membership",
                "remove_member": "membership",
                "revoke_invitation": "invitation",
                "link_sync_now": "link",
                "link_history": "link",
                "link_pause": "link",
                "link_resume": "link",
                "webhook_event": "event",
                "home_prices": "home",
                "charge_report": "device",
            }.get(name) or next(
                (
                    key
                    for key in ("customer", "home", "meter", "device", "upload")
                    if name.startswith(key)
                ),
                None,
            )
            if owner is None or victim.get(owner) is None:
                pytest.fail(f"classify the URL {name!r} ({route}): which record does its pk name?")
            kwargs["pk"] = victim[owner].pk
        elif param == "kind":
            kwargs["kind"] = "solar"
        elif param == "platform":
            kwargs["platform"] = "wattcarbon"
        elif param in {"token", "uidb64"}:
            kwargs[param] = "not-a-real-token"
        else:
            pytest.fail(f"classify the URL parameter {param!r} of {name!r}")
    return kwargs


@pytest.mark.django_db
def test_it_gives_anonymous_visitors_a_sign_in_redirect_or_nothing(victim):
    client = Client()
    tried = 0
    for route, pattern in all_patterns():
        if pattern.name in PUBLIC:
            continue
        tried += 1
        url = reverse(pattern.name, kwargs=kwargs_for(pattern.name, route, victim))
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 403, 405), (method, url, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), (method, url)
            assert SECRET not in response.content.decode(errors="replace"), (method, url)
    assert tried > 40


@pytest.mark.django_db
def test_it_shows_an_outsider_nothing_of_another_organization(victim, outsider_client):
    for route, pattern in all_patterns():
        if pattern.name in PUBLIC | ACCOUNT:
            continue
        url = reverse(pattern.name, kwargs=kwargs_for(pattern.name, route, victim))
        takes_pk = "<int:pk>" in route
        for method in ("get", "post"):
            response = getattr(outsider_client, method)(url)
            body = (
                response.content.decode(errors="replace")
                if not getattr(response, "streaming", False)
                else ""
            )
            assert SECRET not in body, (method, url)
            if takes_pk:
                assert response.status_code in (404, 405), (method, url, response.status_code)
            else:
                assert response.status_code in (200, 302, 400, 403, 404, 405), (
                    method,
                    url,
                    response.status_code,
                )
    # And nothing was changed on the victim's side.
    assert Membership.objects.filter(pk=victim["membership"].pk, role="owner").exists()
    assert Invitation.objects.filter(pk=victim["invitation"].pk).exists()
    assert type(victim["device"]).objects.filter(pk=victim["device"].pk).exists()


@pytest.mark.django_db
def test_it_keeps_the_webhook_the_only_csrf_exemption():
    exempt = [
        pattern.name
        for _, pattern in all_patterns()
        if getattr(pattern.callback, "csrf_exempt", False)
    ]
    assert exempt == ["spark_webhook"]
