"""Database plumbing: the declarative base, engines, and one-transaction-per-unit-of-work sessions.

SQLite (embedded) and PostgreSQL (scaled) share every code path. Two details differ:
- SQLite: WAL, foreign keys on, and writes start with `BEGIN IMMEDIATE` so that a transaction that reads and
  then writes waits for the lock instead of failing with SQLITE_BUSY under concurrency.
- PostgreSQL: row-level security. The tenant (`app.org_id`) is set per transaction with `set_config(…, true)`
  by the auth layer, so a pooled connection never carries one request's tenant into the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out, on SQLite (which has no time zones) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use the clock")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


WRITE_OPTION = "parley_write"
# A read that can take SQLite itself a long time runs in the driver's thread, not on the event loop (SQLite only;
# see kit/sqlite_driver.py).
OFFLOAD_OPTION = "parley_offload"


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        from parley.kit.sqlite_driver import DRIVER_NAME

        if parsed.get_driver_name() == "aiosqlite":  # same driver, one thread trip per statement
            url = parsed.set(drivername=DRIVER_NAME).render_as_string(hide_password=False)
        # No reset-on-return: every unit of work ends its transaction itself, so the pool's extra ROLLBACK on
        # each check-in would be a wasted round trip to the driver's thread on every request.
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_reset_on_return=None)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that BEGIN is ours (see module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: responses are built after the commit without reloading rows.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


# SQLite has one writer at a time. Writers that queue inside SQLite wait in its busy handler, which sleeps in
# steps of up to 100 ms, so under concurrency most of their time is spent asleep after the lock was freed. One
# asyncio lock per engine queues this process's writers instead, and hands the lock over at once.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _sqlite_writer_lock(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    bind = sessionmaker.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    lock = _SQLITE_WRITERS.get(bind.sync_engine)
    if lock is None:
        lock = _SQLITE_WRITERS[bind.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, write: bool = True
) -> AsyncIterator[AsyncSession]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    lock = _sqlite_writer_lock(sessionmaker) if write else None
    async with lock or contextlib.nullcontext(), sessionmaker() as session:
        await session.connection(execution_options={WRITE_OPTION: write})
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def set_pg_setting(session: AsyncSession, name: str, value: str) -> None:
    """Set a transaction-local setting read by the row-level security policies (no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


async def insert_ignoring_conflict(session: AsyncSession, table: Any, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING, in the dialect at hand (both SQLite and PostgreSQL support it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(table).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
