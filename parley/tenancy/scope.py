"""The tenant context. Repositories accept only an `OrgScope`, and only the auth layer mints one, after
checking that the caller belongs to the organisation; so tenant-scoped SQL cannot be written without it.

Python cannot forbid construction outright: the constructor demands a private key that only
`parley.auth.dependencies` imports (a test checks that nothing else does).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.errors import Forbidden
from parley.tenancy.permissions import Permission, Role, allows

_MINT_KEY = object()


class OrgScope:
    __slots__ = ("actor", "org_id", "role")

    def __init__(self, org_id: str, role: Role, actor: Actor, *, _key: object) -> None:
        if _key is not _MINT_KEY:
            raise TypeError("OrgScope is created by the auth layer only")
        self.org_id = org_id
        self.role = role
        self.actor = actor

    def require(self, permission: Permission) -> None:
        if not allows(self.role, permission):
            raise Forbidden(f"your role ({self.role}) does not allow {permission}")

    def __repr__(self) -> str:
        return f"OrgScope(org_id={self.org_id!r}, role={self.role.value!r}, actor={self.actor.type}:{self.actor.id})"


def _mint(org_id: str, role: Role, actor: Actor) -> OrgScope:
    return OrgScope(org_id, role, actor, _key=_MINT_KEY)


@asynccontextmanager
async def scoped_unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], scope: OrgScope, *, write: bool = True
) -> AsyncIterator[AsyncSession]:
    """A transaction of its own inside an already-checked scope: for work split into several short
    transactions (a conversation turn must not hold a write lock while a model thinks)."""
    async with unit_of_work(sessionmaker, write=write) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        yield db
