from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.models import Invitation, Membership, Role, User


def _link_path(body: str) -> str:
    line = next(line for line in body.splitlines() if "/invite/" in line)
    return line.strip().split("8000", 1)[1]


@pytest.mark.django_db
def test_it_lets_an_admin_invite_and_the_invitee_set_a_password_and_join(
    admin_client_, org, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            reverse("invite_member"), {"email": "New.Person@acme.test", "role": "member"}
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    path = _link_path(mail.outbox[0].body)

    invitee = Client()
    assert invitee.get(path).status_code == 200
    joined = invitee.post(
        path,
        {
            "full_name": "New Person",
            "password1": "a fine long passphrase",
            "password2": "a fine long passphrase",
        },
    )
    assert joined.status_code == 302
    user = User.objects.get(email="new.person@acme.test")
    assert Membership.objects.get(user=user).role == Role.MEMBER
    assert invitee.get(reverse("dashboard")).status_code == 200
    # The link works once.
    assert Client().get(path).status_code == 410


@pytest.mark.django_db
def test_it_refuses_invitations_from_members_and_viewers(member_client, viewer_client):
    for client in (member_client, viewer_client):
        response = client.post(reverse("invite_member"), {"email": "x@acme.test", "role": "member"})
        assert response.status_code == 403
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_it_lets_only_owners_grant_the_owner_role(admin_client_, owner_client, admin_user, org):
    admin_client_.post(
        reverse("invite_member"), {"email": "boss@acme.test", "role": "owner"}, follow=True
    )
    assert not Invitation.objects.filter(email="boss@acme.test").exists()
    owner_client.post(reverse("invite_member"), {"email": "boss@acme.test", "role": "owner"})
    assert Invitation.objects.filter(email="boss@acme.test", role="owner").exists()


@pytest.mark.django_db
def test_it_refuses_an_expired_invitation(org, owner):
    from datetime import timedelta

    from django.utils import timezone

    invitation = Invitation.objects.create(
        organization=org, email="late@acme.test", expires_at=timezone.now() - timedelta(days=1)
    )
    response = Client().post(
        reverse("accept_invitation", args=[invitation.token]), {"password1": "x", "password2": "x"}
    )
    assert response.status_code == 410
    assert not User.objects.filter(email="late@acme.test").exists()


@pytest.mark.django_db
def test_it_gives_an_outsider_404_on_another_organizations_invitation(outsider_client, org, owner):
    invitation = Invitation.objects.create(organization=org, email="someone@acme.test")
    response = outsider_client.post(reverse("revoke_invitation", args=[invitation.pk]))
    assert response.status_code == 404
    assert Invitation.objects.filter(pk=invitation.pk).exists()
