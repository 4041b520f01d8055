"""Database plumbing shared by the benchmarks: settings for a throw-away data directory, and PostgreSQL admin."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.settings import Settings


def settings_for(data_dir: Path, master_key: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "master_key": master_key,
        "embedded_worker": False,
        "log_json": False,
        "log_level": "WARNING",
        "database_pool_size": 5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def with_database(url: str, database: str, username: str | None = None) -> str:
    parsed = make_url(url).set(database=database)
    if username is not None:
        parsed = parsed.set(username=username, password=None)
    return parsed.render_as_string(hide_password=False)


async def pg_reachable(admin_url: str) -> bool:
    engine = create_async_engine(admin_url, poolclass=NullPool, connect_args={"timeout": 3})
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


async def pg_admin(admin_url: str, statements: list[str]) -> list[object]:
    engine = create_async_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    results: list[object] = []
    try:
        async with engine.connect() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
                results.append(result.scalar() if result.returns_rows else None)
    finally:
        await engine.dispose()
    return results


@contextmanager
def fresh_database(
    backend: Literal["sqlite", "postgres"], admin_url: str, name: str, master_key: str, **overrides: object
) -> Iterator[Settings]:
    """Fresh, migrated database settings; everything created is removed on exit, on errors too. PostgreSQL: the
    database `name` (and its key store `name_keys`) dropped and created, migrated as the owner, used through a
    non-superuser role `name_app` so that row-level security applies as in production."""
    from parley.kit.migrate import upgrade

    root = Path(tempfile.mkdtemp(prefix=f"{name.replace('_', '-')}-{backend}-"))
    role = f"{name}_app"
    databases = [name, f"{name}_keys"]
    created_role = False
    try:
        if backend == "sqlite":
            settings = settings_for(root, master_key, **overrides)
        else:
            exists = asyncio.run(pg_admin(admin_url, [f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'"]))[0]
            statements = [f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in databases]
            statements.append(f'CREATE DATABASE "{name}"')
            if not exists:
                statements.append(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")
            asyncio.run(pg_admin(admin_url, statements))
            created_role = not exists
            settings = settings_for(
                root,
                master_key,
                database_url=with_database(admin_url, name, role),
                database_owner_url=with_database(admin_url, name),
                database_app_role=role,
                **overrides,
            )
        upgrade(settings)
        yield settings
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if backend == "postgres":
            drops = [f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in databases]
            if created_role:
                drops.append(f"DROP ROLE IF EXISTS {role}")
            asyncio.run(pg_admin(admin_url, drops))
