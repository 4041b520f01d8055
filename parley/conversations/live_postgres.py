"""Live fan-out through PostgreSQL LISTEN/NOTIFY, for scaled deployments without Redis.

- One dedicated asyncpg connection per process LISTENs to the channels someone here listens to; publishing uses
  a small pool of its own (NOTIFY needs no table and no privilege, so the app role will do).
- Channel names must be identifiers of at most 63 bytes, and keys are arbitrary strings: a channel is
  `parley_` + a hash of prefix and key.
- A NOTIFY payload holds at most 8000 bytes. A sealed event is base64 text; a longer one is sent as numbered
  chunks by NOTIFYs of one transaction (delivered together, in order, at commit) and reassembled here. Beyond
  MAX_CHUNKS the event is not sent: subscribers receive a resync instead, and reload it from the database.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import time
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from parley.conversations.live import RESYNC
from parley.conversations.live_remote import RemoteHub
from parley.conversations.live_wire import Sealer, org_of

PAYLOAD_LIMIT = 7900  # PostgreSQL's is 8000 bytes; a chunk header fits in the difference
MAX_CHUNKS = 32  # ~250 kB of event
PARTIAL_TTL_SECONDS = 30.0


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy URL (`postgresql+asyncpg://…`) as a libpq DSN asyncpg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def split(frame: bytes) -> list[str]:
    """`<id>:<index>:<count>:<base64 part>` payloads, each within PostgreSQL's limit."""
    text = base64.b64encode(frame).decode()
    size = PAYLOAD_LIMIT - 40
    parts = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    message_id = os.urandom(8).hex()
    return [f"{message_id}:{i}:{len(parts)}:{part}" for i, part in enumerate(parts)]


class PostgresHub(RemoteHub):
    backend = "postgres"
    HEALTH_CHECK_SECONDS = 10.0

    def __init__(
        self, url: str, sealer: Sealer, prefix: str = "parley:live:", application_name: str = "parley-live"
    ) -> None:
        super().__init__(sealer, prefix)
        self.dsn = asyncpg_dsn(url)
        # Shows in pg_stat_activity, so an operator can tell the listening connection from the app's pool.
        self.application_name = application_name
        self._conn: asyncpg.Connection | None = None
        self._lost: asyncio.Future[None] | None = None
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._partial: dict[str, tuple[float, list[str | None]]] = {}

    def channel(self, key: str) -> str:
        return "parley_" + hashlib.sha256(f"{self.prefix}{key}".encode()).hexdigest()[:40]

    # --- publishing -------------------------------------------------------------------------------------

    async def publish(self, conversation_id: str, event: dict[str, Any], *, org_id: str | None = None) -> None:
        frame = self.sealer.seal(conversation_id, org_of(conversation_id, org_id), event)
        if len(split(frame)) > MAX_CHUNKS:
            # Too large to carry: subscribers are told to reload instead of receiving a cut-off event.
            event = RESYNC
        await super().publish(conversation_id, event, org_id=org_id)

    async def _send(self, channel: str, frame: bytes) -> None:
        pool = await self._publisher()
        payloads = split(frame)
        async with pool.acquire() as conn:
            if len(payloads) == 1:
                await conn.execute("SELECT pg_notify($1, $2)", channel, payloads[0])
                return
            async with conn.transaction():
                for payload in payloads:
                    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def _publisher(self) -> asyncpg.Pool:
        async with self._pool_lock:
            if self._pool is None:
                # min_size=0: no connection is held open before the first event; a broken one is replaced.
                self._pool = await asyncpg.create_pool(
                    self.dsn,
                    min_size=0,
                    max_size=4,
                    timeout=5,
                    server_settings={"application_name": self.application_name + "-publish"},
                )
            return self._pool

    async def _close_publisher(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    # --- listening --------------------------------------------------------------------------------------

    async def _connect(self) -> None:
        self._lost = asyncio.get_running_loop().create_future()
        self._conn = await asyncpg.connect(
            self.dsn, timeout=5, server_settings={"application_name": self.application_name}
        )
        self._conn.add_termination_listener(self._terminated)

    def _terminated(self, _conn: object) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def _listen(self, channels: list[str]) -> None:
        assert self._conn is not None
        for channel in channels:
            await self._conn.add_listener(channel, self._notified)

    async def _unlisten(self, channel: str) -> None:
        assert self._conn is not None
        await self._conn.remove_listener(channel, self._notified)

    async def _until_lost(self) -> None:
        assert self._lost is not None and self._conn is not None
        while True:
            # asyncpg reports a server-side termination through the listener; a silently dead network is
            # noticed by a periodic query.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._lost), self.HEALTH_CHECK_SECONDS)
                raise ConnectionError("the LISTEN connection was closed")
            async with self._lock:  # the connection runs one query at a time: not during a LISTEN
                await asyncio.wait_for(self._conn.execute("SELECT 1"), 5)

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        self._partial.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        frame = self._reassemble(payload)
        if frame is not None:
            self._deliver(channel, frame)

    def _reassemble(self, payload: str) -> bytes | None:
        try:
            message_id, index_text, count_text, part = payload.split(":", 3)
            index, count = int(index_text), int(count_text)
            if not 0 <= index < count <= MAX_CHUNKS:
                raise ValueError("chunk out of range")
            if count == 1:
                return base64.b64decode(part, validate=True)
            now = time.monotonic()
            for stale in [k for k, (at, _) in self._partial.items() if now - at > PARTIAL_TTL_SECONDS]:
                del self._partial[stale]
            _, parts = self._partial.setdefault(message_id, (now, [None] * count))
            if len(parts) != count:
                raise ValueError("inconsistent chunk count")
            parts[index] = part
            if any(p is None for p in parts):
                return None
            del self._partial[message_id]
            return base64.b64decode("".join(p or "" for p in parts), validate=True)
        except ValueError:
            self.dropped += 1
            return None
