"""The audit log is append-only and readable page by page."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from parley.runtime import Runtime
from tests.factories import bearer, make_org, make_token


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"])
async def test_audit_rows_cannot_be_changed_or_deleted(runtime: Runtime, statement: str):
    org = await make_org(runtime)
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": org.id})
        with pytest.raises(DBAPIError, match=r"append-only|permission denied"):
            await conn.execute(text(statement))
        await conn.rollback()


async def test_audit_log_pages_backwards(client, runtime: Runtime):
    org = await make_org(runtime)
    headers = bearer((await make_token(runtime, org.id, "owner"))[1])
    for n in range(5):
        await client.patch(f"/api/v1/orgs/{org.id}", json={"name": f"Name {n}"}, headers=headers)
    first = (
        await client.get(f"/api/v1/orgs/{org.id}/audit", params={"limit": 3, "action": "org.renamed"}, headers=headers)
    ).json()
    assert [e["details"]["to"] for e in first["events"]] == ["Name 4", "Name 3", "Name 2"]
    second = (
        await client.get(
            f"/api/v1/orgs/{org.id}/audit",
            params={"limit": 3, "action": "org.renamed", "before": first["next_before"]},
            headers=headers,
        )
    ).json()
    assert [e["details"]["to"] for e in second["events"]] == ["Name 1", "Name 0"]
    assert second["next_before"] is None
    event = first["events"][0]
    assert event["actor_type"] == "token" and event["target_type"] == "organization" and event["request_id"]
