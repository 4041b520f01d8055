"""One tenant can never read or change another's data, on any route that takes an object id.

The routes are walked from the app's OpenAPI schema, so a route added later is covered automatically: a new
kind of path parameter makes `test_every_id_parameter_has_a_victim_object` fail until the test knows how to
make an object of that kind in the victim organisation.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

import parley.models  # noqa: F401
from parley.kit.db import Base
from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token, make_user, sign_in
from tests.openapi_samples import request_kwargs

# Path parameters that are not object ids (the invitation secret is a bearer credential, tested elsewhere).
# An invitation secret, and the public name of an organisation (its privacy notice is public on purpose).
NOT_OBJECT_IDS = {"secret", "slug"}
# Routes outside any organisation: identity and platform administration.
NOT_TENANT_ROUTES = ("/api/v1/auth/", "/api/v1/invitations/", "/api/v1/admin/", "/api/v1/orgs")


def tenant_operations(app: Any) -> list[tuple[str, str, dict[str, Any]]]:
    spec = app.openapi()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if "{" in path
    ]


async def make_victim(runtime: Runtime) -> dict[str, str]:
    """Organisation A with one object of every kind a route can name."""
    org = await make_org(runtime, "Victim Org")
    await make_user(runtime, org_id=org.id, role="agent")
    token_id, _ = await make_token(runtime, org.id, "viewer")
    owner_client_ids = {"org_id": org.id, "token_id": token_id}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app_for(runtime)), base_url="http://127.0.0.1:8000"
    ) as owner:
        csrf = await sign_in(owner, org.owner_email)
        invitation = await owner.post(
            f"/api/v1/orgs/{org.id}/invitations", json={"email": "invitee@example.com", "role": "agent"}, headers=csrf
        )
        members = await owner.get(f"/api/v1/orgs/{org.id}/members")
        base = f"/api/v1/orgs/{org.id}"
        kb = (await owner.post(f"{base}/knowledge-bases", json={"name": "FAQ"}, headers=csrf)).json()
        document = await owner.post(
            f"{base}/knowledge-bases/{kb['id']}/documents",
            files={"file": ("faq.txt", b"We open at nine in the morning.", "text/plain")},
            headers=csrf,
        )
        agent = (
            await owner.post(f"{base}/agents", json={"name": "Helper", "knowledge_base_ids": [kb["id"]]}, headers=csrf)
        ).json()
        credential = await owner.post(
            f"{base}/provider-credentials",
            json={"name": "OpenAI", "provider": "openai", "api_key": "sk-victim-secret"},
            headers=csrf,
        )
        # The agent's web chat widget is on, so a widget route given the victim's agent id finds something.
        widget = await owner.put(
            f"{base}/agents/{agent['id']}/widget", json={"allowed_origins": ["https://victim.example"]}, headers=csrf
        )
        assert widget.status_code == 200, widget.text
        agent_token = await owner.post(
            f"{base}/tokens", json={"name": "widget", "role": "agent", "agent_id": agent["id"]}, headers=csrf
        )
        chat = await owner.post(
            "/v1/chat/completions",
            json={
                "model": "parley",
                "user": "visitor-1",
                "messages": [{"role": "user", "content": "When do you open?"}],
            },
            headers=bearer(agent_token.json()["secret"]),
        )
        assert chat.status_code == 200, chat.text
        conversations = (await owner.get(f"{base}/conversations")).json()["conversations"]
        # Messaging channels: a WhatsApp connection of the victim's agent.
        channel = await owner.post(
            f"{base}/channels",
            json={
                "kind": "whatsapp",
                "agent_id": agent["id"],
                "name": "WhatsApp",
                "config": {"phone_number_id": "1065"},
                "secrets": {"access_token": "t", "app_secret": "s", "verify_token": "v"},
            },
            headers=csrf,
        )
        assert channel.status_code == 201, channel.text
    owner_client_ids["invitation_id"] = invitation.json()["id"]
    owner_client_ids["member_id"] = next(m["id"] for m in members.json() if m["role"] == "agent")
    owner_client_ids["knowledge_base_id"] = kb["id"]
    owner_client_ids["document_id"] = document.json()["id"]
    owner_client_ids["agent_id"] = agent["id"]
    owner_client_ids["credential_id"] = credential.json()["id"]
    owner_client_ids["conversation_id"] = conversations[0]["id"]
    owner_client_ids["contact_id"] = conversations[0]["contact_id"]
    owner_client_ids["connection_id"] = channel.json()["id"]
    return owner_client_ids


def _app_for(runtime: Runtime) -> Any:
    from parley.app import create_app

    return create_app(runtime=runtime)


async def snapshot(runtime: Runtime, org_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row that belongs to the organisation, in every table, plus the users who are its members."""
    from parley.kit.db import set_pg_setting, unit_of_work

    state: dict[str, list[dict[str, Any]]] = {}
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        for table in Base.metadata.sorted_tables:
            if "org_id" in table.c:
                query = select(table).where(table.c.org_id == org_id)
            elif table.name == "organizations":
                query = select(table).where(table.c.id == org_id)
            elif table.name == "users":
                query = select(table)
            else:
                continue
            rows = (await db.execute(query.order_by(*table.primary_key.columns))).mappings().all()
            state[table.name] = [dict(r) for r in rows]
    return state


def fill_path(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


async def test_every_id_parameter_has_a_victim_object(app, runtime: Runtime):
    victim = await make_victim(runtime)
    for _, path, _ in tenant_operations(app):
        if path.startswith("/api/v1/admin/"):  # platform objects (the breach register): super-admin only
            continue
        for param in path_params(path):
            if param not in NOT_OBJECT_IDS:
                assert param in victim, f"{path}: teach make_victim() to create a '{param}' in the victim org"


@pytest.mark.parametrize("credential", ["token", "cookie"])
async def test_other_tenants_objects_are_not_found_and_unchanged(app, client, runtime: Runtime, credential):
    victim = await make_victim(runtime)
    attacker = await make_org(runtime, "Attacker Org")
    headers: dict[str, str]
    if credential == "token":
        headers = bearer((await make_token(runtime, attacker.id, "owner"))[1])
    else:
        headers = await sign_in(client, attacker.owner_email)
    spec = app.openapi()
    before = await snapshot(runtime, victim["org_id"])
    checked = 0
    for method, path, operation in tenant_operations(app):
        params = path_params(path)
        if any(p in NOT_OBJECT_IDS for p in params) or "org_id" not in params:
            continue
        body = request_kwargs(operation, spec)
        # 1. The victim's organisation id with the attacker's credentials.
        # 2. The attacker's own organisation with the victim's object ids.
        targets = [fill_path(path, victim)]
        if len(params) > 1:
            targets.append(fill_path(path, {**victim, "org_id": attacker.id}))
        for url in targets:
            response = await client.request(method, url, headers=headers, **body)
            assert response.status_code == 404, f"{method} {url}: {response.status_code} {response.text}"
            assert response.json()["error"] == "not_found"
            checked += 1
    assert checked >= 10, "the walk found too few routes; is the OpenAPI schema complete?"
    assert await snapshot(runtime, victim["org_id"]) == before


async def test_missing_and_foreign_objects_look_the_same(client, runtime: Runtime):
    victim = await make_victim(runtime)
    attacker = await make_org(runtime)
    headers = bearer((await make_token(runtime, attacker.id, "owner"))[1])
    foreign = await client.get(f"/api/v1/orgs/{attacker.id}/members/{victim['member_id']}", headers=headers)
    missing = await client.get(f"/api/v1/orgs/{attacker.id}/members/mem_doesnotexist", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == missing.json()["detail"]
    foreign_org = await client.get(f"/api/v1/orgs/{victim['org_id']}", headers=headers)
    missing_org = await client.get("/api/v1/orgs/org_doesnotexist", headers=headers)
    assert foreign_org.json()["detail"] == missing_org.json()["detail"]
