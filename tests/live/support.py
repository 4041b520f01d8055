"""Helpers for the live fan-out tests: hubs on the real local Redis and PostgreSQL, each test on channels of
its own (a random prefix), so that runs sharing the broker never see each other's events."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

from parley.conversations.live_wire import Sealer
from parley.kit.keys import MasterKeys

REDIS_URL = "redis://127.0.0.1:6379/0"
MASTER = b"m" * 32


def sealer(master: bytes = MASTER, previous: tuple[bytes, ...] = ()) -> Sealer:
    return Sealer(MasterKeys(current=master, previous=previous))


def prefix() -> str:
    return f"parley-test:{uuid.uuid4().hex[:12]}:"


def master_key_setting() -> str:
    return base64.urlsafe_b64encode(MASTER).decode()


async def next_event(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    return await asyncio.wait_for(queue.get(), 5.0)


async def eventually(check: Any) -> None:
    """Waits until `check()` is true (reconnection runs in the background, with backoff): polling, because the
    state belongs to the hub, which offers no event to wait on."""
    async with asyncio.timeout(10.0):
        while not check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
