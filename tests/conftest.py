"""Fixtures shared by every test: the personas (an owner, an admin, a member and a viewer of one
organization, and an outsider from another) and the site readings files are uploaded to."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from devices.models import Device
from homes.models import Home, Meter
from portal.models import Membership, Organization, Role, User
from tests.factories import DeviceFactory, HomeFactory, MeterFactory


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(name="Acme Solar", slug="acme", timezone="America/New_York")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(
        name="Rival Energy", slug="rival", timezone="America/Chicago"
    )


def _person(email: str, organization: Organization, role: Role) -> User:
    user = User.objects.create_user(
        email, "correct horse battery staple", full_name=email.split("@")[0].title()
    )
    Membership.objects.create(user=user, organization=organization, role=role)
    return user


@pytest.fixture
def owner(org) -> User:
    return _person("owner@acme.test", org, Role.OWNER)


@pytest.fixture
def admin_user(org) -> User:
    return _person("admin@acme.test", org, Role.ADMIN)


@pytest.fixture
def member(org) -> User:
    return _person("member@acme.test", org, Role.MEMBER)


@pytest.fixture
def viewer(org) -> User:
    return _person("viewer@acme.test", org, Role.VIEWER)


@pytest.fixture
def outsider(other_org) -> User:
    return _person("outsider@rival.test", other_org, Role.OWNER)


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def admin_client_(admin_user) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def member_client(member) -> Client:
    return _client_for(member)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)


# --- the site readings files are uploaded to ----------------------------------------------------
# Files are written in the home's local time, New York: the spring change is 2024-03-10, the
# autumn one 2024-11-03.


@pytest.fixture
def data_dir(settings, tmp_path) -> Path:
    """DATA_DIR (uploads waiting for confirmation, the sandbox's state) in the test's own folder."""
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def home(org) -> Home:
    return HomeFactory(organization=org, timezone="America/New_York", name="Maple St")


@pytest.fixture
def device(org, home) -> Device:
    # A heat pump: no solar night-time warnings in the way of what the tests look at.
    return DeviceFactory(
        organization=org,
        home=home,
        custom_id="SP-00012",
        name="Roof array",
        kind="electrification",
        details={},
    )


@pytest.fixture
def meter(org, home) -> Meter:
    return MeterFactory(organization=org, home=home, meter_number="M-77")
