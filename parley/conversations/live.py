"""Live fan-out of conversation events to whoever holds the conversation open (a widget visitor's socket sees a
staff member take over and write). Embedded mode fans out inside this process; a scaled deployment uses
`RedisHub` (live_redis.py) or `PostgresHub` (live_postgres.py), so that a message posted on one server reaches a
socket held by another. Events are published after the change that caused them has committed.

Keys are arbitrary strings: a conversation id, or `org:<org_id>` for an organisation's inbox. `org_id` names the
tenant the event belongs to (remote hubs bind their encryption to it); it defaults to the one in an `org:` key.
A subscriber may receive `{"type": "resync"}`: live events may have been lost (the broker went away and came
back), so it reloads what it shows from the database."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

Event = dict[str, Any]


RESYNC: Event = {"type": "resync"}


class LiveHub(Protocol):
    async def publish(self, conversation_id: str, event: Event, *, org_id: str | None = None) -> None: ...

    def subscribe(self, conversation_id: str) -> Any:
        """An async context manager yielding an `asyncio.Queue` of the conversation's events."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def status(self) -> str:
        """ "ok", or why live events may not flow right now (for /readyz)."""
        ...


class InProcessHub:
    # Bounded queues: a socket that stops reading loses live events (it reloads the history on reconnect)
    # rather than letting memory grow.
    QUEUE_SIZE = 100

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = defaultdict(set)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    @property
    def status(self) -> str:
        return "ok"

    async def publish(self, conversation_id: str, event: Event, *, org_id: str | None = None) -> None:
        for queue in list(self._subscribers.get(conversation_id, ())):
            if queue.qsize() < self.QUEUE_SIZE:
                queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers[conversation_id].add(queue)
        try:
            yield queue
        finally:
            self._subscribers[conversation_id].discard(queue)
            if not self._subscribers[conversation_id]:
                del self._subscribers[conversation_id]
