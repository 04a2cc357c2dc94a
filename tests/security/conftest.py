"""The security sweeps' shared parts: every named URL of the portal, a victim organization with one
record of each kind (each naming SECRET), and the arguments that open each URL on them."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from alerts.models import Alert
from api.services import create_api_key
from integrations.models import ChargeReport, UpstreamLink, WebhookEndpoint, WebhookEvent
from portal.models import Invitation, Membership
from readings import services as readings_services
from readings import store, uploads
from tests.factories import DeviceFactory, HomeFactory, MeterFactory

SECRET = "VICTIM-7f3a"  # appears in every record of the victim organization


def all_patterns(
    resolver: URLResolver | None = None, prefix: str = ""
) -> list[tuple[str, URLPattern]]:
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            # The public API authenticates by key, never by session: tests/api/test_api_scopes.py
            # sweeps each of its operations (no key, another organization's key, every scope).
            if str(pattern.pattern).startswith("admin/") or pattern.namespace == "api-v1":
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
    alert = Alert.objects.create(
        organization=org,
        kind="no_data",
        key=f"no_data:{SECRET}",
        title=f"Alert {SECRET}",
        url=device.get_absolute_url(),
        opened_at=timezone.now(),
        last_seen_at=timezone.now(),
    )
    api_key = create_api_key(org, name=f"Key {SECRET}", scopes=["read"]).api_key
    column_mapping = readings_services.save_column_mapping(
        org.pk,
        ("Meter", f"Interval Start {SECRET}", "Reading (Wh)"),
        time_column=f"Interval Start {SECRET}",
        value_column="Reading (Wh)",
        unit="Wh",
        channel="delivered",
        timezone_name="",
        user=None,
    )
    return {
        "column_mapping": column_mapping,
        "alert": alert,
        "api_key": api_key,
        "customer": home.customer,
        "home": home,
        "meter": meter,
        "device": device,
        "membership": Membership.objects.get(user=owner),
        "invitation": invitation,
        "link": link,
        "event": event,
        "report": report,
        "upload": uploads.check_upload(
            store.series_for(meter),
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
                "link_use_id": "link",
                "link_create_again": "link",
                "webhook_event": "event",
                "home_prices": "home",
                "charge_report": "device",
                "alert_detail": "alert",
                "alert_acknowledge": "alert",
                "revoke_api_key": "api_key",
                "energy_usage_report": "device",
                "column_mapping_forget": "column_mapping",
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
