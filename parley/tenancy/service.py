"""Organisation settings, members and invitations. `do_*` functions change data and write the audit row in the
same transaction; every check (role, last owner) happens before anything changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth.secrets import hash_secret, new_secret
from parley.kit.errors import Conflict, Forbidden, NotFound
from parley.kit.ids import new_id
from parley.models import Invitation, Membership, Organization, User
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy import repository as repo
from parley.tenancy.permissions import Permission, Role
from parley.tenancy.scope import OrgScope


async def do_rename_organization(db: AsyncSession, runtime: Runtime, scope: OrgScope, name: str) -> Organization:
    org = await repo.organization(db, scope)
    if org.name != name:
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "org.renamed",
            target_type="organization",
            target_id=org.id,
            details={"from": org.name, "to": name},
        )
        org.name = name
    return org


async def access_member(db: AsyncSession, scope: OrgScope, member_id: str) -> tuple[Membership, User]:
    found = await repo.member(db, scope, member_id)
    if found is None:
        raise NotFound("member not found")
    return found


def _check_can_manage(scope: OrgScope, target_role: Role) -> None:
    if not scope.role.can_assign(target_role):
        raise Forbidden(f"your role ({scope.role}) cannot manage {target_role}s")
    if target_role is Role.OWNER:
        scope.require(Permission.OWNERS_MANAGE)


async def _check_keeps_an_owner(db: AsyncSession, scope: OrgScope, member: Membership) -> None:
    if member.role == Role.OWNER and await repo.owner_count(db, scope) <= 1:
        raise Conflict("an organisation must keep at least one owner; make someone else owner first", code="last_owner")


async def do_change_role(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, member_id: str, role: Role
) -> tuple[Membership, User]:
    member, user = await access_member(db, scope, member_id)
    current = Role(member.role)
    _check_can_manage(scope, current)
    _check_can_manage(scope, role)
    if current is role:
        return member, user
    if current is Role.OWNER:
        await _check_keeps_an_owner(db, scope, member)
    member.role = role.value
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "member.role_changed",
        target_type="member",
        target_id=member.id,
        details={"user_id": user.id, "from": current, "to": role},
    )
    return member, user


async def do_remove_member(db: AsyncSession, runtime: Runtime, scope: OrgScope, member_id: str) -> None:
    member, user = await access_member(db, scope, member_id)
    leaving_self = user.id == scope.actor.user_id
    if not leaving_self:
        _check_can_manage(scope, Role(member.role))
    await _check_keeps_an_owner(db, scope, member)
    await db.delete(member)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "member.removed",
        target_type="member",
        target_id=member.id,
        details={"user_id": user.id, "role": member.role, "left": leaving_self},
    )


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    url: str


def invitation_url(runtime: Runtime, secret: str) -> str:
    return f"{runtime.settings.effective_public_url}/invite/{secret}"


async def do_invite(db: AsyncSession, runtime: Runtime, scope: OrgScope, email: str, role: Role) -> NewInvitation:
    _check_can_manage(scope, role)
    if await repo.member_by_email(db, scope, email) is not None:
        raise Conflict("this person is already a member", code="already_member")
    now = runtime.clock.now()
    older_links = await repo.pending_invitations_for(db, scope, email)
    for older in older_links:
        _check_can_manage(scope, Role(older.role))  # replacing a link is withdrawing it: same rights
    for older in older_links:
        older.revoked_at = now  # one live link per person: re-inviting replaces the old link
    secret = new_secret()
    invitation = Invitation(
        id=new_id("inv"),
        org_id=scope.org_id,
        email=email,
        role=role.value,
        token_hash=hash_secret(secret),
        invited_by_user_id=scope.actor.user_id,
        created_at=now,
        expires_at=now + timedelta(hours=runtime.settings.invitation_ttl_hours),
    )
    db.add(invitation)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "invitation.created",
        target_type="invitation",
        target_id=invitation.id,
        details={"role": role},
    )
    return NewInvitation(invitation, invitation_url(runtime, secret))


async def do_revoke_invitation(db: AsyncSession, runtime: Runtime, scope: OrgScope, invitation_id: str) -> None:
    invitation = await repo.invitation(db, scope, invitation_id)
    if invitation is None:
        raise NotFound("invitation not found")
    _check_can_manage(scope, Role(invitation.role))
    if invitation.accepted_at is not None:
        raise Conflict("this invitation was already accepted; remove the member instead", code="accepted")
    if invitation.revoked_at is None:
        invitation.revoked_at = runtime.clock.now()
        await audit.record_in_scope(
            db, runtime.clock, scope, "invitation.revoked", target_type="invitation", target_id=invitation.id
        )
