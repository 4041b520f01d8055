"""The privacy notice, sub-processors and record of processing are generated from what is configured."""

from __future__ import annotations

import csv
import io

from parley.runtime import Runtime
from parley.tenancy.permissions import Role
from tests.factories import bearer, make_org, make_token
from tests.test_engine import _setup


async def _slug(client, base: str, headers: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    return str((await client.get(base, headers=headers)).json()["slug"])


async def test_the_notice_lists_exactly_the_configured_subprocessors_and_retention(client, runtime: Runtime):
    base, headers, _ = await _setup(client, runtime)
    slug = await _slug(client, base, headers)

    page = await client.get(f"/privacy/{slug}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "set-cookie" not in page.headers
    assert "No outside provider" in page.text and "365 days after the last message" in page.text
    assert (await client.get(f"{base}/privacy/subprocessors", headers=headers)).json() == []

    credential = await client.post(
        f"{base}/provider-credentials",
        json={"name": "OpenAI", "provider": "openai", "api_key": "sk-test-1234"},
        headers=headers,
    )
    unused = await client.post(
        f"{base}/provider-credentials",
        json={"name": "Claude", "provider": "anthropic", "api_key": "sk-ant-test-5678"},
        headers=headers,
    )
    assert unused.status_code == 201
    agent = await client.post(
        f"{base}/agents",
        json={"name": "Remote <b>", "provider": "openai", "model": "gpt-4o", "credential_id": credential.json()["id"]},
        headers=headers,
    )
    assert agent.status_code == 201, agent.text
    await client.patch(f"{base}/privacy/retention", json={"conversation_retention_days": 90}, headers=headers)

    listed = (await client.get(f"{base}/privacy/subprocessors", headers=headers)).json()
    assert [(p["name"], p["location"], p["used_by_agents"]) for p in listed] == [
        ("OpenAI, L.L.C.", "United States", ["Remote <b>"])
    ]  # the Anthropic credential is configured but no agent uses it: no data goes there
    page = (await client.get(f"/privacy/{slug}")).text
    assert "OpenAI, L.L.C." in page and "Anthropic" not in page
    assert "90 days after the last message" in page and "365 days" not in page
    assert "user.contact.email" in page


async def test_unknown_or_deleted_organisations_have_no_notice(client, runtime: Runtime):
    assert (await client.get("/privacy/no-such-business")).status_code == 404


async def test_record_of_processing_as_json_and_csv(client, runtime: Runtime):
    org = await make_org(runtime, "Café Record")
    admin = bearer((await make_token(runtime, org.id, Role.ADMIN))[1])
    viewer = bearer((await make_token(runtime, org.id, Role.VIEWER))[1])
    base = f"/api/v1/orgs/{org.id}/privacy/record-of-processing"
    assert (await client.get(base, headers=viewer)).status_code == 403
    rows = (await client.get(base, headers=admin)).json()
    assert rows and all(r["controller"] == "Café Record" for r in rows)
    assert {"activity", "legal_basis", "recipients", "retention", "security_measures"} <= set(rows[0])
    as_csv = await client.get(base, params={"format": "csv"}, headers=admin)
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.DictReader(io.StringIO(as_csv.text))) == rows
