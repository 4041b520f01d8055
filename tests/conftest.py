"""Test harness: every test runs against a freshly migrated real database.

- SQLite (default): the schema is built once with `alembic upgrade head` into a template file, and each test
  gets its own copy (a file copy is much faster than migrating again).
- PostgreSQL (`PARLEY_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/<name>`): the database is
  dropped and created fresh for the run, migrated as the owner, and the app connects as a separate
  non-superuser role so that row-level security applies exactly as in production. Tables are truncated
  between tests.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.app import create_app
from parley.kit.clock import FrozenClock
from parley.kit.migrate import upgrade
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings

PG_URL = os.environ.get("PARLEY_TEST_DATABASE_URL", "")
APP_ROLE = "parley_app_test"
MASTER_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Every `async def test_*` runs on asyncio through anyio's plugin, without a marker in each file."""
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)


def pytest_report_header() -> str:
    return f"parley database: {'PostgreSQL ' + make_url(PG_URL).render_as_string() if PG_URL else 'SQLite'}"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def base_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "data_dir": data_dir,
        "master_key": MASTER_KEY,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "argon2_parallelism": 1,
        "embedded_worker": False,
        "log_json": False,
        "database_pool_size": 5,
        "public_url": "http://127.0.0.1:8000",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _admin_url(url: str) -> str:
    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


async def _pg_prepare(url: str) -> None:
    name = make_url(url).database
    engine = create_async_engine(_admin_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_keys" WITH (FORCE)'))  # the key store
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
        exists = await conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE})
        if not exists:
            await conn.execute(text(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS"))
    await engine.dispose()


async def _pg_drop(url: str) -> None:
    engine = create_async_engine(_admin_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}_keys" WITH (FORCE)'))
    await engine.dispose()


def keystore_url(database_url: str) -> str:
    url = make_url(database_url)
    return url.set(database=f"{url.database}_keys").render_as_string(hide_password=False)


def app_url(owner_url: str) -> str:
    return make_url(owner_url).set(username=APP_ROLE, password=None).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Builds the schema once per run; yields the SQLite template file (or the PostgreSQL marker dir)."""
    root = tmp_path_factory.mktemp("template")
    if PG_URL:
        asyncio.run(_pg_prepare(PG_URL))
        upgrade(
            base_settings(root, database_url=app_url(PG_URL), database_owner_url=PG_URL, database_app_role=APP_ROLE)
        )
        yield root
        asyncio.run(_pg_drop(PG_URL))
    else:
        upgrade(base_settings(root))
        yield root / "parley.db"


async def _pg_truncate() -> None:
    keys = create_async_engine(keystore_url(PG_URL), poolclass=NullPool)
    async with keys.begin() as conn:
        await conn.execute(text("TRUNCATE org_keys, subject_keys"))
    await keys.dispose()
    engine = create_async_engine(PG_URL, poolclass=NullPool)
    async with engine.begin() as conn:
        tables = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    )
                )
            )
            .scalars()
            .all()
        )
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
def settings(migrated: Path, tmp_path: Path) -> Settings:
    if PG_URL:
        asyncio.run(_pg_truncate())
        return base_settings(
            tmp_path, database_url=app_url(PG_URL), database_owner_url=PG_URL, database_app_role=APP_ROLE
        )
    shutil.copyfile(migrated, tmp_path / "parley.db")
    shutil.copyfile(migrated.with_name("keys.db"), tmp_path / "keys.db")
    return base_settings(tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
async def runtime(settings: Settings, clock: FrozenClock) -> AsyncIterator[Runtime]:
    rt = create_runtime(settings, clock=clock)
    yield rt
    await rt.close()


@pytest.fixture
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c
