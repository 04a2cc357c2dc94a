from __future__ import annotations

import pytest
from django.http import Http404
from django.urls import reverse

from portal.models import Invitation, Membership, Role
from portal.tenancy import get_for_org_or_404


@pytest.mark.django_db
def test_it_switches_between_the_organizations_of_a_user(owner, owner_client, other_org):
    Membership.objects.create(user=owner, organization=other_org, role=Role.VIEWER)
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Acme Solar" in page and "Rival Energy" in page  # both in the switcher
    owner_client.post(reverse("switch_organization"), {"organization": other_org.pk})
    response = owner_client.get(reverse("members"))
    assert response.context["current_organization"] == other_org
    assert not response.context["can_admin"]  # a viewer there


@pytest.mark.django_db
def test_it_refuses_to_switch_into_an_organization_one_is_not_in(owner_client, other_org, org):
    response = owner_client.post(reverse("switch_organization"), {"organization": other_org.pk})
    assert response.status_code == 404
    assert owner_client.get(reverse("members")).context["current_organization"] == org


@pytest.mark.django_db
def test_it_lets_admins_change_roles_and_keeps_at_least_one_owner(owner, owner_client, member, org):
    membership = Membership.objects.get(user=member)
    owner_client.post(reverse("change_role", args=[membership.pk]), {"role": "admin"})
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN
    own = Membership.objects.get(user=owner)
    # An admin can't demote the only owner; nor can the owner remove the last owner.
    from django.test import Client

    admin = Client()
    admin.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    admin.post(reverse("change_role", args=[own.pk]), {"role": "member"})
    own.refresh_from_db()
    assert own.role == Role.OWNER


@pytest.mark.django_db
def test_it_forbids_viewers_from_managing_members(viewer_client, member, org):
    membership = Membership.objects.get(user=member)
    assert viewer_client.post(reverse("remove_member", args=[membership.pk])).status_code == 403
    assert Membership.objects.filter(pk=membership.pk).exists()


@pytest.mark.django_db
def test_it_gives_outsiders_404_not_403_for_another_organizations_members(outsider_client, member):
    membership = Membership.objects.get(user=member)
    assert outsider_client.post(reverse("remove_member", args=[membership.pk])).status_code == 404
    assert (
        outsider_client.post(
            reverse("change_role", args=[membership.pk]), {"role": "viewer"}
        ).status_code
        == 404
    )
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER


@pytest.mark.django_db
def test_it_scopes_lookups_to_the_organization(org, other_org, owner):
    mine = Invitation.objects.create(organization=org, email="a@acme.test")
    assert get_for_org_or_404(Invitation, org, pk=mine.pk) == mine
    with pytest.raises(Http404):
        get_for_org_or_404(Invitation, other_org, pk=mine.pk)
    with pytest.raises(Http404):
        get_for_org_or_404(Invitation.objects.all(), other_org, pk=mine.pk)


@pytest.mark.django_db
def test_it_shows_the_dashboard_only_to_members(client, django_user_model):
    lonely = django_user_model.objects.create_user("lonely@nowhere.test", "pw-long-enough-1")
    client.force_login(lonely, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("dashboard"))
    assert response.status_code == 403
    assert "not a member of any organization" in response.content.decode()


@pytest.mark.django_db
def test_it_adds_a_request_id_to_every_response(owner_client):
    response = owner_client.get(reverse("dashboard"), HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert (
        len(owner_client.get(reverse("dashboard"), HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"])
        == 32
    )
