"""Two real server processes on one PostgreSQL database: a staff member writes through process A, and the
visitor's widget socket, held by process B, receives the takeover and the message live — through Redis, or
through PostgreSQL LISTEN/NOTIFY. With the in-process hub it would not (shown as the control)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.support import SITE, make_widget_agent, new_visitor
from tests.factories import bearer, make_token
from tests.live.servers import ServerProcess, server_env
from tests.live.support import REDIS_URL, prefix

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["redis", "postgres", "inprocess"])
def pair(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    live = {"live_backend": request.param, "redis_url": REDIS_URL, "live_channel_prefix": prefix()}
    request.node.backend = request.param
    servers = [ServerProcess(server_env(settings, tmp_path / name, **live)) for name in ("a", "b")]
    try:
        for server in servers:
            assert server.wait_ready()["live"] == "ok"
        yield servers
    finally:
        for server in servers:
            server.stop()


async def _until(ws: ClientConnection, last: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(15):
        while not events or events[-1]["type"] != last:
            events.append(json.loads(await ws.recv()))
    return events


async def test_a_staff_message_posted_to_one_process_reaches_a_socket_on_another(
    client: httpx.AsyncClient, runtime: Runtime, pair: list[ServerProcess], request: pytest.FixtureRequest
) -> None:
    a, b = pair
    agent = await make_widget_agent(client, runtime)
    staff = bearer((await make_token(runtime, agent.org_id, "agent"))[1])
    visitor = await new_visitor(client, agent)
    url = f"ws://127.0.0.1:{b.port}/widget/v1/agents/{agent.agent_id}/ws"
    async with connect(url, origin=Origin(SITE), proxy=None) as ws, httpx.AsyncClient(base_url=a.url) as dashboard:
        await ws.send(json.dumps({"type": "hello", "visitor": visitor["x-parley-visitor"]}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(json.dumps({"type": "message", "text": "I want to talk to a person about my booking"}))
        await _until(ws, "done")
        conversation_id = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["conversation_id"]
        reply = await dashboard.post(
            f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}/messages",
            json={"text": "Hi, this is Sam from the bistro."},
            headers=staff,
        )
        assert reply.status_code == 201, reply.text
        if request.node.backend == "inprocess":  # the control: each process fans out only to its own sockets
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.5):
                    await ws.recv()
            return
        live = await _until(ws, "message")
        assert [e["type"] for e in live] == ["handed_off", "message"]
        assert live[-1]["message"] == {
            "id": reply.json()["id"],
            "role": "staff",
            "text": "Hi, this is Sam from the bistro.",
            "citations": [],
            "created_at": live[-1]["message"]["created_at"],
        }
        released = await dashboard.post(
            f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}/release", headers=staff
        )
        assert released.status_code == 200
        assert (await _until(ws, "released"))[-1] == {"type": "released"}
