"""RedisHub against the real local Redis (127.0.0.1:6379; `.ci/run` starts it): events cross from one hub (one
server process's worth of connections) to another, sealed; one Redis subscription per channel per process;
a killed connection comes back and subscribers are told to resync. Without Redis these fail, never skip."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis

from parley.conversations.live import RESYNC
from parley.conversations.live_redis import RedisHub
from tests.live.support import REDIS_URL, eventually, next_event, prefix, sealer

TEXT = "Hi, this is Sam: your table for four is at 8 pm"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    assert await client.ping(), "Redis must run on 127.0.0.1:6379 (.ci/run starts it)"
    yield client
    await client.aclose()


@pytest.fixture
async def hubs() -> AsyncIterator[tuple[RedisHub, RedisHub]]:
    """Two hubs on the same channels: what two server processes hold."""
    shared = prefix()
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            hub = RedisHub(REDIS_URL, sealer(), shared, client_name=f"parley-test-{uuid.uuid4().hex[:10]}")
            await hub.start()
            stack.push_async_callback(hub.close)
            assert hub.status == "ok", hub.status
            made.append(hub)
        yield made[0], made[1]


async def test_an_event_published_by_one_process_reaches_subscribers_of_another(hubs, redis: Redis) -> None:
    a, b = hubs
    event = {"type": "message", "message": {"role": "staff", "text": TEXT}}
    async with b.subscribe("cnv_1") as queue, b.subscribe("org:org_a") as inbox:
        async with redis.pubsub() as spy:  # what Redis (and anyone reading it) sees
            await spy.subscribe(a.channel("cnv_1"))
            await spy.get_message(timeout=1)
            await a.publish("cnv_1", event, org_id="org_a")
            await a.publish("org:org_a", {"type": "inbox", "text": TEXT})
            assert await next_event(queue) == event
            assert (await next_event(inbox))["text"] == TEXT
            raw = await spy.get_message(timeout=2)
            assert raw is not None and raw["type"] == "message"
            assert raw["data"].startswith(b"org_a.") and TEXT.encode() not in raw["data"]
            assert b"Sam" not in raw["data"] and b"message" not in raw["data"]
        assert queue.empty() and inbox.empty()


async def test_a_frame_forged_or_replayed_onto_another_channel_is_dropped(hubs, redis: Redis) -> None:
    a, b = hubs
    async with b.subscribe("cnv_victim") as queue:
        # Sealed for another conversation, then pushed onto this one's channel: it must not open here.
        await redis.publish(b.channel("cnv_victim"), a.sealer.seal("cnv_other", "org_a", {"type": "message"}))
        await redis.publish(b.channel("cnv_victim"), b"org_a.garbage")
        await eventually(lambda: b.dropped == 2)
        await a.publish("cnv_victim", {"type": "released"}, org_id="org_a")
        assert await next_event(queue) == {"type": "released"}


async def test_one_redis_subscription_per_channel_per_process(hubs, redis: Redis) -> None:
    _, b = hubs
    channel = b.channel("cnv_busy")

    async def subscriptions() -> int:
        counts = await redis.pubsub_numsub(channel)
        return int(counts[0][1])

    async with b.subscribe("cnv_busy"), b.subscribe("cnv_busy"), b.subscribe("cnv_busy"):
        assert await subscriptions() == 1
    async with asyncio.timeout(5):
        while await subscriptions() != 0:  # noqa: ASYNC110 (the last one out unsubscribes, in the background)
            await asyncio.sleep(0.02)


async def test_a_killed_connection_comes_back_and_subscribers_resync(hubs, redis: Redis) -> None:
    a, b = hubs
    async with b.subscribe("cnv_1") as queue:
        assert await _kill(redis, b.client_name, pubsub=True) == 1
        await eventually(lambda: b.reconnects >= 1 and b.status == "ok")
        assert await next_event(queue) == RESYNC
        await a.publish("cnv_1", {"type": "released"}, org_id="org_a")
        assert await next_event(queue) == {"type": "released"}


async def _kill(redis: Redis, name: str, *, pubsub: bool) -> int:
    """CLIENT KILL of one hub's connections (by id: other runs may share this Redis)."""
    killed = 0
    for client in await redis.client_list():
        if client["name"] == name and ("P" in client["flags"]) == pubsub:
            killed += await redis.client_kill_filter(_id=client["id"])
    return killed


async def test_publishing_goes_on_after_the_publisher_connection_is_killed(hubs, redis: Redis) -> None:
    a, b = hubs
    async with b.subscribe("cnv_1") as queue:
        await a.publish("cnv_1", {"type": "message", "n": 0}, org_id="org_a")
        assert (await next_event(queue))["n"] == 0
        assert await _kill(redis, a.client_name, pubsub=False) >= 1
        # The pool notices the dead idle connection and opens another; at most the first event is lost.
        for n in range(1, 4):
            await a.publish("cnv_1", {"type": "message", "n": n}, org_id="org_a")
        got = []
        async with asyncio.timeout(5):
            while not got or got[-1]["n"] != 3:
                got.append(await queue.get())
        assert len(got) >= 2 and b.status == "ok"


async def test_queues_are_bounded_like_the_in_process_hub(hubs) -> None:
    a, b = hubs
    async with b.subscribe("cnv_slow") as queue:
        for n in range(b.QUEUE_SIZE + 20):
            await a.publish("cnv_slow", {"type": "message", "n": n}, org_id="org_a")
        await eventually(lambda: b.dropped >= 20)
        assert queue.qsize() == b.QUEUE_SIZE


async def test_without_redis_publishing_does_not_fail_and_readiness_says_why() -> None:
    hub = RedisHub("redis://127.0.0.1:1/0", sealer(), prefix())
    await hub.start(wait_seconds=0.3)
    try:
        assert hub.status.startswith("reconnecting (ConnectionError")
        await hub.publish("cnv_1", {"type": "released"}, org_id="org_a")  # logged, not raised
        async with hub.subscribe("cnv_1") as queue:  # waits for the broker rather than failing the socket
            assert queue.empty()
    finally:
        await hub.close()
    assert hub.status == "stopped"
