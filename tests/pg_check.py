"""`python -m tests.pg_check URL`: fail clearly, before pytest starts, when PostgreSQL is not reachable."""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


async def _check(url: str) -> None:
    engine = create_async_engine(url + "/postgres", poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    await engine.dispose()


def main() -> int:
    url = sys.argv[1]
    try:
        asyncio.run(asyncio.wait_for(_check(url), timeout=10))
    except Exception as exc:
        print(
            f"PostgreSQL is not reachable at {url} ({exc}).\n"
            "The suite runs on SQLite and PostgreSQL; start PostgreSQL (trust auth for user postgres on "
            "127.0.0.1), or point PG_ADMIN_URL at one. `make test-sqlite` runs the SQLite half alone.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
