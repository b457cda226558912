"""Teams, memberships and invitations: the only code that changes who belongs where.

Rules kept here rather than in views: a team always keeps at least one owner; only owners
grant or take away the owner role; admins manage members and admins but never owners.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from pixdash.accounts.models import ApiKey, Invitation, Membership, Role, Team, User
from pixdash.accounts.signals import user_signed_up


class TeamRuleError(Exception):
    """A change that would break a team rule; the message is fit to show to the user."""


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40].strip("-") or "team"
    return f"{base}-{secrets.token_hex(3)}"


def create_team(*, owner: User, name: str) -> Team:
    """Create a team with ``owner`` as its first owner and make it their current team."""
    with transaction.atomic():
        for _attempt in range(5):
            try:
                with transaction.atomic():
                    team = Team.objects.create(name=name.strip(), slug=_unique_slug(name))
                break
            except IntegrityError:
                continue
        else:
            raise RuntimeError("Could not draw a unique team slug")
        Membership.objects.create(team=team, user=owner, role=Role.OWNER)
        owner.current_team = team
        owner.save(update_fields=["current_team"])
    return team


def personal_team_name(user: User) -> str:
    return f"{user.get_short_name()}'s team"


def sign_up(*, email: str, password: str, name: str = "") -> User:
    """Create a user and their personal team, owned by them."""
    with transaction.atomic():
        user = User.objects.create_user(email=email, password=password, name=name)
        team = create_team(owner=user, name=personal_team_name(user))
        user_signed_up.send(sender=User, user=user, team=team)
    return user


def rename_team(*, team: Team, name: str) -> None:
    team.name = name.strip()
    team.save(update_fields=["name"])


def set_image_retention(*, team: Team, days: int | None) -> None:
    """Keep the team's images ``days`` days (None: forever). Older images, favourites
    excepted, are deleted by the hourly retention task, then purged after the undo window."""
    team.image_retention_days = days
    team.save(update_fields=["image_retention_days"])


def switch_team(*, user: User, team: Team) -> None:
    if not Membership.objects.filter(user=user, team=team).exists():
        raise TeamRuleError("You are not a member of that team.")
    user.current_team = team
    user.save(update_fields=["current_team"])


def current_membership(user: User) -> Membership | None:
    """The membership of the user's current team, repairing a stale current team."""
    memberships = Membership.objects.select_related("team").filter(user=user)
    membership = memberships.filter(team_id=user.current_team_id).first()
    if membership is None:
        membership = memberships.first()
        user.current_team = membership.team if membership else None
        user.save(update_fields=["current_team"])
    return membership


def _locked_owner_count(team: Team) -> int:
    # Lock the team's owner rows so two owners leaving at once cannot both pass the check.
    return len(
        Membership.objects.select_for_update().filter(team=team, role=Role.OWNER).values("id")
    )


def _check_may_manage(actor: Membership, target: Membership) -> None:
    if not actor.is_manager:
        raise TeamRuleError("Only owners and admins manage members.")
    if target.is_owner and not actor.is_owner:
        raise TeamRuleError("Only an owner can change or remove another owner.")


def change_role(*, actor: Membership, target: Membership, role: str) -> None:
    if role not in Role.values:
        raise TeamRuleError("Unknown role.")
    _check_may_manage(actor, target)
    if role == Role.OWNER and not actor.is_owner:
        raise TeamRuleError("Only an owner can make someone an owner.")
    with transaction.atomic():
        if target.is_owner and role != Role.OWNER and _locked_owner_count(target.team) <= 1:
            raise TeamRuleError("A team needs at least one owner. Make someone else owner first.")
        target.role = role
        target.save(update_fields=["role"])


def _delete_membership(membership: Membership) -> None:
    with transaction.atomic():
        if membership.is_owner and _locked_owner_count(membership.team) <= 1:
            raise TeamRuleError("The last owner cannot leave. Make someone else owner first.")
        membership.delete()
        User.objects.filter(pk=membership.user_id, current_team=membership.team_id).update(
            current_team=None
        )


def remove_member(*, actor: Membership, target: Membership, revoke_keys: bool = True) -> int:
    """Remove a member; with ``revoke_keys`` (the team page's default) also revoke the
    API keys they created for this team, in the same transaction. Returns how many keys
    were revoked.

    Keys the remover chooses to keep stay the team's: they keep working and spending the
    team's credits, listed on the keys page under their name as before, so an integration
    a former member set up does not break. Revoke them there at any time."""
    if actor.pk == target.pk:
        raise TeamRuleError("Use 'Leave team' to remove yourself.")
    _check_may_manage(actor, target)
    with transaction.atomic():
        _delete_membership(target)
        if not revoke_keys:
            return 0
        return ApiKey.objects.filter(
            team_id=target.team_id, created_by_id=target.user_id, revoked_at__isnull=True
        ).update(revoked_at=timezone.now(), revoked_by=actor.user)


def keys_created_by_members(team: Team) -> dict[int, list[ApiKey]]:
    """The team's unrevoked API keys by the user who created them (one query)."""
    by_user: dict[int, list[ApiKey]] = {}
    for api_key in ApiKey.objects.filter(
        team=team, revoked_at__isnull=True, created_by__isnull=False
    ).order_by("name", "pk"):
        by_user.setdefault(api_key.created_by_id, []).append(api_key)
    return by_user


def leave_team(*, membership: Membership) -> None:
    _delete_membership(membership)


# --- Invitations ----------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(
    *, team: Team, invited_by: User, email: str = "", role: str = Role.MEMBER
) -> tuple[Invitation, str]:
    """Create an invitation and return it with its token (shown once, stored as a digest)."""
    if role not in (Role.ADMIN, Role.MEMBER):
        raise TeamRuleError("Invite as admin or member; promote to owner after joining.")
    email = email.strip().lower()
    if email and Membership.objects.filter(team=team, user__email=email).exists():
        raise TeamRuleError(f"{email} is already a member of {team}.")
    if email:
        # A new invitation to the same address replaces the old one: one live link each.
        Invitation.objects.filter(
            team=team, email=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        email=email,
        role=role,
        token_digest=_token_digest(token),
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.PIXDASH_INVITATION_DAYS),
    )
    return invitation, token


def find_invitation(token: str) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    return (
        Invitation.objects.select_related("team", "invited_by")
        .filter(token_digest=_token_digest(token))
        .first()
    )


def revoke_invitation(*, invitation: Invitation) -> None:
    Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


def accept_invitation(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's team. An invitation is used once; e-mailed ones only by the
    address they were sent to."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_pending:
            raise TeamRuleError(f"This invitation is {invitation.status}.")
        if invitation.email and invitation.email != user.email:
            raise TeamRuleError(
                f"This invitation was sent to {invitation.email}. "
                "Log in with that address to accept it."
            )
        membership = Membership.objects.filter(team=invitation.team, user=user).first()
        if membership is not None:
            raise TeamRuleError(f"You are already a member of {invitation.team}.")
        membership = Membership.objects.create(
            team=invitation.team, user=user, role=invitation.role
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        user.current_team = invitation.team
        user.save(update_fields=["current_team"])
    return membership
