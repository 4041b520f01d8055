"""Factories: build organisations, staff, sessions and tokens through Parley's own services and API."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

import httpx

from parley.auth import service as auth_service
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.permissions import Role
from parley.tokens import service as token_service

PASSWORD = "correct horse battery staple"
ACTOR = Actor("system", None, RequestInfo(request_id="test"))
_seq = count(1)


@dataclass
class Org:
    id: str
    owner_email: str


async def make_user(
    runtime: Runtime,
    *,
    email: str | None = None,
    name: str = "Staff Member",
    org_id: str | None = None,
    role: Role | str = Role.AGENT,
    superadmin: bool = False,
) -> str:
    email = email or f"user{next(_seq)}@example.com"
    async with unit_of_work(runtime.sessionmaker) as db:
        user = await auth_service.create_user(
            db, runtime, email=email, name=name, password=PASSWORD, actor=ACTOR, superadmin=superadmin
        )
        if org_id:
            scope = await platform.system_scope(db, org_id, ACTOR)
            await platform.add_member(db, runtime, scope, user, Role(role))
    return email


async def make_org(runtime: Runtime, name: str | None = None) -> Org:
    name = name or f"Business {next(_seq)}"
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.create_organization(db, runtime, name=name, actor=ACTOR)
    owner = await make_user(runtime, org_id=scope.org_id, role=Role.OWNER, name=f"Owner of {name}")
    return Org(scope.org_id, owner)


async def make_token(
    runtime: Runtime, org_id: str, role: Role | str = Role.ADMIN, expires_in_days: int | None = None
) -> tuple[str, str]:
    """Returns (token id, secret)."""
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        created = await token_service.do_create_token(
            db, runtime, scope, name="test", role=Role(role), expires_in_days=expires_in_days
        )
    return created.token.id, created.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """Signs the client in (cookies are kept by the client) and returns the CSRF header to send on writes."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}
