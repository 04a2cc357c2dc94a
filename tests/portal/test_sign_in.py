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
