from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from portal.models import Membership, Organization, User


@pytest.mark.django_db
def test_it_seeds_the_demo_idempotently_and_the_login_works(capsys, settings):
    settings.DEBUG = True  # the command is for development only (make run sets DEBUG=1)
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8123"  # what `make run PORT=8123` sets
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "demo@gridfolio.local" in out
    assert "Sign in at http://127.0.0.1:8123/accounts/login/" in out
    assert Organization.objects.filter(slug="demo").count() == 1
    assert Membership.objects.filter(user__email="demo@gridfolio.local").count() == 1
    client = Client()
    response = client.post(
        reverse("login"), {"username": "demo@gridfolio.local", "password": "gridfolio-demo"}
    )
    assert response.status_code == 302
    assert "Sunrise Solar" in client.get(reverse("dashboard")).content.decode()


@pytest.mark.django_db
def test_it_refuses_to_seed_the_demo_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on") as refused:
        call_command("seed_demo")
    assert refused.value.returncode != 0
    assert not User.objects.filter(email="demo@gridfolio.local").exists()
    assert not Organization.objects.filter(slug="demo").exists()


@pytest.mark.django_db
def test_it_shows_organizations_and_memberships_in_the_admin(owner, org):
    staff = User.objects.create_superuser("root@gridfolio.test", "pw-long-enough-1")
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert "Gridfolio back office" in client.get(reverse("admin:index")).content.decode()
    assert (
        "Acme Solar" in client.get(reverse("admin:portal_organization_changelist")).content.decode()
    )
    assert (
        "owner@acme.test"
        in client.get(reverse("admin:portal_membership_changelist")).content.decode()
    )


@pytest.mark.django_db
def test_it_serves_friendly_error_pages(owner_client, settings):
    settings.DEBUG = False
    response = owner_client.get("/no/such/page/")
    assert response.status_code == 404
    assert "belongs to another organization" in response.content.decode()
