"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import parley.models  # noqa: F401
from parley.kit.context import Actor
from parley.kit.db import Base
from parley.kit.migrate import UNMODELLED_PREFIXES, downgrade, include_object, upgrade
from parley.privacy import verify
from parley.settings import Settings
from tests.conftest import PG_URL, START, base_settings


def _owner_url(settings: Settings) -> str:
    return settings.effective_owner_url


async def _diff(settings: Settings) -> list[object]:
    engine = create_async_engine(_owner_url(settings), poolclass=NullPool)

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    await engine.dispose()
    return diff


async def _tables(settings: Settings) -> set[str]:
    engine = create_async_engine(_owner_url(settings), poolclass=NullPool)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return {n for n in names if not n.startswith(UNMODELLED_PREFIXES)} - {"alembic_version"}


async def test_models_and_migrations_agree(settings: Settings, runtime):  # type: ignore[no-untyped-def]
    assert await _diff(settings) == []


def test_downgrade_to_base_and_back(tmp_path: Path):
    """On a scratch database of the backend under test, so the shared test database is left alone."""
    if PG_URL:
        scratch = make_url(PG_URL).set(database=f"{make_url(PG_URL).database}_scratch").render_as_string(False)
        asyncio.run(_recreate(scratch))
        settings = base_settings(tmp_path, database_url=scratch)
    else:
        settings = base_settings(tmp_path)
    try:
        upgrade(settings)
        assert asyncio.run(_tables(settings)) == set(Base.metadata.tables)
        downgrade(settings, "base")
        assert asyncio.run(_tables(settings)) == set()
        upgrade(settings)
        assert asyncio.run(_diff(settings)) == []
    finally:
        if PG_URL:
            asyncio.run(_drop(scratch))


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(
        make_url(url).set(database="postgres").render_as_string(False), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as conn:
        for statement in statements:
            await conn.execute(text(statement))
    await engine.dispose()


async def _recreate(url: str) -> None:
    name = make_url(url).database
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')


async def _drop(url: str) -> None:
    await _admin(url, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def test_audit_rows_written_before_the_chain_are_linked_by_the_migration(tmp_path: Path):
    if PG_URL:
        scratch = make_url(PG_URL).set(database=f"{make_url(PG_URL).database}_chain").render_as_string(False)
        asyncio.run(_recreate(scratch))
        settings = base_settings(tmp_path, database_url=scratch)
    else:
        settings = base_settings(tmp_path)
    try:
        upgrade(settings, "0002_engine")
        asyncio.run(_old_audit_rows(settings))
        upgrade(settings)
        results = asyncio.run(_verify_all(settings))
        assert results == {"org_old": (True, 3), "platform": (True, 1)}
    finally:
        if PG_URL:
            asyncio.run(_drop(scratch))


async def _old_audit_rows(settings: Settings) -> None:
    engine = create_async_engine(_owner_url(settings), poolclass=NullPool)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO organizations (id, name, slug, created_at) VALUES ('org_old', 'Old', 'old', :t)"),
            {"t": START},
        )
        for n, org in enumerate(["org_old", None, "org_old", "org_old"]):
            await conn.execute(
                text(
                    "INSERT INTO audit_events (id, org_id, occurred_at, actor_type, action, ip, details) "
                    "VALUES (:id, :org, :t, 'system', 'old.event', '192.0.2.1', :details)"
                ),
                {"id": f"aud_{n:02d}", "org": org, "t": START, "details": json.dumps({"n": n})},
            )
    await engine.dispose()


async def _verify_all(settings: Settings) -> dict[str, tuple[bool, int]]:
    from parley.kit.db import unit_of_work
    from parley.runtime import create_runtime
    from parley.tenancy.platform import system_scope

    runtime = create_runtime(settings)
    try:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            scope = await system_scope(db, "org_old", Actor.system())
            org = await verify.verify_organization(db, scope)
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            platform = await verify.verify_platform(db)
    finally:
        await runtime.close()
    return {"org_old": (org.ok, org.checked), "platform": (platform.ok, platform.checked)}
