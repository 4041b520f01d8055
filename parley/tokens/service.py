"""API tokens: created with a role no higher than the creator's, shown once, revoked instantly."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import repository as agents_repo
from parley.auth.secrets import TOKEN_PREFIX, hash_secret, new_secret
from parley.kit.errors import Forbidden, InvalidField, NotFound
from parley.kit.ids import new_id
from parley.models import ApiToken
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from parley.tenancy.scope import OrgScope
from parley.tokens import repository as repo


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str


async def do_create_token(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    *,
    name: str,
    role: Role,
    expires_in_days: int | None,
    agent_id: str | None = None,
) -> NewToken:
    if role.rank > scope.role.rank:
        raise Forbidden(f"a token cannot have more rights than you ({scope.role})")
    if agent_id is not None and await agents_repo.agent(db, scope, agent_id) is None:
        raise InvalidField("body.agent_id", "no such agent in this organisation")
    now = runtime.clock.now()
    secret = new_secret(TOKEN_PREFIX)
    token = ApiToken(
        id=new_id("tok"),
        org_id=scope.org_id,
        name=name,
        role=role.value,
        token_hash=hash_secret(secret),
        hint=secret[-4:],
        agent_id=agent_id,
        created_by_user_id=scope.actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    db.add(token)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "token.created",
        target_type="token",
        target_id=token.id,
        details={"role": role, "expires_at": token.expires_at, "agent_id": agent_id},
    )
    return NewToken(token, secret)


async def access_token(db: AsyncSession, scope: OrgScope, token_id: str) -> ApiToken:
    token = await repo.token(db, scope, token_id)
    if token is None:
        raise NotFound("token not found")
    return token


async def do_revoke_token(db: AsyncSession, runtime: Runtime, scope: OrgScope, token_id: str) -> ApiToken:
    token = await access_token(db, scope, token_id)
    if Role(token.role).rank > scope.role.rank:
        raise Forbidden(f"your role ({scope.role}) cannot revoke a {token.role} token")
    if token.revoked_at is None:
        token.revoked_at = runtime.clock.now()
        await audit.record_in_scope(db, runtime.clock, scope, "token.revoked", target_type="token", target_id=token.id)
    return token
