"""Database plumbing shared by the benchmarks: settings for a throw-away data directory, and PostgreSQL admin."""

from __future__ import annotations

from pathlib import Path

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
