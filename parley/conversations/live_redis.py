"""Live fan-out through Redis pub/sub: one channel per key (`<prefix><key>`), and one subscription connection
per process, subscribed to the channels that someone in this process listens to (reference-counted by
RemoteHub). Publishing goes through the client's connection pool.

The client never retries on its own: redis-py would otherwise reconnect and resubscribe silently, and the
events lost meanwhile would go unnoticed; RemoteHub reconnects instead and tells subscribers to resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from parley.conversations.live_remote import RemoteHub
from parley.conversations.live_wire import Sealer

ACK_TIMEOUT_SECONDS = 5.0


class RedisHub(RemoteHub):
    backend = "redis"

    def __init__(self, url: str, sealer: Sealer, prefix: str = "parley:live:", client_name: str = "") -> None:
        super().__init__(sealer, prefix)
        self.url = url
        # Shows in CLIENT LIST, so an operator can tell which server process a connection belongs to.
        self.client_name = client_name or f"parley-live-{os.getpid()}"
        self._client: Redis = self._new_client()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[str, list[asyncio.Future[None]]] = {}

    def _new_client(self) -> Redis:
        return Redis.from_url(
            self.url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            client_name=self.client_name,
            # A broker that vanishes without closing the connection is noticed by TCP keepalive (~25 s). Not by
            # redis-py's health_check_interval: its PING from subscribe() reads the reply itself, concurrently
            # with the reader task on the same connection.
            socket_keepalive=True,
            socket_keepalive_options={socket.TCP_KEEPIDLE: 10, socket.TCP_KEEPINTVL: 5, socket.TCP_KEEPCNT: 3},
        )

    def channel(self, key: str) -> str:
        return self.prefix + key

    async def _send(self, channel: str, frame: bytes) -> None:
        await self._client.publish(channel, frame)

    async def _connect(self) -> None:
        self._pubsub = self._client.pubsub()
        await self._pubsub.connect()  # type: ignore[no-untyped-call]
        self._reader = asyncio.create_task(self._read(self._pubsub))

    async def _listen(self, channels: list[str]) -> None:
        assert self._pubsub is not None
        loop = asyncio.get_running_loop()
        acks: list[asyncio.Future[None]] = []
        for channel in channels:
            ack: asyncio.Future[None] = loop.create_future()
            self._acks.setdefault(channel, []).append(ack)
            acks.append(ack)
        await self._pubsub.subscribe(*channels)
        # Redis has applied the SUBSCRIBE once it says so: only then is a publish from another process certain
        # to reach us.
        await asyncio.wait_for(asyncio.gather(*acks), ACK_TIMEOUT_SECONDS)

    async def _unlisten(self, channel: str) -> None:
        assert self._pubsub is not None
        await self._pubsub.unsubscribe(channel)

    async def _until_lost(self) -> None:
        assert self._reader is not None
        await self._reader
        raise ConnectionError("the Redis subscription ended")

    async def _read(self, pubsub: PubSub) -> None:
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(timeout=1.0)
            if message is None:
                continue
            channel = message["channel"].decode()
            if message["type"] == "message":
                self._deliver(channel, message["data"])
            elif message["type"] == "subscribe":
                for ack in self._acks.pop(channel, []):
                    if not ack.done():
                        ack.set_result(None)

    async def _disconnect(self) -> None:
        reader, self._reader = self._reader, None
        pubsub, self._pubsub = self._pubsub, None
        for acks in self._acks.values():
            for ack in acks:
                if not ack.done():
                    ack.set_exception(ConnectionError("the Redis connection was lost"))
        self._acks.clear()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _close_publisher(self) -> None:
        await self._client.aclose()
