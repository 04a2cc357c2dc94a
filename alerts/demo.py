"""`manage.py seed_demo`: check the demo organization's alerts once it is seeded, so `make run`
(no beat) opens on its dashboard's alerts (the demo solar array's data stopped days ago)."""

from __future__ import annotations

from portal.models import Organization, User

from . import services


def seed(organization: Organization, user: User) -> None:
    services.check_organization(organization)
