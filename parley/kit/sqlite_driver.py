"""SQLite for asyncio with one trip to the driver's thread per statement.

aiosqlite runs each SQLite connection in a thread of its own; SQLAlchemy's adapter for it makes four trips to
that thread per statement (open a cursor, execute, fetch, close), and each trip costs a queue hand-off and an
event-loop wake-up — far more than SQLite itself spends on a typical indexed query. This adapter does the
four steps in one function, run once in the connection's thread, so a request that runs two queries makes
four trips (BEGIN, two statements, COMMIT) instead of twelve. Everything else — the thread, the locking, the
SQL — is aiosqlite's and SQLAlchemy's own. Used for `sqlite+aiosqlite` URLs by `kit.db.create_engine`.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER_NAME = "sqlite+parley"

_Result = tuple[Any, list[Any], int, int | None]


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
    __slots__ = ("_done_description", "_done_lastrowid", "_done_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no driver cursor: statements bring their own
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._done_description: Any = None
        self._done_rowcount = -1
        self._done_lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._done_description

    @property
    def rowcount(self) -> int:
        return self._done_rowcount

    @property
    def lastrowid(self) -> Any:
        return self._done_lastrowid

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            connection = self._connection
            result: _Result = await connection._execute(_run, connection._conn, operation, parameters, many)
        self._done_description, rows, self._done_rowcount, self._done_lastrowid = result
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _OneTripCursor


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy's adapter does: never keep the process alive
        return _Connection(self, await_(connection))


class ParleySQLiteDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True  # SQL compilation is the parent's, unchanged, so its cache applies

    @classmethod
    def import_dbapi(cls) -> _Dbapi:
        return _Dbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register("sqlite.parley", "parley.kit.sqlite_driver", "ParleySQLiteDialect")
