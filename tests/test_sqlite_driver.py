"""The SQLite driver's split: read transactions on the event loop's thread, anything that can wait in a thread.

A SQLite function that records the thread it is called from tells where each statement really ran.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from parley.kit.db import OFFLOAD_OPTION, scrub, unit_of_work
from parley.runtime import Runtime
from parley.settings import Settings

pytestmark = pytest.mark.sqlite  # the SQLite driver itself; deselected in the PostgreSQL pass

WHERE = text("SELECT where_am_i()")


async def _install_probe(runtime: Runtime) -> list[int]:
    """Registers `where_am_i()` on every pooled connection the test will use; returns the thread-id log."""
    seen: list[int] = []

    def where_am_i() -> int:
        seen.append(threading.get_ident())
        return 1

    from sqlalchemy import event

    @event.listens_for(runtime.engine.sync_engine, "checkout")
    def _register(dbapi_connection, _record, _proxy) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.driver_connection._conn.create_function("where_am_i", 0, where_am_i)

    return seen


async def test_a_read_transaction_runs_on_the_event_loop_thread(runtime: Runtime) -> None:
    seen = await _install_probe(runtime)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        assert await db.scalar(WHERE) == 1
        assert await db.scalar(WHERE, execution_options={OFFLOAD_OPTION: True}) == 1
    loop_thread = threading.get_ident()
    assert seen[0] == loop_thread
    assert seen[1] != loop_thread, "an offloaded read runs in the connection's thread"


async def test_a_write_transaction_runs_every_statement_in_the_connection_thread(runtime: Runtime) -> None:
    seen = await _install_probe(runtime)
    async with unit_of_work(runtime.sessionmaker, write=True) as db:
        await db.scalar(WHERE)
        await db.execute(text("CREATE TEMP TABLE scratch (x)"))
        await db.scalar(WHERE)
    assert seen and all(t != threading.get_ident() for t in seen)
    # After the write transaction's COMMIT the same connection is back to inline reads.
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await db.scalar(WHERE)
    assert seen[-1] == threading.get_ident()


async def test_a_write_in_a_transaction_begun_as_a_read_goes_to_the_thread(runtime: Runtime) -> None:
    seen = await _install_probe(runtime)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await db.scalar(WHERE)
        await db.execute(text("UPDATE alembic_version SET version_num = version_num"))
        await db.scalar(WHERE)
    assert seen[0] == threading.get_ident()
    assert seen[1] != threading.get_ident(), "after a write, the transaction stays in the thread until its end"


async def test_a_waiting_writer_does_not_stall_the_event_loop_and_readers_go_on(runtime: Runtime) -> None:
    """One writer holds the lock; a second writer waits for it in its thread. Meanwhile the loop keeps
    ticking and a read transaction (WAL) completes inline."""
    holder_has_lock = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with unit_of_work(runtime.sessionmaker, write=True) as db:
            await db.execute(text("UPDATE alembic_version SET version_num = version_num"))
            holder_has_lock.set()
            await release.wait()

    async def waiter() -> str:
        await holder_has_lock.wait()
        async with unit_of_work(runtime.sessionmaker, write=True) as db:
            return str(await db.scalar(text("SELECT 'second writer got the lock'")))

    holding = asyncio.create_task(holder())
    waiting = asyncio.create_task(waiter())
    await holder_has_lock.wait()
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.005)
        ticks += 1
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        assert await db.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    assert not waiting.done(), "the second writer is still waiting for the lock"
    release.set()
    await holding
    assert await asyncio.wait_for(waiting, 5) == "second writer got the lock"
    assert ticks == 20


async def test_errors_on_the_inline_path_are_the_usual_errors_and_roll_back(runtime: Runtime) -> None:
    with pytest.raises(OperationalError):
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await db.execute(text("SELECT * FROM no_such_table"))
    # The connection went back to the pool clean: the next read transaction works.
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        assert await db.scalar(text("SELECT 1")) == 1
    with pytest.raises(IntegrityError):
        async with unit_of_work(runtime.sessionmaker, write=True) as db:
            await db.execute(text("INSERT INTO alembic_version (version_num) SELECT version_num FROM alembic_version"))
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        assert await db.scalar(text("SELECT count(*) FROM alembic_version")) == 1


async def test_core_connections_work_on_the_inline_path(runtime: Runtime) -> None:
    """SQLAlchemy's async Core API insists that a statement passed through the loop; the inline path must
    satisfy it (it failed with AwaitRequired before)."""
    async with runtime.engine.connect() as conn:
        assert await conn.scalar(text("SELECT 41 + 1")) == 42


async def test_deleted_rows_leave_the_database_file(runtime: Runtime, settings: Settings) -> None:
    """secure_delete zeroes a deleted row in its page; `scrub` moves the log's old page images out."""
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT)"))
        for i in range(20):
            await db.execute(text("INSERT INTO scratch (v) VALUES (:v)"), {"v": f"keep-{i:03d}-" + "x" * 40})
        await db.execute(text("INSERT INTO scratch (v) VALUES ('ERASE-ME-ZEBRA-4471')"))
    assert await scrub(runtime.engine)
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(text("DELETE FROM scratch WHERE v = 'ERASE-ME-ZEBRA-4471'"))
    assert await scrub(runtime.engine)
    on_disk = b"".join(p.read_bytes() for p in settings.data_dir.glob("parley.db*"))
    assert b"keep-019" in on_disk
    assert b"ERASE-ME-ZEBRA-4471" not in on_disk
