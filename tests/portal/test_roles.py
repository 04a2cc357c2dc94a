"""Who manages whom: admins manage members and viewers, only owners manage admins and owners, and
an organization always keeps one owner. The rule lives in portal.services, so every caller obeys."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal import services
from portal.models import Invitation, Membership, Role, User


def _person(email: str, org, role: Role) -> Membership:
    user = User.objects.create_user(email, "correct horse battery staple")
    return Membership.objects.create(user=user, organization=org, role=role)


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


@pytest.mark.django_db
def test_it_refuses_an_admin_changing_or_removing_another_admin_or_an_owner(
    admin_client_, owner, org
):
    other_admin = _person("admin2@acme.test", org, Role.ADMIN)
    own = Membership.objects.get(user=owner)
    for target in (other_admin, own):
        before = target.role
        for role in Role.values:
            response = admin_client_.post(
                reverse("change_role", args=[target.pk]), {"role": role}, follow=True
            )
            assert response.status_code == 200
            target.refresh_from_db()
            assert target.role == before
        assert "Only an owner" in _messages(response)
        response = admin_client_.post(reverse("remove_member", args=[target.pk]), follow=True)
        assert response.status_code == 200
        assert "Only an owner can remove" in _messages(response)
        assert Membership.objects.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_it_refuses_an_admin_promoting_anyone_to_admin_or_owner(admin_client_, member):
    membership = Membership.objects.get(user=member)
    for role in ("admin", "owner"):
        response = admin_client_.post(
            reverse("change_role", args=[membership.pk]), {"role": role}, follow=True
        )
        assert "Only an owner can make someone an admin or an owner." in _messages(response)
        membership.refresh_from_db()
        assert membership.role == Role.MEMBER


@pytest.mark.django_db
def test_it_refuses_an_admin_inviting_an_admin_or_replacing_an_owners_invitation(
    admin_client_, owner, org
):
    response = admin_client_.post(
        reverse("invite_member"), {"email": "boss@acme.test", "role": "admin"}, follow=True
    )
    assert "Only an owner can make someone an admin" in _messages(response)
    assert not Invitation.objects.filter(email="boss@acme.test").exists()
    Invitation.objects.create(organization=org, email="vip@acme.test", role=Role.ADMIN)
    admin_client_.post(reverse("invite_member"), {"email": "vip@acme.test", "role": "viewer"})
    assert Invitation.objects.get(email="vip@acme.test").role == Role.ADMIN


@pytest.mark.django_db
def test_it_lets_only_an_owner_revoke_an_invitation_as_admin(
    admin_client_, owner_client, owner, org
):
    as_admin = Invitation.objects.create(organization=org, email="a@acme.test", role=Role.ADMIN)
    as_member = Invitation.objects.create(organization=org, email="m@acme.test", role=Role.MEMBER)
    response = admin_client_.post(reverse("revoke_invitation", args=[as_admin.pk]), follow=True)
    assert "Only an owner can revoke" in _messages(response)
    assert Invitation.objects.filter(pk=as_admin.pk).exists()
    admin_client_.post(reverse("revoke_invitation", args=[as_member.pk]))
    assert not Invitation.objects.filter(pk=as_member.pk).exists()
    owner_client.post(reverse("revoke_invitation", args=[as_admin.pk]))
    assert not Invitation.objects.filter(pk=as_admin.pk).exists()


@pytest.mark.django_db
def test_it_offers_an_admin_only_the_actions_they_may_take(admin_client_, owner, member, viewer):
    org = Membership.objects.get(user=member).organization
    other_admin = _person("admin2@acme.test", org, Role.ADMIN)
    Invitation.objects.create(organization=org, email="a@acme.test", role=Role.ADMIN)
    page = admin_client_.get(reverse("members")).content.decode()
    for untouchable in (other_admin, Membership.objects.get(user=owner)):
        assert reverse("change_role", args=[untouchable.pk]) not in page
        assert reverse("remove_member", args=[untouchable.pk]) not in page
    for managed in (Membership.objects.get(user=member), Membership.objects.get(user=viewer)):
        assert reverse("change_role", args=[managed.pk]) in page
        assert reverse("remove_member", args=[managed.pk]) in page
    assert '<option value="admin"' not in page and '<option value="owner"' not in page
    assert "/revoke/" not in page
    # And what is offered works.
    managed = Membership.objects.get(user=member)
    admin_client_.post(reverse("change_role", args=[managed.pk]), {"role": "viewer"})
    managed.refresh_from_db()
    assert managed.role == Role.VIEWER


@pytest.mark.django_db
def test_it_enforces_the_rule_in_the_service_for_every_caller(admin_user, owner, org):
    actor = Membership.objects.get(user=admin_user)
    other_admin = _person("admin2@acme.test", org, Role.ADMIN)
    with pytest.raises(ValidationError, match="Only an owner"):
        services.change_role(actor=actor, membership=other_admin, role="member")
    with pytest.raises(ValidationError, match="Only an owner"):
        services.remove_member(actor=actor, membership=other_admin)
    with pytest.raises(ValidationError, match="Only an owner"):
        services.invite_member(actor=actor, email="x@acme.test", role="admin")
    other_admin.refresh_from_db()
    assert other_admin.role == Role.ADMIN


@pytest.mark.django_db
def test_it_checks_the_actors_role_as_it_is_now_not_as_the_request_read_it(owner, org):
    first = Membership.objects.get(user=owner)
    second = _person("owner2@acme.test", org, Role.OWNER)
    third = _person("owner3@acme.test", org, Role.OWNER)
    stale = Membership.objects.get(pk=second.pk)  # read as an owner ...
    services.change_role(actor=first, membership=second, role="member")  # ... demoted meanwhile
    with pytest.raises(ValidationError):
        services.remove_member(actor=stale, membership=third)
    assert Membership.objects.filter(pk=third.pk, role=Role.OWNER).exists()


@pytest.mark.django_db
def test_it_refuses_a_membership_of_another_organization(owner, other_org):
    own = Membership.objects.get(user=owner)
    theirs = _person("member@rival.test", other_org, Role.MEMBER)
    with pytest.raises(ValidationError, match="not a member"):
        services.remove_member(actor=own, membership=theirs)
    assert Membership.objects.filter(pk=theirs.pk).exists()
