"""Conversations as stored: exactly once, survives a crash mid-turn, silent while staff have taken over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from parley.conversations import repository as repo
from parley.conversations import service
from parley.conversations.engine import Reply
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.reconcilers import run_once
from parley.models import Agent
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work
from tests.factories import bearer, make_org, make_token
from tests.test_engine import _setup


async def _conversation(client, runtime: Runtime) -> tuple[OrgScope, Agent, str]:  # type: ignore[no-untyped-def]
    base, _, agent_id = await _setup(client, runtime)
    org_id = base.rsplit("/", 1)[-1]
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, Actor.system())
        agent = await db.get(Agent, agent_id)
        assert agent is not None
        contact = await service.contact_for(db, runtime, scope, "whatsapp", "+33612345678")
        conversation = await service.conversation_for(db, runtime, scope, agent, contact, "whatsapp")
    return scope, agent, conversation.id


async def _send(runtime: Runtime, scope: OrgScope, agent: Agent, conversation_id: str, text: str, external_id: str):  # type: ignore[no-untyped-def]
    items = [
        i async for i in service.receive(runtime, scope, agent, conversation_id, text=text, external_id=external_id)
    ]
    return next(i for i in items if isinstance(i, Reply)) if any(isinstance(i, Reply) for i in items) else None, items[
        -1
    ]


async def _messages(runtime: Runtime, scope: OrgScope, conversation_id: str) -> list[tuple[str, str]]:
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        from parley.privacy.keys import keyring

        ring = keyring(runtime, scope)
        return [
            (m.role, str(await service.open_body(ring, m))) for m in await repo.messages(db, scope, conversation_id)
        ]


async def test_a_retried_delivery_is_answered_once(client, runtime: Runtime):
    scope, agent, conversation_id = await _conversation(client, runtime)
    first, stored = await _send(runtime, scope, agent, conversation_id, "When does the kitchen open?", "wamid.1")
    again, replayed = await _send(runtime, scope, agent, conversation_id, "When does the kitchen open?", "wamid.1")
    assert replayed.replay is True and replayed.reply_id == stored.reply_id
    assert again.text == first.text
    assert [role for role, _ in await _messages(runtime, scope, conversation_id)] == ["user", "assistant"]


async def test_a_turn_cut_short_by_a_crash_is_answered_by_the_reconciler(client, runtime: Runtime):
    scope, agent, conversation_id = await _conversation(client, runtime)
    turn = service.receive(runtime, scope, agent, conversation_id, text="Are you open on Mondays?", external_id="w.2")
    await anext(turn)  # the message is recorded and the turn has started…
    await turn.aclose()  # …and the process dies before the reply is stored
    assert await _messages(runtime, scope, conversation_id) == [("user", "Are you open on Mondays?")]
    assert (await run_once(runtime))["conversations.answer_unhandled"] == {
        "answered": 0
    }  # a live turn may still finish
    runtime.clock.advance(minutes=3)  # type: ignore[attr-defined]
    assert (await run_once(runtime))["conversations.answer_unhandled"] == {"answered": 1}
    messages = await _messages(runtime, scope, conversation_id)
    assert messages[1][0] == "assistant" and "On Mondays the restaurant is closed." in messages[1][1]
    assert (await run_once(runtime))["conversations.answer_unhandled"] == {"answered": 0}


async def test_the_ai_is_silent_while_staff_have_taken_over(client, runtime: Runtime):
    scope, agent, conversation_id = await _conversation(client, runtime)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        conversation = await repo.conversation(db, scope, conversation_id)
        assert conversation is not None
        conversation.handed_off = True
    reply, stored = await _send(runtime, scope, agent, conversation_id, "Hello?", "w.3")
    assert reply is None and stored.reply_id is None
    runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert (await run_once(runtime))["conversations.answer_unhandled"] == {"answered": 0}


async def test_one_person_is_one_contact_across_conversations(client, runtime: Runtime):
    scope, _, conversation_id = await _conversation(client, runtime)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        again = await service.contact_for(db, runtime, scope, "whatsapp", "+33612345678")
        conversation = await repo.conversation(db, scope, conversation_id)
        assert conversation is not None and again.id == conversation.contact_id


class _Site(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/faq":
            body = b"<html><head><title>Bistro FAQ page</title></head><body><nav>Menu Home</nav><main>" + (
                b"<h1>Opening hours</h1><p>The kitchen opens at noon and closes at 10 pm.</p></main></body></html>"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/down":
            self.send_response(503)
            self.end_headers()
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_web_pages_are_fetched_and_ingested_by_the_worker(client, runtime: Runtime, site: str):
    runtime.settings.knowledge_fetch_allow_private = True
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "Site"}, headers=headers)).json()
    added = {}
    for path in ("/faq", "/missing", "/down"):
        response = await client.post(
            f"{base}/knowledge-bases/{kb['id']}/urls", json={"url": site + path}, headers=headers
        )
        added[path] = response.json()["id"]
    await run_once(runtime)
    documents = {
        d["id"]: d for d in (await client.get(f"{base}/knowledge-bases/{kb['id']}/documents", headers=headers)).json()
    }
    faq = documents[added["/faq"]]
    assert faq["status"] == "ready" and faq["title"] == "Bistro FAQ page" and faq["kind"] == "html"
    assert documents[added["/missing"]]["status"] == "failed" and "404" in documents[added["/missing"]]["error"]
    down = documents[added["/down"]]
    assert down["status"] == "pending" and "503" in down["error"]  # a passing failure: tried again later
    hits = (
        await client.get(f"{base}/knowledge-bases/{kb['id']}/search", params={"q": "kitchen"}, headers=headers)
    ).json()
    assert hits and "Menu Home" not in hits[0]["text"]


async def test_private_addresses_are_refused_by_default(client, runtime: Runtime, site: str):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "Site"}, headers=headers)).json()
    document = (
        await client.post(f"{base}/knowledge-bases/{kb['id']}/urls", json={"url": site + "/faq"}, headers=headers)
    ).json()
    await run_once(runtime)
    failed = (await client.get(f"{base}/documents/{document['id']}", headers=headers)).json()
    assert failed["status"] == "failed" and "private network" in failed["error"]


async def test_a_long_conversation_gives_the_model_its_latest_turns(client, runtime: Runtime):
    from parley.conversations import prompt
    from tests.fakes.openai_server import FakeOpenAI
    from tests.fakes.replies import Reply as FakeReply

    scope, agent, conversation_id = await _conversation(client, runtime)
    with FakeOpenAI() as fake:
        async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
            from parley.agents import service as agents_service
            from parley.agents.schemas import AgentPatch, CredentialIn

            credential = await agents_service.do_create_credential(
                db,
                runtime,
                scope,
                CredentialIn(name="f", provider="openai", base_url=fake.base_url, api_key=fake.api_key),  # type: ignore[arg-type]
            )
            agent = await agents_service.do_update_agent(
                db,
                runtime,
                scope,
                agent.id,
                AgentPatch(provider="openai", model="gpt-fake", credential_id=credential.id),
            )
        for n in range(prompt.HISTORY_MESSAGES):
            fake.script(FakeReply.text(f"answer {n}"))
            runtime.clock.advance(seconds=1)  # type: ignore[attr-defined]
            await _send(runtime, scope, agent, conversation_id, f"question {n}", f"w.{n}")
        sent = [m["content"] for m in fake.last.json["messages"][1:]]
    last = prompt.HISTORY_MESSAGES - 1
    assert sent[-1] == f"question {last}"
    assert sent[-2] == f"answer {last - 1}"  # the window ends at the latest turn, not at the oldest
    assert "question 0" not in sent
