"""The widget's WebSocket on a real server: the handshake checks the origin, the first frame the visitor's
secret; replies stream token by token; a staff member's takeover and messages arrive live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.widget.support import ANSWER, QUESTION, SITE, LiveServer, make_widget_agent, new_visitor
from tests.factories import bearer, make_token


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[LiveServer]:
    async with LiveServer(settings) as live:
        yield live


def _ws_url(server: LiveServer, agent_id: str) -> str:
    return f"ws://127.0.0.1:{server.port}/widget/v1/agents/{agent_id}/ws"


async def _events_until(ws: ClientConnection, last: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while not events or events[-1]["type"] != last:
            events.append(json.loads(await ws.recv()))
    return events


async def _hello(ws: ClientConnection, visitor: dict[str, str], **extra: object) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "hello", "visitor": visitor["x-parley-visitor"], **extra}))
    return json.loads(await ws.recv())  # type: ignore[no-any-return]


async def test_handshakes_from_other_origins_are_refused(client: httpx.AsyncClient, runtime: Runtime, server):
    agent = await make_widget_agent(client, runtime)
    for origin in ("https://evil.example", None):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_ws_url(server, agent.agent_id), origin=Origin(origin) if origin else None, proxy=None):
                pass
        assert refused.value.response.status_code == 403, origin
    with pytest.raises(InvalidStatus):
        async with connect(_ws_url(server, "agt_doesnotexist"), origin=Origin(SITE), proxy=None):
            pass


async def test_a_wrong_secret_gets_no_conversation(client: httpx.AsyncClient, runtime: Runtime, server):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    forged = {"x-parley-visitor": visitor["x-parley-visitor"][:-4] + "AAAA"}
    async with connect(_ws_url(server, agent.agent_id), origin=Origin(SITE), proxy=None) as ws:
        answer = await _hello(ws, forged)
        assert answer["type"] == "error" and answer["error"] == "not_found"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_replies_stream_over_the_socket(client: httpx.AsyncClient, runtime: Runtime, server):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    async with connect(_ws_url(server, agent.agent_id), origin=Origin(SITE), proxy=None) as ws:
        assert (await _hello(ws, visitor))["type"] == "ready"
        await ws.send(json.dumps({"type": "message", "text": QUESTION, "client_id": "client-0001"}))
        events = await _events_until(ws, "done")
        kinds = [e["type"] for e in events]
        assert kinds[0] == "typing" and "delta" in kinds and kinds[-2:] == ["message", "done"]
        assert ANSWER in events[-2]["message"]["text"]
        assert events[-2]["message"]["citations"][0]["title"] == "Bistro FAQ"
        # A retried send (same client id) is answered with the stored reply, not a second turn.
        await ws.send(json.dumps({"type": "message", "text": QUESTION, "client_id": "client-0001"}))
        again = await _events_until(ws, "done")
        assert again[-2]["message"]["id"] == events[-2]["message"]["id"]
        await ws.send(json.dumps({"type": "message", "text": "x" * 5000}))
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and error["error"] == "message_too_long"
    history = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]


async def test_the_age_gate_holds_on_the_socket(client: httpx.AsyncClient, runtime: Runtime, server):
    agent = await make_widget_agent(client, runtime, min_age=16)
    visitor = await new_visitor(client, agent)
    async with connect(_ws_url(server, agent.agent_id), origin=Origin(SITE), proxy=None) as ws:
        assert (await _hello(ws, visitor, age_confirmed=False))["type"] == "ready"
        await ws.send(json.dumps({"type": "message", "text": "I am twelve"}))
        error = json.loads(await ws.recv())
        assert error["error"] == "age_gate" and error["min_age"] == 16
    assert (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["conversation_id"] is None


async def test_staff_take_over_and_their_messages_arrive_live(client: httpx.AsyncClient, runtime: Runtime, server):
    agent = await make_widget_agent(client, runtime)
    staff = bearer((await make_token(runtime, agent.org_id, "agent"))[1])
    visitor = await new_visitor(client, agent)
    async with connect(_ws_url(server, agent.agent_id), origin=Origin(SITE), proxy=None) as ws:
        await _hello(ws, visitor)
        await ws.send(json.dumps({"type": "message", "text": "I want to talk to a person about my booking"}))
        await _events_until(ws, "done")
        conversation_id = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["conversation_id"]
        # The staff member writes through the API of the server holding the socket (in-process fan-out).
        async with httpx.AsyncClient(base_url=server.url) as dashboard:
            reply = await dashboard.post(
                f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}/messages",
                json={"text": "Hi, this is Sam from the bistro. Let me check your booking."},
                headers=staff,
            )
            assert reply.status_code == 201, reply.text
            live = await _events_until(ws, "message")
            assert [e["type"] for e in live] == ["handed_off", "message"]
            assert live[-1]["message"]["role"] == "staff"
            assert live[-1]["message"]["text"].startswith("Hi, this is Sam")
            # While staff have the conversation the AI is silent, and the widget is told a person is replying.
            await ws.send(json.dumps({"type": "message", "text": "Thank you, Sam"}))
            silent = await _events_until(ws, "done")
            assert "delta" not in [e["type"] for e in silent] and silent[-1]["handed_off"] is True
            released = await dashboard.post(
                f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}/release", headers=staff
            )
            assert released.status_code == 200 and released.json()["handed_off"] is False
            assert json.loads(await ws.recv())["type"] == "released"
    roles = [m["role"] for m in (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["messages"]]
    assert roles == ["user", "assistant", "staff", "user"]


async def test_viewers_cannot_reply_to_conversations(client: httpx.AsyncClient, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/messages", json={"text": QUESTION}, headers=visitor)
    conversation_id = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["conversation_id"]
    viewer = bearer((await make_token(runtime, agent.org_id, "viewer"))[1])
    url = f"/api/v1/orgs/{agent.org_id}/conversations/{conversation_id}"
    assert (await client.post(f"{url}/messages", json={"text": "hello"}, headers=viewer)).status_code == 403
    assert (await client.post(f"{url}/release", headers=viewer)).status_code == 403
    history = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()
    assert history["handed_off"] is False and [m["role"] for m in history["messages"]] == ["user", "assistant"]
