"""Organization API keys: made on the admins' page or by `manage.py api_key`, shown once, kept as
a hash, scoped, expiring, revocable, rate limited, and never written to a log."""

from __future__ import annotations

import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from api.models import ApiKey
from api.services import create_api_key, hash_key

from .conftest import ApiClient


def test_it_keeps_only_the_hash_and_a_visible_prefix(org):
    new = create_api_key(org, name="CRM", scopes=["write", "read", "read"])
    stored = ApiKey.objects.get()
    assert new.plaintext.startswith(stored.prefix + "_")
    assert stored.secret_hash == hash_key(new.plaintext)
    assert stored.scopes == ["read", "write"]
    assert new.plaintext not in str(ApiKey.objects.values().get())  # no column holds the key itself


def test_it_refuses_unknown_scopes_and_silly_expiries(org):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        create_api_key(org, name="", scopes=["admin"], expires_days=0)
    assert set(caught.value.message_dict) == {"name", "scopes", "expires_days"}
    assert "Unknown scope admin" in caught.value.message_dict["scopes"][0]


def test_the_command_prints_the_key_once(org):
    out, err = StringIO(), StringIO()
    call_command(
        "api_key",
        "create",
        "--org",
        "acme",
        "--name",
        "CRM",
        "--scopes",
        "read,write",
        "--expires",
        "30",
        stdout=out,
        stderr=err,
    )
    plaintext = out.getvalue().strip()
    key = ApiKey.objects.get()
    assert hash_key(plaintext) == key.secret_hash
    assert key.expires_at is not None and key.expires_at > timezone.now() + timedelta(days=29)
    assert "shown this once" in err.getvalue()
    listing = StringIO()
    call_command("api_key", "list", "--org", "acme", stdout=listing)
    assert key.prefix in listing.getvalue() and plaintext not in listing.getvalue()
    call_command("api_key", "revoke", "--org", "acme", key.prefix, stdout=StringIO())
    assert ApiClient(plaintext).get("/api/v1/customers").status_code == 401
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("api_key", "create", "--org", "acme", "--name", "X", "--scopes", "root")
    with pytest.raises(CommandError, match="No organization"):
        call_command("api_key", "create", "--org", "nope", "--name", "X", "--scopes", "read")


def test_an_admin_creates_a_key_on_the_page_and_sees_it_once(admin_client_, org):
    response = admin_client_.post(
        reverse("api_keys"), {"name": "Field tool", "scopes": ["read", "readings"]}
    )
    assert response.status_code == 200
    new_key = response.context["new_key"]
    assert new_key.plaintext in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    again = admin_client_.get(reverse("api_keys")).content.decode()
    assert new_key.api_key.prefix in again and new_key.plaintext not in again
    assert ApiClient(new_key.plaintext).get("/api/v1/homes").status_code == 200
    refused = admin_client_.post(reverse("api_keys"), {"name": "", "scopes": []})
    assert refused.status_code == 400 and ApiKey.objects.count() == 1


def test_members_cannot_manage_keys_and_other_organizations_keys_are_404(
    member_client, admin_client_, org, other_org
):
    assert member_client.get(reverse("api_keys")).status_code == 403
    theirs = create_api_key(other_org, name="theirs", scopes=["read"])
    response = admin_client_.post(reverse("revoke_api_key", args=[theirs.api_key.pk]))
    assert response.status_code == 404
    theirs.api_key.refresh_from_db()
    assert theirs.api_key.revoked_at is None


def test_a_revoked_or_expired_key_is_refused(admin_client_, org):
    ours = create_api_key(org, name="ours", scopes=["read"])
    client = ApiClient(ours.plaintext)
    assert client.get("/api/v1/devices").status_code == 200
    admin_client_.post(reverse("revoke_api_key", args=[ours.api_key.pk]))
    response = client.get("/api/v1/devices")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    old = create_api_key(org, name="old", scopes=["read"], expires_days=1)
    ApiKey.objects.filter(pk=old.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert ApiClient(old.plaintext).get("/api/v1/devices").status_code == 401
    # The right prefix with a wrong secret is no key either.
    live = create_api_key(org, name="live", scopes=["read"])
    forged = live.api_key.prefix + "_" + "A" * 43
    assert ApiClient(forged).get("/api/v1/devices").status_code == 401


def test_a_signed_in_session_is_no_key(owner_client):
    """The API is CSRF-exempt because only the Authorization header, which a browser never adds
    to another site's request by itself, authenticates it: the session cookie does not."""
    assert owner_client.get("/api/v1/devices").status_code == 401
    assert owner_client.post("/api/v1/customers", {"name": "x"}).status_code == 401


def test_it_notes_when_a_key_was_last_used(org):
    new = create_api_key(org, name="ours", scopes=["read"])
    assert new.api_key.last_used_at is None
    ApiClient(new.plaintext).get("/api/v1/devices")
    new.api_key.refresh_from_db()
    assert new.api_key.last_used_at is not None


def test_it_limits_each_key_with_429_and_retry_after(org, settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW_S = 60
    busy = ApiClient(create_api_key(org, name="busy", scopes=["read"]).plaintext)
    calm = ApiClient(create_api_key(org, name="calm", scopes=["read"]).plaintext)
    statuses = [busy.get("/api/v1/devices").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = busy.get("/api/v1/devices")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "try again in" in response.json()["detail"]
    assert calm.get("/api/v1/devices").status_code == 200  # per key


def test_an_error_report_hides_the_authorization_header(org, rf):
    """What Django's error report (the 500 email, the debug page) shows of a request."""
    from django.views.debug import SafeExceptionReporterFilter

    new = create_api_key(org, name="ours", scopes=["read"])
    request = rf.get("/api/v1/devices", HTTP_AUTHORIZATION=f"Bearer {new.plaintext}")
    meta = SafeExceptionReporterFilter().get_safe_request_meta(request)
    assert new.plaintext not in str(meta)
    assert meta["HTTP_AUTHORIZATION"] != request.META["HTTP_AUTHORIZATION"]


def test_keys_never_reach_the_logs(org, settings, caplog, capsys):
    settings.API_RATE_LIMIT = 2
    caplog.set_level(logging.DEBUG)
    new = create_api_key(org, name="ours", scopes=["read"])
    client = ApiClient(new.plaintext)
    client.get("/api/v1/devices")  # 200
    client.post("/api/v1/customers", {"name": "x"})  # 403: lacks write
    client.get("/api/v1/devices")  # 429
    client.get("/api/v1/devices/999")
    ApiClient(new.plaintext + "x").get("/api/v1/devices")  # 401
    secret = new.plaintext.split("_", 2)[2]
    logged = caplog.text + capsys.readouterr().out
    assert "/api/v1/devices" in logged  # the requests were logged...
    assert secret not in logged  # ...never the key
