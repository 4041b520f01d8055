"""What the Redis and PostgreSQL hubs share: local subscribers with bounded queues, one broker channel per key
listened to while this process has at least one subscriber for it, and a supervisor that keeps one broker
connection up, reconnecting with capped exponential backoff.

A broker that goes away takes the events published meanwhile with it. Subscribers keep their queues across the
outage; once the connection and every channel are back, each of them receives `{"type": "resync"}` so the
client reloads what it shows from the database (the source of truth), and nothing is silently missed.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from parley.conversations.live import RESYNC, Event
from parley.conversations.live_wire import Sealer, org_of
from parley.kit.crypto import DecryptionError

log = logging.getLogger("parley.live")


class RemoteHub(abc.ABC):
    QUEUE_SIZE = 100  # as InProcessHub: a reader that stops reading loses events, memory does not grow
    BACKOFF_MIN_SECONDS = 0.1
    BACKOFF_MAX_SECONDS = 5.0
    backend = "remote"

    def __init__(self, sealer: Sealer, prefix: str) -> None:
        self.sealer = sealer
        self.prefix = prefix
        self._subscribers: dict[str, set[asyncio.Queue[Event]]] = {}  # by channel
        self._keys: dict[str, str] = {}  # channel -> key
        self._listening: set[str] = set()  # channels the broker connection is subscribed to
        self._lock = asyncio.Lock()  # serialises (un)listening with reconnection
        self._connected = asyncio.Event()
        self._trouble = asyncio.Event()  # a (un)subscribe failed: reconnect, and resubscribe everything
        self._supervisor: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self.reconnects = 0
        self.dropped = 0  # frames that did not open (tampered, foreign) or queues that were full
        self.last_error = ""

    # --- what a broker implements -------------------------------------------------------------------------

    @abc.abstractmethod
    def channel(self, key: str) -> str: ...

    @abc.abstractmethod
    async def _connect(self) -> None:
        """Open the subscription connection and subscribe it to `channels`."""

    @abc.abstractmethod
    async def _listen(self, channels: list[str]) -> None: ...

    @abc.abstractmethod
    async def _unlisten(self, channel: str) -> None: ...

    @abc.abstractmethod
    async def _until_lost(self) -> None:
        """Read (and `_deliver`) until the connection breaks, then raise."""

    @abc.abstractmethod
    async def _disconnect(self) -> None: ...

    @abc.abstractmethod
    async def _send(self, channel: str, frame: bytes) -> None: ...

    @abc.abstractmethod
    async def _close_publisher(self) -> None: ...

    # --- the hub --------------------------------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self._supervisor is None:
            return "stopped"
        return "ok" if self._connected.is_set() else f"reconnecting ({self.last_error or 'connecting'})"

    async def start(self, *, wait_seconds: float = 5.0) -> None:
        """Starts the connection supervisor; waits a little for the first connection, but a broker that is down
        at startup does not stop the server (it keeps retrying, /readyz says so)."""
        if self._supervisor is not None:
            return
        self._supervisor = asyncio.create_task(self._supervise(), name=f"live-{self.backend}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), wait_seconds)

    async def close(self) -> None:
        tasks = [t for t in (self._supervisor, *self._chores) if t is not None]
        self._supervisor = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._connected.clear()
        with contextlib.suppress(Exception):
            await self._disconnect()
        with contextlib.suppress(Exception):
            await self._close_publisher()

    async def publish(self, conversation_id: str, event: Event, *, org_id: str | None = None) -> None:
        channel = self.channel(conversation_id)
        frame = self.sealer.seal(conversation_id, org_of(conversation_id, org_id), event)
        try:
            await self._send(channel, frame)
        except Exception as exc:
            # Called after commit, from a background task: the change is saved, only its live echo is lost
            # (subscribers get a resync once the broker is back). Never fail the caller for it.
            log.warning("live event not published (%s: %s)", type(exc).__name__, exc)

    @asynccontextmanager
    async def subscribe(self, conversation_id: str) -> AsyncIterator[asyncio.Queue[Event]]:
        channel = self.channel(conversation_id)
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._subscribers.setdefault(channel, set()).add(queue)
        self._keys[channel] = conversation_id
        try:
            await self._sync(channel)  # listening before we return: a publish right after is not missed
            yield queue
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[channel]
                    self._keys.pop(channel, None)
                    # Unlisten in the background: this may run in a cancelled task.
                    chore = asyncio.create_task(self._sync(channel))
                    self._chores.add(chore)
                    chore.add_done_callback(self._chores.discard)

    async def _sync(self, channel: str) -> None:
        """Makes the broker subscription of `channel` match whether anyone here listens to it."""
        async with self._lock:
            want, have = channel in self._subscribers, channel in self._listening
            if not self._connected.is_set() or want == have:
                return  # while disconnected, reconnection subscribes to whatever is wanted then
            try:
                if want:
                    await self._listen([channel])
                    self._listening.add(channel)
                else:
                    self._listening.discard(channel)
                    await self._unlisten(channel)
            except Exception as exc:
                # The subscription state is unknown now: start over on a new connection (and resync).
                log.warning("live (un)subscribe failed (%s: %s)", type(exc).__name__, exc)
                self._trouble.set()

    def _deliver(self, channel: str, frame: bytes) -> None:
        key = self._keys.get(channel)
        subscribers = self._subscribers.get(channel)
        if key is None or not subscribers:
            return
        try:
            _, event = self.sealer.open(key, frame)
        except (DecryptionError, ValueError) as exc:
            self.dropped += 1
            log.warning("live frame dropped on %s: %s", channel, exc)
            return
        self._fan_out(subscribers, event)

    def _fan_out(self, subscribers: set[asyncio.Queue[Event]], event: Event) -> None:
        for queue in list(subscribers):
            if queue.qsize() < self.QUEUE_SIZE:
                queue.put_nowait(dict(event))
            else:
                self.dropped += 1

    async def _watch(self) -> None:
        """Returns never: raises when the connection is lost or a (un)subscribe failed on it."""
        self._trouble.clear()
        lost = asyncio.create_task(self._until_lost())
        trouble = asyncio.create_task(self._trouble.wait())
        try:
            done, _ = await asyncio.wait({lost, trouble}, return_when=asyncio.FIRST_COMPLETED)
            if lost in done:
                lost.result()
            raise ConnectionError("a subscription change failed on the connection")
        finally:
            for task in (lost, trouble):
                task.cancel()
            for task in (lost, trouble):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _supervise(self) -> None:
        delay = self.BACKOFF_MIN_SECONDS
        lost = False
        while True:
            try:
                async with self._lock:
                    wanted = list(self._subscribers)
                    await self._connect()
                    if wanted:
                        await self._listen(wanted)
                    self._listening = set(wanted)
                    self._connected.set()
                if lost:
                    self.reconnects += 1
                    log.warning("live %s connection restored; subscribers resync", self.backend)
                    for subscribers in list(self._subscribers.values()):
                        self._fan_out(subscribers, RESYNC)
                delay = self.BACKOFF_MIN_SECONDS
                self.last_error = ""
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"[:200]
                log.warning("live %s connection lost (%s); retrying in %.1fs", self.backend, self.last_error, delay)
            self._connected.clear()
            self._listening = set()
            lost = True
            with contextlib.suppress(Exception):
                await self._disconnect()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not a secret)
            delay = min(delay * 2, self.BACKOFF_MAX_SECONDS)
