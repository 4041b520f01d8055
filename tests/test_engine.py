"""The agent answers truthfully from its documents, through the whole stack: upload → ingestion reconciler →
keyword index → retrieval → provider → reply with citations, confidence and flags."""

from __future__ import annotations

import httpx
import openai
import pytest
from sqlalchemy import select

from parley.kit.db import set_pg_setting
from parley.kit.reconcilers import run_once
from parley.models import UsageDaily
from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token, raw_scalars
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import Reply as FakeReply

BISTRO_FAQ = b"""# Opening hours
We are open from Tuesday to Sunday. The kitchen opens at noon and closes at 10 pm.
On Mondays the restaurant is closed.

# Reservations
Tables can be reserved up to thirty days in advance. Groups larger than eight people must call the restaurant.

# Allergies
All dishes list their allergens on the menu. Our chef can prepare gluten-free pasta on request.
"""


async def _setup(client: httpx.AsyncClient, runtime: Runtime, **agent: object) -> tuple[str, dict[str, str], str]:
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "FAQ"}, headers=headers)).json()
    upload = await client.post(
        f"{base}/knowledge-bases/{kb['id']}/documents",
        files={"file": ("faq.md", BISTRO_FAQ, "text/markdown")},
        data={"title": "Bistro FAQ"},
        headers=headers,
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["status"] == "pending"
    results = await run_once(runtime)
    assert results["knowledge.ingest_pending"]["ready"] == 1
    created = await client.post(
        f"{base}/agents", json={"name": "Bistro", "knowledge_base_ids": [kb["id"]], **agent}, headers=headers
    )
    assert created.status_code == 201, created.text
    return base, headers, created.json()["id"]


async def remote_agent(
    client: httpx.AsyncClient, runtime: Runtime, fake: FakeOpenAI, **agent: object
) -> tuple[str, dict[str, str], str]:
    """An organisation with the FAQ and an agent on the fake OpenAI server: (org base URL, owner headers, agent id)."""
    base, headers, _ = await _setup(client, runtime)
    credential = await client.post(
        f"{base}/provider-credentials",
        json={"name": "Fake", "provider": "openai", "base_url": fake.base_url, "api_key": fake.api_key},
        headers=headers,
    )
    kb_id = (await client.get(f"{base}/knowledge-bases", headers=headers)).json()[0]["id"]
    created = await client.post(
        f"{base}/agents",
        json={
            "name": "Remote",
            "provider": "openai",
            "model": "gpt-fake",
            "credential_id": credential.json()["id"],
            "knowledge_base_ids": [kb_id],
            **agent,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return base, headers, created.json()["id"]


async def _ask(client: httpx.AsyncClient, base: str, headers: dict[str, str], agent_id: str, message: str) -> dict:  # type: ignore[type-arg]
    response = await client.post(f"{base}/agents/{agent_id}/test", json={"message": message}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_offline_agent_answers_from_its_documents_with_citations(client, runtime: Runtime):
    base, headers, agent_id = await _setup(client, runtime)
    reply = await _ask(client, base, headers, agent_id, "When does the kitchen open?")
    assert "The kitchen opens at noon and closes at 10 pm." in reply["reply"]
    assert [c["title"] for c in reply["citations"]] == ["Bistro FAQ"]
    assert reply["confidence"] >= 0.5 and reply["needs_attention"] is False


async def test_offline_agent_falls_back_and_flags_when_the_answer_is_not_there(client, runtime: Runtime):
    base, headers, agent_id = await _setup(client, runtime, fallback_reply="Let me ask the team.")
    reply = await _ask(client, base, headers, agent_id, "Do you deliver to the airport by helicopter?")
    assert reply["reply"] == "Let me ask the team."
    assert reply["needs_attention"] is True and reply["citations"] == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Bonjour", "Bonjour ! Comment puis-je vous aider ?"),
        ("مرحبا", "مرحبًا! كيف يمكنني مساعدتك اليوم؟"),
        ("Thanks!", "You're welcome! Is there anything else I can help with?"),
    ],
)
async def test_small_talk_is_answered_in_the_users_language(client, runtime: Runtime, message: str, expected: str):
    base, headers, agent_id = await _setup(client, runtime, languages=["en", "fr", "ar"])
    assert (await _ask(client, base, headers, agent_id, message))["reply"] == expected


async def test_asking_for_a_person_hands_off_to_staff(client, runtime: Runtime):
    base, headers, agent_id = await _setup(client, runtime)
    reply = await _ask(client, base, headers, agent_id, "Can I talk to a human please?")
    assert "member of our team" in reply["reply"]
    assert reply["needs_attention"] is True and "handed to staff" in reply["attention_reason"]


async def test_a_document_that_cannot_be_read_fails_with_a_reason(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}"
    kb = (await client.post(f"{base}/knowledge-bases", json={"name": "Docs"}, headers=headers)).json()
    image = await client.post(
        f"{base}/knowledge-bases/{kb['id']}/documents",
        files={"file": ("menu.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/pdf")},
        headers=headers,
    )
    assert image.status_code == 422 and image.json()["fields"][0]["location"] == "body.file"
    broken = await client.post(
        f"{base}/knowledge-bases/{kb['id']}/documents",
        files={"file": ("menu.pdf", b"%PDF-1.7\nthis is not really a pdf", "application/pdf")},
        headers=headers,
    )
    assert broken.status_code == 201
    await run_once(runtime)
    document = (await client.get(f"{base}/documents/{broken.json()['id']}", headers=headers)).json()
    assert document["status"] == "failed" and document["error"]


async def test_deleting_a_document_removes_its_chunks_index_entries_and_file(client, runtime: Runtime):
    base, headers, _ = await _setup(client, runtime)
    kb_id = (await client.get(f"{base}/knowledge-bases", headers=headers)).json()[0]["id"]
    document_id = (await client.get(f"{base}/knowledge-bases/{kb_id}/documents", headers=headers)).json()[0]["id"]
    assert (await client.get(f"{base}/documents/{document_id}/chunks", headers=headers)).json()
    stored = list((runtime.settings.data_dir / "files").rglob(document_id))
    assert stored and b"kitchen" not in stored[0].read_bytes()  # sealed at rest
    assert (await client.delete(f"{base}/documents/{document_id}", headers=headers)).status_code == 204
    assert (
        await client.get(f"{base}/knowledge-bases/{kb_id}/search", params={"q": "kitchen"}, headers=headers)
    ).json() == []
    assert not stored[0].exists()
    assert await raw_scalars(runtime, base.rsplit("/", 1)[-1], "SELECT count(*) FROM chunks") == [0]


async def test_openai_client_talks_to_an_agent_and_the_turns_are_stored(app, client, runtime: Runtime):
    base, headers, agent_id = await _setup(client, runtime)
    token = await client.post(
        f"{base}/tokens", json={"name": "site", "role": "agent", "agent_id": agent_id}, headers=headers
    )
    secret = token.json()["secret"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        ai = openai.AsyncOpenAI(base_url="http://127.0.0.1:8000/v1", api_key=secret, http_client=http)
        completion = await ai.chat.completions.create(
            model="bistro", user="visitor-42", messages=[{"role": "user", "content": "Are you open on Mondays?"}]
        )
        assert "On Mondays the restaurant is closed." in (completion.choices[0].message.content or "")
        stream = await ai.chat.completions.create(
            model="bistro",
            stream=True,
            messages=[{"role": "user", "content": "How many days in advance can I reserve a table?"}],
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        assert "thirty days in advance" in streamed
    # The agent token is for that endpoint only.
    assert (await client.get(f"{base}/agents", headers=bearer(secret))).status_code == 403
    conversations = (await client.get(f"{base}/conversations", headers=headers)).json()["conversations"]
    assert len(conversations) == 1 and conversations[0]["channel"] == "api"  # only the call with `user` is kept
    transcript = (await client.get(f"{base}/conversations/{conversations[0]['id']}", headers=headers)).json()
    assert [m["role"] for m in transcript["messages"]] == ["user", "assistant"]
    assert transcript["messages"][1]["citations"][0]["title"] == "Bistro FAQ"
    bodies = await raw_scalars(runtime, base.rsplit("/", 1)[-1], "SELECT body_sealed FROM messages")
    assert len(bodies) == 2 and all(b"Mondays" not in bytes(b) for b in bodies)  # type: ignore[arg-type]
    audit = (await client.get(f"{base}/audit", params={"action": "conversation.read"}, headers=headers)).json()
    assert audit["events"][0]["target_id"] == conversations[0]["id"]


async def test_remote_provider_gets_instructions_passages_and_store_false(client, runtime: Runtime):
    with FakeOpenAI() as fake:
        org_base, headers, agent_id = await remote_agent(
            client, runtime, fake, instructions="Speak like a friendly waiter."
        )
        fake.script(FakeReply.text("We open at noon [1].", chunks=3, usage=(120, 7)))
        reply = await _ask(client, org_base, headers, agent_id, "When does the kitchen open?")
        sent = fake.last.json
        assert sent["store"] is False and sent["model"] == "gpt-fake"
        system = sent["messages"][0]["content"]
        assert "Speak like a friendly waiter." in system and "The kitchen opens at noon" in system
        assert reply["reply"] == "We open at noon [1]." and reply["citations"][0]["title"] == "Bistro FAQ"
        async with runtime.sessionmaker() as db:
            await set_pg_setting(db, "app.org_id", org_base.rsplit("/", 1)[-1])
            rows = (await db.scalars(select(UsageDaily).where(UsageDaily.provider == "openai"))).all()
        assert [(r.calls, r.input_tokens, r.output_tokens) for r in rows] == [(1, 120, 7)]
        # A provider that keeps failing: the customer gets the fallback, staff see why.
        fake.script(*[FakeReply.error(500)] * 5)
        failed = await _ask(client, org_base, headers, agent_id, "When does the kitchen open?")
        assert failed["needs_attention"] is True and "provider failed" in failed["attention_reason"]
        assert failed["reply"]


async def test_provider_api_keys_are_sealed_and_never_returned(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    created = await client.post(
        f"/api/v1/orgs/{org.id}/provider-credentials",
        json={"name": "OpenAI", "provider": "openai", "api_key": "sk-live-very-secret-1234"},
        headers=headers,
    )
    assert created.json()["api_key_hint"] == "1234" and "api_key" not in created.json()
    sealed = await raw_scalars(runtime, org.id, "SELECT api_key_sealed FROM provider_credentials")
    assert len(sealed) == 1 and b"very-secret" not in bytes(sealed[0])  # type: ignore[arg-type]


async def test_test_connection_reports_what_the_provider_says(client, runtime: Runtime):
    with FakeOpenAI() as fake:
        org = await make_org(runtime)
        headers = bearer((await make_token(runtime, org.id, "owner"))[1])
        base = f"/api/v1/orgs/{org.id}/provider-credentials"
        good = await client.post(
            base,
            json={"name": "Good", "provider": "openai", "base_url": fake.base_url, "api_key": fake.api_key},
            headers=headers,
        )
        bad = await client.post(
            base,
            json={"name": "Bad", "provider": "openai", "base_url": fake.base_url, "api_key": "sk-wrong"},
            headers=headers,
        )
        ok = await client.post(f"{base}/{good.json()['id']}/check", json={}, headers=headers)
        refused = await client.post(f"{base}/{bad.json()['id']}/check", json={}, headers=headers)
    assert ok.json() == {"ok": True, "error": None}
    assert refused.json()["ok"] is False and "sk-wrong" not in refused.json()["error"]


async def test_agents_validate_their_provider_settings(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    base = f"/api/v1/orgs/{org.id}/agents"
    no_model = await client.post(base, json={"name": "A", "provider": "openai"}, headers=headers)
    assert no_model.status_code == 422 and no_model.json()["fields"][0]["location"] == "body.model"
    no_credential = await client.post(base, json={"name": "A", "provider": "openai", "model": "gpt"}, headers=headers)
    assert no_credential.json()["fields"][0]["location"] == "body.credential_id"
    unknown_kb = await client.post(base, json={"name": "A", "knowledge_base_ids": ["kb_nope"]}, headers=headers)
    assert unknown_kb.status_code == 422 and "kb_nope" in unknown_kb.json()["detail"]
    out_of_range = await client.post(base, json={"name": "A", "confidence_threshold": 2}, headers=headers)
    assert out_of_range.status_code == 422
    created = await client.post(base, json={"name": "A", "greeting": "Hi!"}, headers=headers)
    agent_id = created.json()["id"]
    assert created.json()["redact_pii"] is True  # on by default for new agents
    patched = await client.patch(
        f"{base}/{agent_id}", json={"redact_pii": False, "retention_days": 30}, headers=headers
    )
    assert patched.json()["redact_pii"] is False and patched.json()["greeting"] == "Hi!"
    audit = (
        await client.get(f"/api/v1/orgs/{org.id}/audit", params={"action": "agent.updated"}, headers=headers)
    ).json()
    assert audit["events"][0]["details"]["changed"]["redact_pii"] == {"from": True, "to": False}
