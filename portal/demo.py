"""The demo organization of `make run`. Apps add their demo records with `register_seeder` in
`AppConfig.ready()`; each seeder must be idempotent (run on every `make run`)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

from .models import Membership, Organization, Role, User

DEMO_ORG_SLUG = "demo"
DEMO_EMAIL = "demo@gridfolio.local"

Seeder = Callable[[Organization, User], None]
SEEDERS: list[tuple[int, Seeder]] = []


def register_seeder(seeder: Seeder, order: int = 100) -> None:
    if seeder not in [s for _, s in SEEDERS]:
        SEEDERS.append((order, seeder))


@transaction.atomic
def seed_demo(password: str) -> tuple[Organization, User]:
    user, created = User.objects.get_or_create(
        email=DEMO_EMAIL, defaults={"full_name": "Dana Demo"}
    )
    if created or not user.has_usable_password():
        user.set_password(password)
        user.is_staff = True
        user.is_superuser = True
        user.save()
    organization, _ = Organization.objects.get_or_create(
        slug=DEMO_ORG_SLUG,
        defaults={"name": "Sunrise Solar Co. (demo)", "timezone": "America/Los_Angeles"},
    )
    Membership.objects.get_or_create(
        user=user, organization=organization, defaults={"role": Role.OWNER}
    )
    for _, seeder in sorted(SEEDERS, key=lambda item: item[0]):
        seeder(organization, user)
    return organization, user
