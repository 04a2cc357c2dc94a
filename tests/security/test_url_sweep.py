"""Every URL, tried by an anonymous visitor and by a member of another organization: a sign-in
redirect, a 404 (or 403/405), never the other organization's data. A new URL fails this test until
it is classified below, so nobody adds a page without thinking about who may see it."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import Invitation, Membership
from tests.security.conftest import SECRET, all_patterns, kwargs_for

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
    "alert_unsubscribe",
    "api_reference",  # the API's OpenAPI reference (the document is public; no record in it)
}
# Signed-in pages of one's own account (no organization data).
ACCOUNT = {"logout", "password_change", "password_change_done"}


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
