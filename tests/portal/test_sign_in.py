from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

PASSWORD = "correct horse battery staple"


@pytest.mark.django_db
def test_it_signs_in_with_email_and_password_and_shows_the_dashboard(owner, org):
    client = Client()
    response = client.post(reverse("login"), {"username": "owner@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert "Acme Solar" in page.content.decode()


@pytest.mark.django_db
def test_it_refuses_a_wrong_password(owner):
    response = Client().post(reverse("login"), {"username": "owner@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct email" in response.content.decode()


@pytest.mark.django_db
def test_it_signs_out_with_a_post(owner_client):
    response = owner_client.post(reverse("logout"))
    assert response.status_code == 302
    assert owner_client.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_it_redirects_anonymous_visitors_to_sign_in():
    response = Client().get(reverse("members"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_it_throttles_repeated_failed_sign_ins(owner):
    client = Client()
    for _ in range(5):
        client.post(reverse("login"), {"username": "owner@acme.test", "password": "wrong"})
    locked = client.post(reverse("login"), {"username": "owner@acme.test", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_emails_a_password_reset_link_that_sets_a_new_password(owner):
    client = Client()
    client.post(reverse("password_reset"), {"email": "owner@acme.test"})
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line)
    path = link.split("testserver", 1)[1]
    form_page = client.get(path, follow=True)
    assert form_page.context["validlink"]
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("a brand new passphrase")


def _fail_sign_ins(client: Client, times: int = 5, **headers: str) -> None:
    for _ in range(times):
        client.post(
            reverse("login"), {"username": "owner@acme.test", "password": "wrong"}, **headers
        )


@pytest.mark.django_db
def test_it_locks_out_one_client_behind_the_proxy_not_the_others(owner, settings):
    settings.PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    attacker = Client(HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    _fail_sign_ins(attacker)
    locked = attacker.post(reverse("login"), {"username": "owner@acme.test", "password": PASSWORD})
    assert locked.status_code == 429
    colleague = Client(HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    signed_in = colleague.post(
        reverse("login"), {"username": "owner@acme.test", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert "_auth_user_id" in colleague.session


@pytest.mark.django_db
@pytest.mark.parametrize("proxies", [0, 1])
def test_it_keeps_a_client_locked_out_whatever_x_forwarded_for_it_sends(owner, settings, proxies):
    settings.PROXY_COUNT = proxies
    client = Client(REMOTE_ADDR="10.0.0.2" if proxies else "203.0.113.5")
    real = ", 203.0.113.5" if proxies else ""  # what the trusted proxy appends
    for n in range(5):
        _fail_sign_ins(client, 1, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}{real}")
    locked = client.post(
        reverse("login"),
        {"username": "owner@acme.test", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR=f"192.0.2.99{real}",
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.2"),
        (1, "192.0.2.1, 203.0.113.5", "203.0.113.5"),
        (2, "192.0.2.1, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (1, "", "10.0.0.2"),
        (2, "203.0.113.5", "10.0.0.2"),
        (1, "192.0.2.1, not-an-address", "10.0.0.2"),
        (1, "203.0.113.5:4711", "203.0.113.5"),
        (1, "[2001:DB8::1]:443", "2001:db8::1"),
    ],
)
def test_it_takes_the_client_address_the_trusted_proxies_saw(
    rf, settings, proxies, forwarded, expected
):
    from portal.auth import client_address

    settings.PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


@pytest.fixture
def empty_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["owner@acme.test", "nobody@acme.test"])
def test_it_limits_password_reset_requests_per_email_alike_for_unknown_ones(
    owner, settings, empty_cache, email
):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 3
    answers = [
        Client(REMOTE_ADDR=f"203.0.113.{n}").post(reverse("password_reset"), {"email": email})
        for n in range(4)
    ]
    assert [a.status_code for a in answers] == [302, 302, 302, 429]
    assert "Too many password-reset requests" in answers[-1].content.decode()
    assert len(mail.outbox) == (3 if email == "owner@acme.test" else 0)


@pytest.mark.django_db
def test_it_limits_password_reset_requests_per_client_address(owner, settings, empty_cache):
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 5
    client = Client(REMOTE_ADDR="203.0.113.5")
    answers = [
        client.post(reverse("password_reset"), {"email": f"someone{n}@acme.test"}) for n in range(5)
    ]
    assert all(a.status_code == 302 for a in answers)
    refused = client.post(reverse("password_reset"), {"email": "owner@acme.test"})
    assert refused.status_code == 429
    assert not mail.outbox
    other = Client(REMOTE_ADDR="198.51.100.7").post(
        reverse("password_reset"), {"email": "owner@acme.test"}
    )
    assert other.status_code == 302
    assert len(mail.outbox) == 1
