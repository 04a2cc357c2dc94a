"""Write operations on organizations, memberships and invitations."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .models import Invitation, Membership, Role, User


def _check_can_grant(actor: Membership, role: str) -> None:
    if role not in Role.values:
        raise ValidationError(f"{role!r} is not a role.")
    if not actor.allows(Role.ADMIN):
        raise ValidationError("Only admins and owners manage members.")
    if not actor.manages(role):
        raise ValidationError("Only an owner can make someone an admin or an owner.")


def _lock_memberships(actor: Membership, membership: Membership) -> tuple[Membership, Membership]:
    """The actor's and the target's memberships as they are now, with every membership of the
    organization locked (in one order, so two changes at once queue instead of deadlocking): a
    role checked here can't change before the write, and two owners demoting each other at once
    can't leave the organization without one."""
    locked = {
        m.pk: m
        for m in Membership.objects.select_for_update()
        .filter(organization_id=actor.organization_id)
        .order_by("pk")
    }
    if actor.pk not in locked:
        raise ValidationError("You are no longer a member of this organization.")
    if membership.pk not in locked:
        raise ValidationError(f"{membership.user} is not a member of {actor.organization}.")
    return locked[actor.pk], locked[membership.pk]


@transaction.atomic
def invite_member(*, actor: Membership, email: str, role: str) -> Invitation:
    """Record an invitation and email its link. Re-inviting replaces an open invitation."""
    _check_can_grant(actor, role)
    email = email.strip().lower()
    organization = actor.organization
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError(f"{email} is already a member of {organization}.")
    open_invitations = Invitation.objects.filter(
        organization=organization, email=email, accepted_at__isnull=True
    )
    if any(not actor.manages(role) for role in open_invitations.values_list("role", flat=True)):
        raise ValidationError(
            f"{email} has an open invitation as admin or owner: only an owner can replace it."
        )
    open_invitations.delete()
    invitation = Invitation.objects.create(
        organization=organization, email=email, role=role, invited_by=actor.user
    )
    link = settings.PUBLIC_BASE_URL.rstrip("/") + reverse(
        "accept_invitation", args=[invitation.token]
    )
    context = {"invitation": invitation, "link": link, "inviter": actor.user}
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {organization} on Gridfolio",
            message=render_to_string("portal/email/invitation.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    )
    return invitation


@transaction.atomic
def accept_invitation(
    *, invitation: Invitation, user: User | None = None, password: str = "", full_name: str = ""
) -> Membership:
    """Join the invitation's organization: an existing user, or a new one with `password`."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise ValidationError("This invitation has expired or was already used.")
    if user is None:
        user_model = get_user_model()
        if user_model.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                "An account with this email exists: sign in first, then open the link again."
            )
        user = user_model.objects.create_user(invitation.email, password, full_name=full_name)
    elif user.email.lower() != invitation.email.lower():
        raise ValidationError(
            f"This invitation is for {invitation.email}; you are signed in as {user.email}."
        )
    membership, _ = Membership.objects.get_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def change_role(*, actor: Membership, membership: Membership, role: str) -> Membership:
    """Give `membership` the role `role`: admins for members and viewers, owners for anyone."""
    actor, current = _lock_memberships(actor, membership)
    _check_can_grant(actor, role)
    if not actor.manages(current.role):
        raise ValidationError(
            f"Only an owner can change the role of an {current.get_role_display().lower()}."
        )
    if current.role == Role.OWNER and role != Role.OWNER:
        _keep_one_owner(current)
    Membership.objects.filter(pk=current.pk).update(role=role)
    membership.role = role
    return membership


@transaction.atomic
def remove_member(*, actor: Membership, membership: Membership) -> None:
    """Take `membership` out of the organization: admins remove members and viewers, owners anyone."""
    actor, current = _lock_memberships(actor, membership)
    if not actor.allows(Role.ADMIN):
        raise ValidationError("Only admins and owners manage members.")
    if not actor.manages(current.role):
        raise ValidationError(f"Only an owner can remove an {current.get_role_display().lower()}.")
    if current.role == Role.OWNER:
        _keep_one_owner(current)
    current.delete()


@transaction.atomic
def revoke_invitation(*, actor: Membership, invitation: Invitation) -> None:
    """Withdraw an open invitation: one to an admin or owner role only an owner can withdraw."""
    if invitation.organization_id != actor.organization_id:
        raise ValidationError("That invitation is not for your organization.")
    if not actor.allows(Role.ADMIN):
        raise ValidationError("Only admins and owners manage members.")
    if not actor.manages(invitation.role):
        raise ValidationError(
            f"Only an owner can revoke an invitation as {invitation.get_role_display().lower()}."
        )
    invitation.delete()


def _keep_one_owner(membership: Membership) -> None:
    """Refuse to demote or remove `membership` when it is the organization's only owner (the
    caller holds the lock on the organization's memberships)."""
    others = Membership.objects.filter(
        organization_id=membership.organization_id, role=Role.OWNER
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError("An organization needs at least one owner.")
