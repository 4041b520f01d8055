"""The inbox: the live event stream, filters, the audited transcript, take over / reply / hand back / close,
notes (sealed, exported, erased) and who has a conversation."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile

import httpx

from parley.conversations.events import org_key
from parley.runtime import Runtime
from tests.channels.widget.support import ANSWER, QUESTION, LiveServer, make_widget_agent, new_visitor
from tests.dashboard.support import dashboard_sign_in, field_error
from tests.factories import audit_events, database_text, make_user, raw_scalars


async def _visitor_asks(client: httpx.AsyncClient, agent, visitor: dict[str, str], text: str = QUESTION) -> str:  # type: ignore[no-untyped-def]
    response = await client.post(f"{agent.api}/messages", json={"text": text}, headers=visitor)
    assert response.status_code == 200, response.text
    events = [json.loads(line[6:]) for line in response.text.split("\n") if line.startswith("data: ")]
    return next(e["conversation_id"] for e in events if e["type"] == "conversation")


async def test_a_visitors_message_is_announced_on_the_organisations_key(client: httpx.AsyncClient, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    async with runtime.live.subscribe(org_key(agent.org_id)) as queue:
        conversation_id = await _visitor_asks(client, agent, visitor)
        seen = [queue.get_nowait() for _ in range(queue.qsize())]
    # Once for the visitor's message, once for the AI's reply; ids only, never text.
    assert seen == [{"type": "conversation", "conversation_id": conversation_id, "change": "message"}] * 2
    assert QUESTION not in json.dumps(seen)


async def test_the_inbox_lists_conversations_without_their_text_and_filters_them(
    client: httpx.AsyncClient, runtime: Runtime
):
    agent = await make_widget_agent(client, runtime)
    conversation_id = await _visitor_asks(client, agent, await new_visitor(client, agent))
    await _visitor_asks(client, agent, await new_visitor(client, agent), "Tell me about unicorns on the moon")
    owner = (
        await raw_scalars(runtime, agent.org_id, "SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id")
    )[0]
    token = await dashboard_sign_in(client, str(owner))
    del token
    page = await client.get(f"/app/o/{agent.org_id}/inbox")
    assert page.status_code == 200
    assert page.text.count('data-conversation="cnv_') == 2
    assert QUESTION not in page.text and ANSWER not in page.text
    low = await client.get(f"/app/o/{agent.org_id}/inbox/rows", params={"state": "low_confidence"})
    assert low.text.count("data-conversation=") == 1 and conversation_id not in low.text
    none = await client.get(f"/app/o/{agent.org_id}/inbox/rows", params={"channel": "sms"})
    assert "No conversations match." in none.text
    bad = await client.get(f"/app/o/{agent.org_id}/inbox", params={"state": "x'; drop"})
    assert bad.status_code == 404


async def test_staff_take_over_reply_hand_back_and_close(client: httpx.AsyncClient, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    conversation_id = await _visitor_asks(client, agent, visitor)
    staff = await make_user(runtime, org_id=agent.org_id, role="agent", name="Sam Staff")
    token = await dashboard_sign_in(client, staff)
    url = f"/app/o/{agent.org_id}/conversations/{conversation_id}"
    page = await client.get(url)
    assert page.status_code == 200 and QUESTION in page.text and ANSWER in page.text
    assert "Bistro FAQ" in page.text and "confidence" in page.text  # citations and confidence
    assert "Nobody has taken this conversation." in page.text
    headers = agent.headers
    reads = await audit_events(client, agent.org_id, headers, "conversation.read")
    assert [e["target_id"] for e in reads] == [conversation_id]

    async with runtime.live.subscribe(conversation_id) as widget, runtime.live.subscribe(org_key(agent.org_id)) as org:
        empty = await client.post(f"{url}/reply", data={"text": " ", "csrf_token": token})
        assert empty.status_code == 422 and field_error(empty.text, "text")
        sent = await client.post(f"{url}/reply", data={"text": "Hello, Sam here.", "csrf_token": token})
        assert sent.status_code == 303
        to_widget = [widget.get_nowait() for _ in range(widget.qsize())]
        assert [e["type"] for e in to_widget] == ["handed_off", "message"]
        assert to_widget[1]["message"]["text"] == "Hello, Sam here."
        assert org.get_nowait()["change"] == "message"
    page = await client.get(url)
    assert "Taken by <strong>Sam Staff</strong> (you)." in page.text and "Hand back to the AI" in page.text

    # While handed off the AI is silent; the visitor's message still reaches the inbox.
    await _visitor_asks(client, agent, visitor, "Are you a person?")
    replies = await raw_scalars(
        runtime,
        agent.org_id,
        f"SELECT count(*) FROM messages WHERE conversation_id = '{conversation_id}' AND role = 'assistant'",
    )
    assert replies == [1]
    back = await client.post(f"{url}/hand-back", data={"csrf_token": token})
    assert back.status_code == 303
    await _visitor_asks(client, agent, visitor, QUESTION)
    replies = await raw_scalars(
        runtime,
        agent.org_id,
        f"SELECT count(*) FROM messages WHERE conversation_id = '{conversation_id}' AND role = 'assistant'",
    )
    assert replies == [2]
    closed = await client.post(f"{url}/close", data={"csrf_token": token})
    assert closed.status_code == 303
    rows = await client.get(f"/app/o/{agent.org_id}/inbox/rows", params={"state": "closed"})
    assert conversation_id in rows.text
    actions = [e["action"] for e in await audit_events(client, agent.org_id, headers)]
    for action in ("conversation.taken_over", "conversation.released", "conversation.closed"):
        assert action in actions


async def test_notes_are_sealed_exported_and_erased_with_the_person(client: httpx.AsyncClient, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    conversation_id = await _visitor_asks(client, agent, visitor)
    staff = await make_user(runtime, org_id=agent.org_id, role="agent")
    token = await dashboard_sign_in(client, staff)
    url = f"/app/o/{agent.org_id}/conversations/{conversation_id}"
    note = "Prefers a window table; allergic to peanuts"
    added = await client.post(f"{url}/notes", data={"text": note, "csrf_token": token})
    assert added.status_code == 303
    assert note in (await client.get(url)).text
    assert note not in await database_text(client._transport.app.state.runtime.settings)  # type: ignore[attr-defined]
    contact_id = (await raw_scalars(runtime, agent.org_id, "SELECT contact_id FROM conversations"))[0]
    base = f"/api/v1/orgs/{agent.org_id}/contacts/{contact_id}"
    exported = await client.get(f"{base}/export", headers=agent.headers)
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        document = json.loads(archive.read("data.json"))
    assert [n["text"] for n in document["conversations"][0]["staff_notes"]] == [note]
    erased = await client.post(f"{base}/erasure", headers=agent.headers)
    assert erased.status_code in (200, 202), erased.text
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM conversation_notes") == [0]


async def test_a_viewer_cannot_open_conversations_or_the_inbox(client: httpx.AsyncClient, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    conversation_id = await _visitor_asks(client, agent, await new_visitor(client, agent))
    viewer = await make_user(runtime, org_id=agent.org_id, role="viewer")
    token = await dashboard_sign_in(client, viewer)
    assert (await client.get(f"/app/o/{agent.org_id}/inbox")).status_code == 403
    assert (await client.get(f"/app/o/{agent.org_id}/inbox/events")).status_code == 403
    assert (await client.get(f"/app/o/{agent.org_id}/conversations/{conversation_id}")).status_code == 403
    for action in ("take-over", "hand-back", "close", "reply", "notes"):
        refused = await client.post(
            f"/app/o/{agent.org_id}/conversations/{conversation_id}/{action}", data={"text": "x", "csrf_token": token}
        )
        assert refused.status_code == 403, action
    home = await client.get(f"/app/o/{agent.org_id}")
    assert "/inbox" not in home.text  # the navigation offers only what the role may use


async def test_the_event_stream_delivers_a_new_message(client: httpx.AsyncClient, runtime: Runtime, settings):  # type: ignore[no-untyped-def]
    agent = await make_widget_agent(client, runtime)
    staff = await make_user(runtime, org_id=agent.org_id, role="agent")
    received: list[dict[str, str]] = []
    async with LiveServer(settings) as server, httpx.AsyncClient(base_url=server.url) as browser:
        await dashboard_sign_in(browser, staff)

        async def listen() -> None:
            async with browser.stream("GET", f"/app/o/{agent.org_id}/inbox/events") as stream:
                assert stream.status_code == 200
                async for line in stream.aiter_lines():
                    if line == ": subscribed":
                        subscribed.set()
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
                        return

        subscribed = asyncio.Event()
        listener = asyncio.create_task(listen())
        await asyncio.wait_for(subscribed.wait(), 10)
        conversation_id = await _visitor_asks(browser, agent, await new_visitor(browser, agent))
        await asyncio.wait_for(listener, 10)
    assert received == [{"type": "conversation", "conversation_id": conversation_id, "change": "message"}]


async def test_another_organisation_cannot_reach_a_conversation_or_its_notes(
    client: httpx.AsyncClient, runtime: Runtime
):
    agent = await make_widget_agent(client, runtime)
    conversation_id = await _visitor_asks(client, agent, await new_visitor(client, agent))
    insider = await make_user(runtime, org_id=agent.org_id, role="agent")
    token = await dashboard_sign_in(client, insider)
    url = f"/app/o/{agent.org_id}/conversations/{conversation_id}"
    assert (await client.post(f"{url}/notes", data={"text": "VIP guest", "csrf_token": token})).status_code == 303
    other = await make_widget_agent(client, runtime, org_name="Rival Bistro")
    outsider = await make_user(runtime, org_id=other.org_id, role="owner")
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as rival:
        rival_token = await dashboard_sign_in(rival, outsider)
        # Their own organisation's address with our conversation's id: not found, nothing changes.
        theirs = f"/app/o/{other.org_id}/conversations/{conversation_id}"
        assert (await rival.get(theirs)).status_code == 404
        assert (await rival.get(f"{theirs}/since")).status_code == 404
        for action in ("take-over", "hand-back", "close", "reply", "notes"):
            response = await rival.post(f"{theirs}/{action}", data={"text": "x", "csrf_token": rival_token})
            assert response.status_code == 404, action
        # Our organisation's address: not a member, so not found either.
        assert (await rival.get(url)).status_code == 404
        assert (await rival.get(f"/app/o/{agent.org_id}/inbox")).status_code == 404
    assert await raw_scalars(runtime, other.org_id, "SELECT count(*) FROM conversation_notes WHERE org_id <> ''") == [
        0 if runtime.settings.is_postgres else 1
    ]
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM conversation_notes") == [1]
    state = await raw_scalars(runtime, agent.org_id, "SELECT handed_off FROM conversations")
    assert [bool(s) for s in state] == [False]
