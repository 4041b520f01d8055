"""The widget's public endpoints through the app: origins, visitors and their secrets, limits, the age gate,
export and erasure, consent, and no cookies anywhere."""

from __future__ import annotations

import gzip

import httpx
import pytest

from parley.channels.widget.api import widget_state
from parley.channels.widget.limits import TokenBuckets
from parley.runtime import Runtime
from tests.channels.widget.support import ANSWER, QUESTION, SITE, make_widget_agent, new_visitor, sse_events
from tests.factories import audit_events, database_text, raw_scalars


async def _ask(client: httpx.AsyncClient, api: str, visitor: dict[str, str], text: str, **extra: object):  # type: ignore[no-untyped-def]
    return await client.post(f"{api}/messages", json={"text": text, **extra}, headers=visitor)


async def test_visitor_gets_a_streamed_answer_with_citations_and_finds_it_again(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    config = await client.get(f"{agent.api}/config", headers={"origin": SITE})
    assert config.status_code == 200
    assert config.json()["organization_name"] == "Bistro Example"
    assert config.json()["greeting"] == "Hello! Ask me anything."
    visitor = await new_visitor(client, agent)
    response = await _ask(client, agent.api, visitor, QUESTION)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "conversation" and "delta" in kinds and kinds[-2:] == ["message", "done"]
    assert kinds.index("delta") < kinds.index("message")
    message = events[-2]["message"]
    assert ANSWER in message["text"]
    assert message["citations"] == [{"title": "Bistro FAQ", "url": None}]
    history = (await client.get(f"{agent.api}/conversation", headers=visitor)).json()
    assert [(m["role"], m["text"]) for m in history["messages"]] == [("user", QUESTION), ("assistant", message["text"])]
    assert history["messages"][1]["citations"][0]["title"] == "Bistro FAQ"
    # Where the visitor wrote from is kept with the conversation (the privacy work anonymises it later).
    assert await raw_scalars(runtime, agent.org_id, "SELECT visitor_ip FROM conversations") == ["203.0.113.7"]
    agents = await raw_scalars(runtime, agent.org_id, "SELECT visitor_user_agent FROM conversations")
    assert str(agents[0]).startswith("python-httpx/")


async def test_pages_on_other_origins_are_refused_and_get_no_cors_grant(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime, origins=["https://bistro.example", "http://localhost:3000"])
    allowed = await client.get(f"{agent.api}/config", headers={"origin": "https://bistro.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://bistro.example"
    assert "access-control-allow-credentials" not in allowed.headers
    for origin in ("https://evil.example", "https://bistro.example.evil.example", "http://bistro.example", "null"):
        refused = await client.get(f"{agent.api}/config", headers={"origin": origin})
        assert refused.status_code == 403, origin
        assert refused.json()["error"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in refused.headers
        preflight = await client.options(
            f"{agent.api}/messages",
            headers={"origin": origin, "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    preflight = await client.options(
        f"{agent.api}/messages",
        headers={"origin": "http://localhost:3000", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "x-parley-visitor" in preflight.headers["access-control-allow-headers"]


async def test_an_agent_without_a_widget_is_not_found(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    assert (await client.delete(agent.settings_url, headers=agent.headers)).status_code == 204
    response = await client.get(f"{agent.api}/config", headers={"origin": SITE})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    missing = await client.get("/widget/v1/agents/agt_doesnotexist/config", headers={"origin": SITE})
    assert missing.status_code == 404 and missing.json()["detail"] == response.json()["detail"]


async def test_a_visitor_reads_only_their_own_conversation(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    alice = await new_visitor(client, agent)
    bob = await new_visitor(client, agent)
    assert (await _ask(client, agent.api, alice, "Alice asks about parking")).status_code == 200
    assert (await client.get(f"{agent.api}/conversation", headers=bob)).json()["messages"] == []
    alice_id = alice["x-parley-visitor"].split(":")[0]
    bob_secret = bob["x-parley-visitor"].split(":")[1]
    forged = {"origin": SITE, "x-parley-visitor": f"{alice_id}:{bob_secret}"}
    for method, path in (("GET", "/conversation"), ("GET", "/conversation/export"), ("DELETE", "/conversation")):
        response = await client.request(method, f"{agent.api}{path}", headers=forged)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["error"] == "not_found"
    assert (await client.get(f"{agent.api}/conversation", headers={"origin": SITE})).status_code == 404
    # A visitor of one business is nobody at another's, even with a real secret.
    other = await make_widget_agent(client, runtime, org_name="Other Business")
    assert (await client.get(f"{other.api}/conversation", headers=alice)).status_code == 404
    history = (await client.get(f"{agent.api}/conversation", headers=alice)).json()
    assert [m["text"] for m in history["messages"] if m["role"] == "user"] == ["Alice asks about parking"]


async def test_messages_over_the_length_limit_are_refused_and_not_stored(client, runtime: Runtime, settings):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    limit = runtime.settings.widget_max_message_chars
    response = await _ask(client, agent.api, visitor, "long-message-marker " + "x" * limit)
    assert response.status_code == 422
    assert response.json()["error"] == "message_too_long"
    assert f"{limit} characters" in response.json()["detail"]
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM messages") == [0]
    assert (await _ask(client, agent.api, visitor, "x" * limit)).status_code == 200


async def test_rate_limits_per_visitor_and_per_ip_say_when_to_retry(app, client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    state = widget_state(app)
    state.per_visitor = TokenBuckets(per_minute=1, burst=2)
    visitor = await new_visitor(client, agent)
    for _ in range(2):
        assert (await _ask(client, agent.api, visitor, "Hello")).status_code == 200
    limited = await _ask(client, agent.api, visitor, "Hello again")
    assert limited.status_code == 429
    assert limited.json()["error"] == "too_many_requests"
    assert "too quickly" in limited.json()["detail"]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["access-control-allow-origin"] == SITE  # the widget can read why
    # Another visitor is not slowed by the first; many visitors from one address are, by the IP bucket.
    state.per_ip = TokenBuckets(per_minute=1, burst=1)
    assert (await _ask(client, agent.api, await new_visitor(client, agent), "Hi")).status_code == 429


async def test_under_age_visitors_cannot_chat_and_nothing_they_typed_is_stored(client, runtime: Runtime, settings):
    agent = await make_widget_agent(client, runtime, min_age=18)
    assert (await client.get(f"{agent.api}/config", headers={"origin": SITE})).json()["min_age"] == 18
    visitor = await new_visitor(client, agent)
    refused = await _ask(client, agent.api, visitor, "my secret is blue-penguin-42")
    assert refused.status_code == 403
    assert refused.json()["error"] == "age_gate" and refused.json()["min_age"] == 18
    assert "blue-penguin-42" not in await database_text(settings)
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM conversations") == [0]
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM contacts") == [0]
    assert (await _ask(client, agent.api, visitor, QUESTION, age_confirmed=True)).status_code == 200


async def test_export_returns_the_conversation_and_erasure_removes_it(client, runtime: Runtime, settings):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    visitor = await new_visitor(client, agent)
    await _ask(client, agent.api, visitor, "Do you open on Mondays, asks unique-marker-77?")
    consent = await client.post(f"{agent.api}/consent", json={"granted": False}, headers=visitor)
    assert consent.status_code == 201
    export = await client.get(f"{agent.api}/conversation/export", headers=visitor)
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment")
    body = export.json()
    assert body["organization"] == "Bistro Example" and body["agent"] == "Bistro helper"
    assert body["messages"][0]["text"] == "Do you open on Mondays, asks unique-marker-77?"
    assert body["messages"][1]["role"] == "assistant" and body["messages"][1]["text"]
    assert [(c["purpose"], c["granted"]) for c in body["consents"]] == [("analytics", False)]

    erased = await client.delete(f"{agent.api}/conversation", headers=visitor)
    assert erased.status_code == 200 and erased.json() == {"erased_messages": 2}
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM messages") == [0]
    assert await raw_scalars(runtime, agent.org_id, "SELECT count(*) FROM conversations") == [0]
    assert (await client.get(f"{agent.api}/conversation", headers=visitor)).json()["messages"] == []
    events = await audit_events(client, agent.org_id, agent.headers, "conversation.erased")
    assert len(events) == 1
    assert events[0]["actor_type"] == "visitor" and events[0]["details"]["initiated_by"] == "visitor"
    # The message bodies were sealed; the marker must not survive anywhere in readable form either.
    assert "unique-marker-77" not in await database_text(settings)


async def test_consent_choices_are_recorded_in_the_ledger(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    config = (await client.get(f"{agent.api}/config", headers={"origin": SITE})).json()
    assert config["analytics_consent_required"] is True
    visitor = await new_visitor(client, agent)
    await client.post(f"{agent.api}/consent", json={"granted": True}, headers=visitor)
    await client.post(f"{agent.api}/consent", json={"granted": False}, headers=visitor)
    granted = await raw_scalars(runtime, agent.org_id, "SELECT granted FROM consent_events ORDER BY occurred_at, id")
    assert [bool(g) for g in granted] == [True, False]


async def test_widget_responses_never_set_cookies(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime, analytics_enabled=True)
    visitor = await new_visitor(client, agent)
    responses = [
        await client.get("/widget.js"),
        await client.get(f"{agent.api}/config", headers={"origin": SITE}),
        await client.post(f"{agent.api}/visitors", headers={"origin": SITE}),
        await client.options(f"{agent.api}/messages", headers={"origin": SITE}),
        await _ask(client, agent.api, visitor, QUESTION),
        await client.get(f"{agent.api}/conversation", headers=visitor),
        await client.get(f"{agent.api}/conversation/export", headers=visitor),
        await client.post(f"{agent.api}/consent", json={"granted": True}, headers=visitor),
        await client.delete(f"{agent.api}/conversation", headers=visitor),
        await client.get(f"{agent.api}/config", headers={"origin": "https://evil.example"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 201, 204, 200, 200, 200, 201, 200, 403]
    for response in responses:
        assert "set-cookie" not in response.headers, response.request.url
    assert not client.cookies


async def test_widget_script_is_small_cacheable_and_loadable_cross_origin(client):
    response = await client.get("/widget.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "max-age=86400" in response.headers["cache-control"]
    assert response.headers["content-encoding"] == "gzip"
    etag = response.headers["etag"]
    assert (await client.get("/widget.js", headers={"if-none-match": etag})).status_code == 304
    # Everything the widget loads is this one file (its styles are inside): 25 KB gzipped at most.
    plain = (await client.get("/widget.js", headers={"accept-encoding": "identity"})).content
    assert len(gzip.compress(plain, 9)) <= 25 * 1024
    assert b"import " not in plain and b"https://cdn" not in plain


async def test_widget_settings_validate_origins_and_give_the_embed_snippet(client, runtime: Runtime):
    agent = await make_widget_agent(client, runtime)
    shown = (await client.get(agent.settings_url, headers=agent.headers)).json()
    assert shown["enabled"] is True and shown["allowed_origins"] == [SITE]
    expected = f'<script src="http://127.0.0.1:8000/widget.js" data-agent="{agent.agent_id}" async></script>'
    assert shown["embed_snippet"] == expected
    agent_out = await client.get(f"/api/v1/orgs/{agent.org_id}/agents/{agent.agent_id}", headers=agent.headers)
    assert agent_out.json()["embed_snippet"] == expected
    cleaned = await client.put(
        agent.settings_url,
        json={"allowed_origins": ["HTTPS://Shop.Example:443/", "http://localhost:3000"]},
        headers=agent.headers,
    )
    assert cleaned.json()["allowed_origins"] == ["https://shop.example", "http://localhost:3000"]
    for bad in ("https://shop.example/page", "*", "https://*.example", "ftp://shop.example", "shop.example"):
        response = await client.put(agent.settings_url, json={"allowed_origins": [bad]}, headers=agent.headers)
        assert response.status_code == 422, bad
        assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("body", [{"text": ""}, {"text": "hi", "extra": 1}, {"text": "hi", "client_id": "<bad>"}])
async def test_bad_input_gets_the_error_format(client, runtime: Runtime, body):
    agent = await make_widget_agent(client, runtime)
    visitor = await new_visitor(client, agent)
    response = await client.post(f"{agent.api}/messages", json=body, headers=visitor)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request" and response.json()["detail"]
