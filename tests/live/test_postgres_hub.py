"""PostgresHub against the real local PostgreSQL: LISTEN/NOTIFY between two hubs (two server processes' worth
of connections), sealed payloads, channel names that are valid identifiers whatever the key, events larger than
NOTIFY's 8000-byte limit, and a terminated LISTEN connection that comes back with a resync notice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import asyncpg
import pytest

from parley.conversations.live import RESYNC
from parley.conversations.live_postgres import MAX_CHUNKS, PAYLOAD_LIMIT, PostgresHub, asyncpg_dsn
from parley.settings import Settings
from tests.conftest import PG_URL
from tests.live.support import eventually, next_event, prefix, sealer

pytestmark = pytest.mark.postgres
TEXT = "Hi, this is Sam: your table for four is at 8 pm"


@pytest.fixture
async def hubs(settings: Settings) -> AsyncIterator[tuple[PostgresHub, PostgresHub]]:
    shared = prefix()
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            hub = PostgresHub(
                settings.effective_database_url, sealer(), shared, application_name=f"pt-{uuid.uuid4().hex[:10]}"
            )
            await hub.start()
            stack.push_async_callback(hub.close)
            assert hub.status == "ok", hub.status
            made.append(hub)
        yield made[0], made[1]


@pytest.fixture
async def admin() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(asyncpg_dsn(PG_URL))
    yield conn
    await conn.close()


async def test_an_event_published_by_one_process_reaches_subscribers_of_another(hubs, admin) -> None:
    a, b = hubs
    seen: list[str] = []
    await admin.add_listener(a.channel("cnv_1"), lambda *args: seen.append(args[-1]))  # what PostgreSQL carries
    event = {"type": "message", "message": {"role": "staff", "text": TEXT}}
    async with b.subscribe("cnv_1") as queue, b.subscribe("org:org_a") as inbox:
        await a.publish("cnv_1", event, org_id="org_a")
        await a.publish("org:org_a", {"type": "inbox", "text": TEXT})
        assert await next_event(queue) == event
        assert (await next_event(inbox))["text"] == TEXT
    await eventually(lambda: len(seen) == 1)
    assert "Sam" not in seen[0] and "message" not in seen[0]


async def test_channel_names_are_identifiers_whatever_the_key(hubs) -> None:
    a, b = hubs
    key = 'org:Ünïcode "quoted"; DROP TABLE x; ' + "k" * 200
    assert len(a.channel(key)) <= 63 and a.channel(key).isidentifier()
    async with b.subscribe(key) as queue:
        await a.publish(key, {"type": "released"}, org_id="org_a")
        assert await next_event(queue) == {"type": "released"}


async def test_events_beyond_the_notify_limit_arrive_whole_or_as_a_resync(hubs) -> None:
    a, b = hubs
    large = {"type": "message", "message": {"text": "é" * 30_000}}  # ~80 kB sealed and encoded: 11 chunks
    huge = {"type": "message", "message": {"text": "x" * (MAX_CHUNKS * PAYLOAD_LIMIT)}}
    async with b.subscribe("cnv_1") as queue:
        await a.publish("cnv_1", large, org_id="org_a")
        assert await next_event(queue) == large
        await a.publish("cnv_1", huge, org_id="org_a")
        assert await next_event(queue) == RESYNC  # not a cut-off event: the client reloads it from the database


async def test_a_terminated_listen_connection_comes_back_and_subscribers_resync(hubs, admin) -> None:
    a, b = hubs
    async with b.subscribe("cnv_1") as queue:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            b.application_name,
        )
        assert killed == 1
        await eventually(lambda: b.reconnects >= 1 and b.status == "ok")
        assert await next_event(queue) == RESYNC
        await a.publish("cnv_1", {"type": "released"}, org_id="org_a")
        assert await next_event(queue) == {"type": "released"}


async def test_publishing_goes_on_after_the_publisher_connection_is_terminated(hubs, admin) -> None:
    a, b = hubs
    async with b.subscribe("cnv_1") as queue:
        await a.publish("cnv_1", {"type": "message", "n": 0}, org_id="org_a")
        assert (await next_event(queue))["n"] == 0
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            a.application_name + "-publish",
        )
        for n in range(1, 4):
            await a.publish("cnv_1", {"type": "message", "n": n}, org_id="org_a")
        got = []
        async with asyncio.timeout(5):
            while not got or got[-1]["n"] != 3:
                got.append(await queue.get())
        assert len(got) >= 2


async def test_health_checks_and_subscriptions_share_the_listen_connection_safely(hubs, settings) -> None:
    a, _ = hubs
    b = PostgresHub(settings.effective_database_url, sealer(), a.prefix)
    b.HEALTH_CHECK_SECONDS = 0.005  # a health query on the LISTEN connection all the time
    await b.start()
    try:
        async with asyncio.timeout(20):
            for n in range(100):
                async with b.subscribe(f"cnv_{n}") as queue:
                    await a.publish(f"cnv_{n}", {"type": "released"}, org_id="org_a")
                    assert await next_event(queue) == {"type": "released"}
        assert b.reconnects == 0 and b.status == "ok"
    finally:
        await b.close()
