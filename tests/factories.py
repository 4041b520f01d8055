"""Factories: build organisations, staff, sessions and tokens through Parley's own services and API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from itertools import count

import httpx
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import Base, unit_of_work
from parley.models import ApiToken
from parley.runtime import Runtime
from parley.settings import Settings
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


# --- Helpers for the behaviour tests (roles, tokens, invitations, members) ---------------------------------

BASE_URL = "http://127.0.0.1:8000"


def new_client(app: object, ip: str = "203.0.113.8") -> httpx.AsyncClient:
    """A second browser: its own cookie jar (use as `async with new_client(app) as other:`)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 50001))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


async def user_id_of(runtime: Runtime, email: str) -> str:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        user = await auth_repo.user_by_email(db, email)
    assert user is not None, email
    return user.id


async def member_ids(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict[str, str]:
    """email -> membership id, read through the API."""
    response = await client.get(f"/api/v1/orgs/{org_id}/members", headers=headers)
    assert response.status_code == 200, response.text
    return {m["email"]: m["id"] for m in response.json()}


async def member_roles(client: httpx.AsyncClient, org_id: str, headers: dict[str, str]) -> dict[str, str]:
    """email -> role, read through the API."""
    response = await client.get(f"/api/v1/orgs/{org_id}/members", headers=headers)
    assert response.status_code == 200, response.text
    return {m["email"]: m["role"] for m in response.json()}


async def audit_events(
    client: httpx.AsyncClient, org_id: str, headers: dict[str, str], action: str | None = None
) -> list[dict[str, object]]:
    """The organisation's audit log through the API, newest first (every page)."""
    events: list[dict[str, object]] = []
    params: dict[str, str | int] = {"limit": 500}
    if action:
        params["action"] = action
    while True:
        response = await client.get(f"/api/v1/orgs/{org_id}/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        events.extend(page["events"])
        if not page["next_before"]:
            return events
        params["before"] = page["next_before"]


async def set_token_expiry(runtime: Runtime, org_id: str, token_id: str, expires_at: datetime) -> None:
    """Gives an existing token an expiry directly in the database (independent of token creation)."""
    async with unit_of_work(runtime.sessionmaker) as db:
        await platform.system_scope(db, org_id, ACTOR)  # sets the tenant for row-level security on PostgreSQL
        await db.execute(update(ApiToken).where(ApiToken.id == token_id).values(expires_at=expires_at))


async def database_rows(settings: Settings) -> dict[str, list[dict[str, object]]]:
    """Every row of every table in the database (found by reflection, so a table the models forget is read too),
    read as the schema owner so that PostgreSQL row-level security hides nothing."""
    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: sa_inspect(sync).get_table_names())
            assert {t.name for t in Base.metadata.sorted_tables} <= set(names), names
            rows: dict[str, list[dict[str, object]]] = {}
            for name in names:
                result = await conn.execute(text(f'SELECT * FROM "{name}"'))
                rows[name] = [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()
    return rows


def _as_text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


async def database_text(settings: Settings) -> str:
    """The whole database as one string: every column of every row as text, one cell per line."""
    return "\n".join(
        f"{table}\t{column}\t{_as_text(value)}"
        for table, rows in (await database_rows(settings)).items()
        for row in rows
        for column, value in row.items()
        if value is not None
    )


async def raw_scalars(runtime: Runtime, org_id: str, sql: str) -> list[object]:
    """Raw SQL as the app role inside one tenant (on PostgreSQL, row-level security needs the tenant set)."""
    from sqlalchemy import text

    async with runtime.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": org_id})
        values = list((await conn.execute(text(sql))).scalars())
        await conn.rollback()
    return values
