"""SQLite for asyncio: read transactions run on the event loop, anything that can wait runs in a thread.

aiosqlite runs each SQLite connection in a thread of its own; SQLAlchemy's adapter for it makes four trips to
that thread per statement (open a cursor, execute, fetch, close), and each trip costs a queue hand-off and an
event-loop wake-up: measured here at about 90 µs of the loop's CPU per trip, ten times what SQLite spends on
an indexed lookup. This adapter makes at most one trip per statement, and none at all where a trip buys nothing:

- In WAL mode a reader never waits for a lock, so a *read* transaction (`BEGIN`, its SELECTs, `COMMIT`) runs
  directly on the event loop's thread: an indexed query there costs tens of microseconds, less than the trip.
  A query that is slow in SQLite itself (a full-text search over a large knowledge base) opts back into the
  thread with the execution option `parley_offload=True`, so it does not stall other requests.
- A *write* transaction starts with `BEGIN IMMEDIATE`, which may wait (up to the busy timeout) for another
  writer; it and every statement up to its COMMIT or ROLLBACK (which may checkpoint the WAL) run in the
  connection's thread, one trip per statement (execute and fetch together). Any statement other than a
  SELECT turns the transaction it is in into such a one, so a stray write in a transaction begun as a read
  waits for the lock in the thread too, never on the loop.

The two never overlap on one connection: SQLAlchemy runs one statement at a time per connection, and the
thread path holds aiosqlite's mutex. Everything else — the thread, the SQL — is aiosqlite's and SQLAlchemy's
own. Used for `sqlite+aiosqlite` URLs by `kit.db.create_engine`.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from parley.kit.db import OFFLOAD_OPTION

DRIVER_NAME = "sqlite+parley"

_Result = tuple[Any, list[Any], int, int | None]
_INLINE_STATEMENTS = ("SELECT", "BEGIN")  # statements that never wait for a lock in WAL mode


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Result:
    """Runs in the connection's thread: the whole statement, start to finish."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_done_description", "_done_lastrowid", "_done_rowcount", "offload")

    def __init__(self, adapt_connection: Any) -> None:  # no driver cursor: statements bring their own
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._done_description: Any = None
        self._done_rowcount = -1
        self._done_lastrowid: int | None = None
        self.offload = False  # set by the dialect from the statement's execution options

    @property
    def description(self) -> Any:
        return self._done_description

    @property
    def rowcount(self) -> int:
        return self._done_rowcount

    @property
    def lastrowid(self) -> Any:
        return self._done_lastrowid

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        adapt = cast(_Connection, self._adapt_connection)
        if operation == "BEGIN":
            adapt.writing = False  # a new read transaction (statements before it ran outside any transaction)
        elif not operation.startswith(_INLINE_STATEMENTS) or operation.startswith("BEGIN IMMEDIATE"):
            # A statement that may write can wait for the lock (even in a transaction begun as a read): it,
            # and the rest of its transaction, go through the thread.
            adapt.writing = True
        if adapt.writing or self.offload or adapt._execute_mutex.locked():
            return super().execute(operation, parameters)
        try:
            # Through `await_` although nothing is awaited: SQLAlchemy's async engine checks that a statement
            # passed through the event loop, and the hand-over costs a greenlet switch, not a thread trip.
            await_(self._inline(operation, parameters))
        except Exception as error:
            adapt._handle_exception(error)

    async def _inline(self, operation: Any, parameters: Any) -> None:
        self._finish(_run(self._connection._conn, operation, parameters, False))

    def _finish(self, result: _Result) -> None:
        self._done_description, rows, self._done_rowcount, self._done_lastrowid = result
        self._rows = collections.deque(rows)

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            result: _Result = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._finish(result)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("writing",)
    _cursor_cls = _OneTripCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.writing = False  # inside a BEGIN IMMEDIATE transaction: every step goes through the thread

    def commit(self) -> None:
        self._end(commit=True)

    def rollback(self) -> None:
        self._end(commit=False)

    def _end(self, *, commit: bool) -> None:
        if not self._connection._connection:
            return
        if self.writing:
            try:
                super().commit() if commit else super().rollback()
            finally:
                self.writing = False
            return
        try:
            await_(self._end_inline(commit=commit))
        except Exception as error:
            self._handle_exception(error)

    async def _end_inline(self, *, commit: bool) -> None:
        raw = self._connection._conn
        raw.commit() if commit else raw.rollback()


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        # The connection is used from the event loop's thread too (read transactions, see above).
        kw["check_same_thread"] = False
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does: never keep the process alive
        return _Connection(self, await_(connection))


class ParleySQLiteDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True  # SQL compilation is the parent's, unchanged, so its cache applies

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        cursor.offload = bool(context is not None and context.execution_options.get(OFFLOAD_OPTION))
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    @classmethod
    def import_dbapi(cls) -> _Dbapi:
        return _Dbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register("sqlite.parley", "parley.kit.sqlite_driver", "ParleySQLiteDialect")
