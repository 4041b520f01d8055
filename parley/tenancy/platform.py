"""Operations that cross the tenant boundary on purpose: creating an organisation, joining one through an
invitation, and the super-admin's list. They mint a scope for the organisation they create or join, after
checking the right thing (a super-admin, the CLI's operator, the holder of an invitation's secret)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.auth.secrets import hash_secret
from parley.channels.widget.repository import widget_by_agent_id
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import set_pg_setting
from parley.kit.errors import Conflict, NotAuthenticated, NotFound
from parley.kit.ids import new_id
from parley.models import Invitation, Membership, Organization, User
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy import repository as repo
from parley.tenancy import service
from parley.tenancy.permissions import Role
from parley.tenancy.scope import OrgScope, _mint


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:48]
    return slug or "org"


async def _unique_slug(db: AsyncSession, name: str) -> str:
    base = slugify(name)
    slug, n = base, 1
    while await repo.slug_taken(db, slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


async def system_scope(db: AsyncSession, org_id: str, actor: Actor) -> OrgScope:
    """Act inside one organisation as the platform (CLI, invitations): owner rights, audited as `actor`."""
    await set_pg_setting(db, "app.org_id", org_id)
    return _mint(org_id, Role.OWNER, actor)


async def widget_visitor_scope(db: AsyncSession, agent_id: str, request: RequestInfo) -> OrgScope | None:
    """Act inside the organisation whose agent a widget visitor talks to: found by the agent id alone (public, in
    the embed snippet), and only if the business has turned the widget on for that agent. Viewer rights (a
    visitor is no member); audited as an anonymous visitor. Which conversation the visitor may touch is checked
    by the widget through the visitor's secret."""
    found = await widget_by_agent_id(db, agent_id)
    if found is None:
        return None
    await set_pg_setting(db, "app.org_id", found.org_id)
    return _mint(found.org_id, Role.VIEWER, Actor("visitor", None, request))


async def public_privacy_scope(db: AsyncSession, org_ref: str, request: RequestInfo) -> OrgScope | None:
    """Act inside an organisation for a member of the public filing a data-subject request on its public page
    (found by slug or id). Viewer rights; which person's data a request reaches is decided by a one-time code."""
    org = await repo.organization_by_ref(db, org_ref)
    if org is None or org.deletion_due_at is not None:
        return None
    await set_pg_setting(db, "app.org_id", org.id)
    return _mint(org.id, Role.VIEWER, Actor("anonymous", None, request))


async def create_organization(db: AsyncSession, runtime: Runtime, *, name: str, actor: Actor) -> OrgScope:
    org = Organization(id=new_id("org"), name=name, slug=await _unique_slug(db, name), created_at=runtime.clock.now())
    db.add(org)
    await db.flush()
    scope = await system_scope(db, org.id, actor)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "org.created",
        target_type="organization",
        target_id=org.id,
        details={"name": name},
    )
    return scope


async def add_member(db: AsyncSession, runtime: Runtime, scope: OrgScope, user: User, role: Role) -> Membership:
    if await repo.member_by_email(db, scope, user.email) is not None:
        raise Conflict("this person is already a member", code="already_member")
    member = Membership(
        id=new_id("mem"),
        org_id=scope.org_id,
        user_id=user.id,
        role=role.value,
        created_at=runtime.clock.now(),
    )
    db.add(member)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "member.added",
        target_type="member",
        target_id=member.id,
        details={"user_id": user.id, "role": role},
    )
    return member


@dataclass(frozen=True)
class NewOrganization:
    organization: Organization
    owner_invitation_url: str | None


async def create_organization_with_owner(
    db: AsyncSession, runtime: Runtime, *, name: str, owner_email: str, actor: Actor
) -> NewOrganization:
    """An existing account becomes owner at once; otherwise the owner gets an invitation link."""
    scope = await create_organization(db, runtime, name=name, actor=actor)
    org = await repo.organization(db, scope)
    owner = await auth_repo.user_by_email(db, auth_service.normalise_email(owner_email))
    if owner is not None:
        await add_member(db, runtime, scope, owner, Role.OWNER)
        return NewOrganization(org, None)
    invited = await service.do_invite(db, runtime, scope, auth_service.normalise_email(owner_email), Role.OWNER)
    return NewOrganization(org, invited.url)


async def live_invitation(db: AsyncSession, runtime: Runtime, secret: str) -> tuple[Invitation, Organization]:
    found = await repo.invitation_by_token_hash(db, hash_secret(secret))
    if found is None:
        raise NotFound("this invitation link is not valid")
    invitation, org = found
    if invitation.accepted_at is not None:
        raise Conflict("this invitation has already been used", code="invitation_used")
    if invitation.revoked_at is not None or invitation.expires_at <= runtime.clock.now():
        raise Conflict("this invitation has expired or was withdrawn; ask for a new one", code="invitation_expired")
    return invitation, org


@dataclass(frozen=True)
class Joined:
    organization: Organization
    membership: Membership
    signed_in: auth_service.SignedIn | None


async def accept_invitation(
    db: AsyncSession,
    runtime: Runtime,
    *,
    secret: str,
    name: str | None,
    password: str | None,
    signed_in_user: User | None,
    request: RequestInfo,
) -> Joined:
    """Someone with an account must be signed in as the invited address; someone without one creates it here
    (name and password) and is signed in."""
    found, org = await live_invitation(db, runtime, secret)
    # Lock the row (inside its tenant, where RLS lets us update it) and check again: of two simultaneous
    # acceptances, the second waits here and then sees the invitation used.
    locked = await repo.invitation_for_update(db, await system_scope(db, org.id, Actor.system(request)), found.id)
    if locked is None or locked.accepted_at is not None:
        raise Conflict("this invitation has already been used", code="invitation_used")
    invitation = locked
    existing = await auth_repo.user_by_email(db, invitation.email)
    new_session = None
    if existing is not None:
        if signed_in_user is None or signed_in_user.id != existing.id:
            raise NotAuthenticated(f"sign in as {invitation.email} to accept this invitation", code="sign_in_required")
        user = existing
    else:
        if not name or not password:
            raise Conflict("choose a name and a password to create your account", code="account_required")
        user = await auth_service.create_user(
            db,
            runtime,
            email=invitation.email,
            name=name,
            password=password,
            actor=Actor("anonymous", None, request),
        )
        new_session = await auth_service.start_session(db, runtime, user, request)
    scope = await system_scope(db, org.id, Actor("user", user.id, request))
    membership = await add_member(db, runtime, scope, user, Role(invitation.role))
    invitation.accepted_at = runtime.clock.now()
    await audit.record_in_scope(
        db, runtime.clock, scope, "invitation.accepted", target_type="invitation", target_id=invitation.id
    )
    return Joined(org, membership, new_session)
