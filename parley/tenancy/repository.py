"""Tenant-scoped SQL for organisations, memberships and invitations. Every function takes an `OrgScope`."""

from __future__ import annotations

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import set_pg_setting
from parley.models import Invitation, Membership, Organization, User
from parley.tenancy.scope import OrgScope


async def organization(session: AsyncSession, scope: OrgScope) -> Organization:
    org = await session.get(Organization, scope.org_id)
    assert org is not None, "a scope is only minted for an existing organisation"
    return org


_MEMBERS = (  # built once: listing members is the most frequent tenant read of the staff API
    select(Membership, User)
    .join(User, User.id == Membership.user_id)
    .where(Membership.org_id == bindparam("org_id"))
    .order_by(Membership.created_at, Membership.id)
)


async def members(session: AsyncSession, scope: OrgScope) -> list[tuple[Membership, User]]:
    rows = await session.execute(_MEMBERS, {"org_id": scope.org_id})
    return [(m, u) for m, u in rows]


async def member(session: AsyncSession, scope: OrgScope, member_id: str) -> tuple[Membership, User] | None:
    row = (
        await session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.org_id == scope.org_id, Membership.id == member_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def member_by_email(session: AsyncSession, scope: OrgScope, email: str) -> Membership | None:
    result: Membership | None = await session.scalar(
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == scope.org_id, User.email == email)
    )
    return result


async def owner_count(session: AsyncSession, scope: OrgScope) -> int:
    """Counts the owners with their rows locked (PostgreSQL), so that two concurrent demotions cannot both
    see "another owner remains" and leave none. SQLite serialises write transactions already."""
    owners = await session.scalars(
        select(Membership.id).where(Membership.org_id == scope.org_id, Membership.role == "owner").with_for_update()
    )
    return len(list(owners))


async def invitations(session: AsyncSession, scope: OrgScope) -> list[Invitation]:
    return list(
        await session.scalars(
            select(Invitation).where(Invitation.org_id == scope.org_id).order_by(Invitation.created_at.desc())
        )
    )


async def invitation(session: AsyncSession, scope: OrgScope, invitation_id: str) -> Invitation | None:
    result: Invitation | None = await session.scalar(
        select(Invitation).where(Invitation.org_id == scope.org_id, Invitation.id == invitation_id)
    )
    return result


async def pending_invitations_for(session: AsyncSession, scope: OrgScope, email: str) -> list[Invitation]:
    return list(
        await session.scalars(
            select(Invitation).where(
                Invitation.org_id == scope.org_id,
                Invitation.email == email,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
        )
    )


async def invitation_by_token_hash(session: AsyncSession, token_hash: str) -> tuple[Invitation, Organization] | None:
    """Found before any tenant is known: the RLS lookup policy admits the row whose secret the caller holds."""
    await set_pg_setting(session, "app.token_hash", token_hash)
    row = (
        await session.execute(
            select(Invitation, Organization)
            .join(Organization, Organization.id == Invitation.org_id)
            .where(Invitation.token_hash == token_hash)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def invitation_for_update(session: AsyncSession, scope: OrgScope, invitation_id: str) -> Invitation | None:
    """The invitation, locked until the transaction ends: accepting it twice at once joins once."""
    result: Invitation | None = await session.scalar(
        select(Invitation)
        .where(Invitation.org_id == scope.org_id, Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return result


async def slug_taken(session: AsyncSession, slug: str) -> bool:
    return await session.scalar(select(Organization.id).where(Organization.slug == slug)) is not None


async def all_organizations(session: AsyncSession) -> list[Organization]:
    """Platform view (super-admin): the organisations themselves, never what they hold."""
    return list(await session.scalars(select(Organization).order_by(Organization.created_at)))


async def organization_by_ref(session: AsyncSession, ref: str) -> Organization | None:
    """An organisation by its public slug or its id (public pages name it either way)."""
    return await session.scalar(select(Organization).where(or_(Organization.slug == ref, Organization.id == ref)))
