"""The Agents page: roles as in the API, field errors, the test chat, test connection, the widget settings."""

from __future__ import annotations

import json
import re

import httpx

from parley.runtime import Runtime
from tests.dashboard.support import dashboard_sign_in, field_error
from tests.factories import audit_events, bearer, make_org, make_token, make_user

AGENT_FORM = {
    "name": "Front desk",
    "instructions": "Be brief.",
    "greeting": "Hi there!",
    "languages": "en, fr",
    "provider": "offline",
    "model": "",
    "credential_id": "",
    "tools": "handoff_to_human",
    "fallback_reply": "Let me ask a colleague.",
    "confidence_threshold": "0.4",
    "retention_days": "",
    "redact_pii": "on",
}


async def _agent_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = re.search(r"/agents/(agt_[A-Za-z0-9]+)$", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def test_an_admin_creates_and_edits_an_agent(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    base = f"/app/o/{org.id}/agents"
    created = await client.post(f"{base}/new", data={**AGENT_FORM, "csrf_token": token})
    agent_id = await _agent_id(created)
    page = await client.get(f"{base}/{agent_id}")
    assert "Agent “Front desk” created." in page.text
    assert 'value="en, fr"' in page.text and f"data-agent=&#34;{agent_id}&#34;" in page.text
    saved = await client.post(
        f"{base}/{agent_id}", data={**AGENT_FORM, "name": "Reception", "redact_pii": "", "csrf_token": token}
    )
    assert saved.status_code == 303
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    agent = (await client.get(f"/api/v1/orgs/{org.id}/agents/{agent_id}", headers=headers)).json()
    assert (agent["name"], agent["redact_pii"], agent["languages"]) == ("Reception", False, ["en", "fr"])
    assert agent["confidence_threshold"] == 0.4 and agent["tools"] == ["handoff_to_human"]
    listing = await client.get(base)
    assert "Reception" in listing.text
    assert [e["action"] for e in await audit_events(client, org.id, headers, "agent.updated")] == ["agent.updated"]


async def test_invalid_agent_fields_are_shown_beside_each_field(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    response = await client.post(
        f"/app/o/{org.id}/agents/new",
        data={**AGENT_FORM, "name": "", "languages": "english", "confidence_threshold": "3", "csrf_token": token},
    )
    assert response.status_code == 422
    assert field_error(response.text, "name")
    assert field_error(response.text, "languages")
    assert field_error(response.text, "confidence_threshold")
    assert 'value="english"' in response.text  # what was typed stays
    remote = await client.post(
        f"/app/o/{org.id}/agents/new", data={**AGENT_FORM, "provider": "openai", "csrf_token": token}
    )
    assert remote.status_code == 422 and field_error(remote.text, "model") == "the openai provider needs a model name"


async def test_a_viewer_sees_agents_but_cannot_change_them(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    owner_token = await dashboard_sign_in(client, org.owner_email)
    agent_id = await _agent_id(
        await client.post(f"/app/o/{org.id}/agents/new", data={**AGENT_FORM, "csrf_token": owner_token})
    )
    viewer = await make_user(runtime, org_id=org.id, role="viewer")
    async with httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url)) as other:
        token = await dashboard_sign_in(other, viewer)
        page = await other.get(f"/app/o/{org.id}/agents/{agent_id}")
        assert page.status_code == 200 and "can see this agent but not change it" in page.text
        assert "<fieldset disabled>" in page.text and "Save agent" not in page.text
        assert "Try it" not in page.text  # agents:test is for the agent role and above
        assert (await other.get(f"/app/o/{org.id}/agents/new")).status_code == 403
        for path, data in [
            (f"/app/o/{org.id}/agents/new", AGENT_FORM),
            (f"/app/o/{org.id}/agents/{agent_id}", AGENT_FORM),
            (f"/app/o/{org.id}/agents/{agent_id}/delete", {}),
            (f"/app/o/{org.id}/agents/{agent_id}/widget", {"allowed_origins": "https://a.example"}),
            (f"/app/o/{org.id}/agents/{agent_id}/test", {"message": "hi"}),
        ]:
            refused = await other.post(path, data={**data, "csrf_token": token})
            assert refused.status_code == 403, path
    listing = await client.get(f"/app/o/{org.id}/agents")
    assert "Front desk" in listing.text and "badge ok" not in listing.text


async def test_the_test_chat_answers_and_keeps_the_transcript(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    agent_id = await _agent_id(
        await client.post(f"/app/o/{org.id}/agents/new", data={**AGENT_FORM, "csrf_token": token})
    )
    url = f"/app/o/{org.id}/agents/{agent_id}/test"
    first = await client.post(url, data={"message": "Hello", "history": "[]", "csrf_token": token})
    assert first.status_code == 200
    history = re.search(r'name="history" value="([^"]*)"', first.text)
    assert history
    transcript = json.loads(history.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert [t["role"] for t in transcript] == ["user", "assistant"]
    empty = await client.post(url, data={"message": " ", "history": "[]", "csrf_token": token})
    assert empty.status_code == 422 and field_error(empty.text, "message")


async def test_test_connection_reports_the_outcome_beside_the_button(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    agent_id = await _agent_id(
        await client.post(f"/app/o/{org.id}/agents/new", data={**AGENT_FORM, "csrf_token": token})
    )
    offline = await client.post(f"/app/o/{org.id}/agent-check/{agent_id}", data={**AGENT_FORM, "csrf_token": token})
    assert offline.status_code == 200 and "nothing to connect to" in offline.text
    missing = await client.post(
        f"/app/o/{org.id}/agent-check/{agent_id}",
        data={**AGENT_FORM, "provider": "openai", "model": "gpt-x", "csrf_token": token},
    )
    assert missing.status_code == 422 and field_error(missing.text, "credential_id")
    assert 'value="gpt-x"' in missing.text  # the form keeps what was typed


async def test_widget_origins_are_validated_and_saved(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    agent_id = await _agent_id(
        await client.post(f"/app/o/{org.id}/agents/new", data={**AGENT_FORM, "csrf_token": token})
    )
    url = f"/app/o/{org.id}/agents/{agent_id}/widget"
    bad = await client.post(url, data={"allowed_origins": "not a site", "csrf_token": token})
    assert bad.status_code == 422 and field_error(bad.text, "allowed_origins")
    good = await client.post(
        url, data={"allowed_origins": "https://shop.example\nhttps://www.shop.example", "csrf_token": token}
    )
    assert good.status_code == 303
    page = await client.get(f"/app/o/{org.id}/agents/{agent_id}")
    assert "https://www.shop.example" in page.text and "Widget settings saved." in page.text
    assert "Copy snippet" in page.text
    off = await client.post(url, data={"allowed_origins": "", "csrf_token": token})
    assert off.status_code == 303
    assert "badge ok" not in (await client.get(f"/app/o/{org.id}/agents/{agent_id}")).text


async def test_credentials_are_added_with_field_errors_and_never_shown(client: httpx.AsyncClient, runtime: Runtime):
    org = await make_org(runtime)
    token = await dashboard_sign_in(client, org.owner_email)
    url = f"/app/o/{org.id}/provider-credentials"
    bad = await client.post(url, data={"name": "", "provider": "openai", "api_key": "", "csrf_token": token})
    assert bad.status_code == 422 and field_error(bad.text, "name") and field_error(bad.text, "api_key")
    ok = await client.post(
        url, data={"name": "Main", "provider": "openai", "api_key": "sk-secret-1234", "csrf_token": token}
    )
    assert ok.status_code == 303
    page = await client.get(f"/app/o/{org.id}/agents")
    assert "Main — openai" in page.text and "sk-secret-1234" not in page.text
