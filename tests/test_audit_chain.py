"""The audit log is a hash chain per organisation: tampering with it, even as the database owner, is found."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.models import AuditEvent
from parley.privacy import audit, verify
from parley.privacy.audit import AuditOutsideWriteTransaction
from parley.privacy.chain import GENESIS, ip_pseudonym, link_hash
from parley.privacy.prune import prune_audit
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from tests.factories import PASSWORD, bearer, database_rows, make_org, make_token, make_user, sign_in

SQLITE_TRIGGERS = {
    "audit_events_no_update": "BEFORE UPDATE ON audit_events",
    "audit_events_no_delete": "BEFORE DELETE ON audit_events",
}


async def as_owner_past_the_triggers(settings: Settings, sql: str, params: dict[str, Any] | None = None) -> None:
    """What someone with the database owner's access could do: raw SQL with the append-only triggers out of
    the way (and, on PostgreSQL, as the owner, whom row-level security does not bind here)."""
    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    async with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            for name in SQLITE_TRIGGERS:
                await conn.execute(text(f"DROP TRIGGER {name}"))
        await conn.execute(text(sql), params or {})
        if postgres:
            await conn.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
        else:
            for name, when in SQLITE_TRIGGERS.items():
                await conn.execute(
                    text(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
                )
    await engine.dispose()


async def record_events(runtime: Runtime, org_id: str, count: int, *, ip: str | None = None) -> None:
    for n in range(count):
        actor = Actor("user", "usr_test", RequestInfo(request_id=f"req-{n}", ip=ip))
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.system_scope(db, org_id, actor)
            await audit.record_in_scope(db, runtime.clock, scope, "test.event", target_type="test", details={"n": n})


async def chain(settings: Settings, chain_id: str) -> list[dict[str, Any]]:
    rows = [r for r in (await database_rows(settings))["audit_events"] if r["chain_id"] == chain_id]
    return sorted(rows, key=lambda r: r["seq"])


async def verified(runtime: Runtime, org_id: str) -> verify.Verification:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org_id, Actor.system())
        return await verify.verify_organization(db, scope)


async def test_a_valid_chain_verifies_through_the_api(client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    owner = bearer((await make_token(runtime, org.id, "owner"))[1])
    for n in range(3):
        await client.patch(f"/api/v1/orgs/{org.id}", json={"name": f"Name {n}"}, headers=owner)
    rows = await chain(settings, org.id)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 5
    assert rows[0]["prev_hash"] == GENESIS
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in pairwise(rows))
    response = await client.get(f"/api/v1/orgs/{org.id}/audit/verify", headers=owner)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "ok": True,
        "checked": len(rows),
        "first_broken": None,
        "first_seq": 1,
        "head_seq": len(rows),
        "head_hash": rows[-1]["hash"],
    }
    viewer = bearer((await make_token(runtime, org.id, "viewer"))[1])
    assert (await client.get(f"/api/v1/orgs/{org.id}/audit/verify", headers=viewer)).status_code == 403


async def test_a_row_edited_in_the_database_is_reported_as_the_first_broken_link(
    client, runtime: Runtime, settings: Settings
):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 4)
    rows = await chain(settings, org.id)
    victim = rows[3]
    await as_owner_past_the_triggers(
        settings, "UPDATE audit_events SET action = 'member.nothing_happened' WHERE id = :id", {"id": victim["id"]}
    )
    owner = bearer((await make_token(runtime, org.id, "owner"))[1])
    report = (await client.get(f"/api/v1/orgs/{org.id}/audit/verify", headers=owner)).json()
    assert report["ok"] is False and report["checked"] == 4
    assert report["first_broken"]["id"] == victim["id"] and report["first_broken"]["seq"] == 4
    assert "changed" in report["first_broken"]["reason"]


async def test_a_rewritten_row_with_a_fresh_hash_breaks_the_next_link(runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 4)
    rows = await chain(settings, org.id)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:  # the row as the app reads it (typed)
        await platform.system_scope(db, org.id, Actor.system())
        stored = (await db.execute(select(AuditEvent.__table__).where(AuditEvent.id == rows[2]["id"]))).one()
    forged = SimpleNamespace(**{**stored._asdict(), "action": "forged"})
    await as_owner_past_the_triggers(
        settings,
        "UPDATE audit_events SET action = 'forged', hash = :hash WHERE id = :id",
        {"hash": link_hash(forged.prev_hash, forged), "id": forged.id},
    )
    result = await verified(runtime, org.id)
    assert result.first_broken is not None
    assert (result.first_broken.id, result.first_broken.seq) == (rows[3]["id"], 4)
    assert "replaced" in result.first_broken.reason


async def test_a_row_deleted_from_the_middle_is_detected(runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 4)
    rows = await chain(settings, org.id)
    await as_owner_past_the_triggers(settings, "DELETE FROM audit_events WHERE id = :id", {"id": rows[2]["id"]})
    result = await verified(runtime, org.id)
    assert result.ok is False and result.first_broken is not None
    assert (result.first_broken.id, result.first_broken.seq) == (rows[3]["id"], 4)
    assert "missing" in result.first_broken.reason


async def test_chains_of_two_organisations_are_independent(runtime: Runtime, settings: Settings):
    a, b = await make_org(runtime, "Org A"), await make_org(runtime, "Org B")
    await asyncio.gather(record_events(runtime, a.id, 5), record_events(runtime, b.id, 5))
    rows_a, rows_b = await chain(settings, a.id), await chain(settings, b.id)
    assert rows_a[0]["seq"] == rows_b[0]["seq"] == 1
    assert {r["org_id"] for r in rows_a} == {a.id} and {r["org_id"] for r in rows_b} == {b.id}
    await as_owner_past_the_triggers(
        settings, "UPDATE audit_events SET target_id = 'x' WHERE id = :id", {"id": rows_a[1]["id"]}
    )
    assert (await verified(runtime, a.id)).ok is False
    assert (await verified(runtime, b.id)).ok is True


async def test_platform_events_have_a_chain_of_their_own(client, runtime: Runtime, settings: Settings):
    admin_email = await make_user(runtime, superadmin=True)
    await client.post("/api/v1/auth/login", json={"email": admin_email, "password": "wrong password"})
    await sign_in(client, admin_email, PASSWORD)
    rows = await chain(settings, "platform")
    assert [r["action"] for r in rows][-2:] == ["auth.login_failed", "auth.login"] and rows[0]["org_id"] is None
    report = (await client.get("/api/v1/admin/audit/verify")).json()
    assert (report["ok"], report["checked"]) == (True, len(rows))
    await as_owner_past_the_triggers(
        settings, "UPDATE audit_events SET actor_id = NULL WHERE id = :id", {"id": rows[-1]["id"]}
    )
    report = (await client.get("/api/v1/admin/audit/verify")).json()
    assert report["ok"] is False and report["first_broken"]["id"] == rows[-1]["id"]


async def test_anonymising_the_ip_leaves_the_chain_valid_and_its_pseudonym_stays_evidence(
    runtime: Runtime, settings: Settings
):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 3, ip="203.0.113.7")
    rows = await chain(settings, org.id)
    assert rows[-1]["ip"] == "203.0.113.7"
    assert rows[-1]["ip_hmac"] == ip_pseudonym(runtime.pseudonym_key, "203.0.113.7") != "203.0.113.7"
    await as_owner_past_the_triggers(
        settings, "UPDATE audit_events SET ip = NULL WHERE id = :id", {"id": rows[0]["id"]}
    )
    await as_owner_past_the_triggers(
        settings, "UPDATE audit_events SET ip = '203.0.113.0' WHERE id = :id", {"id": rows[1]["id"]}
    )
    assert (await verified(runtime, org.id)).ok is True
    await as_owner_past_the_triggers(
        settings,
        "UPDATE audit_events SET ip_hmac = :other WHERE id = :id",
        {"other": ip_pseudonym(runtime.pseudonym_key, "198.51.100.1"), "id": rows[2]["id"]},
    )
    result = await verified(runtime, org.id)
    assert result.first_broken is not None and result.first_broken.id == rows[2]["id"]


async def test_eight_concurrent_writers_keep_one_valid_chain(runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    before = len(await chain(settings, org.id))
    await asyncio.gather(*(record_events(runtime, org.id, 6) for _ in range(8)))
    rows = await chain(settings, org.id)
    assert [r["seq"] for r in rows] == list(range(1, before + 49))
    result = await verified(runtime, org.id)
    assert (result.ok, result.checked) == (True, before + 48)


async def test_recording_in_a_read_transaction_is_refused(runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    count = len(await chain(settings, org.id))
    with pytest.raises(AuditOutsideWriteTransaction):
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            scope = await platform.system_scope(db, org.id, Actor.system())
            await audit.record_in_scope(db, runtime.clock, scope, "test.event")
    assert len(await chain(settings, org.id)) == count


async def test_audited_reads_interleave_with_writes_without_failing(client, runtime: Runtime, settings: Settings):
    """GETs that audit (personal data shown) run as write transactions, so on SQLite they never hit a stale
    read snapshot that cannot become a writer; all requests succeed and the chain holds."""
    org = await make_org(runtime)
    owner = bearer((await make_token(runtime, org.id, "owner"))[1])
    requests = [client.get(f"/api/v1/orgs/{org.id}/outbox", headers=owner) for _ in range(10)] + [
        client.patch(f"/api/v1/orgs/{org.id}", json={"name": f"Name {n}"}, headers=owner) for n in range(10)
    ]
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [200] * 20
    result = await verified(runtime, org.id)
    assert result.ok and result.checked == len(await chain(settings, org.id))


async def test_pruning_old_rows_keeps_the_chain_verifiable(client, runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 3)
    runtime.clock.advance(days=400)  # type: ignore[attr-defined]
    await record_events(runtime, org.id, 2)
    before = await chain(settings, org.id)
    old = [r for r in before if r["seq"] <= len(before) - 2]
    removed = await prune_audit(
        settings, runtime.clock, runtime.pseudonym_key, before=runtime.clock.now() - timedelta(days=365)
    )
    assert removed[org.id] == len(old)
    after = await chain(settings, org.id)
    assert [r["seq"] for r in after] == [len(old) + 1, len(old) + 2, len(old) + 3]
    pruned = after[-1]
    assert pruned["action"] == "audit.pruned" and pruned["prev_hash"] == before[-1]["hash"]
    result = await verified(runtime, org.id)
    assert (result.ok, result.checked, result.first_seq) == (True, 3, len(old) + 1)
    owner = bearer((await make_token(runtime, org.id, "owner"))[1])
    assert (await client.get(f"/api/v1/orgs/{org.id}/audit/verify", headers=owner)).json()["ok"] is True


async def test_rows_removed_from_the_start_without_pruning_are_detected(runtime: Runtime, settings: Settings):
    org = await make_org(runtime)
    await record_events(runtime, org.id, 3)
    rows = await chain(settings, org.id)
    await as_owner_past_the_triggers(settings, "DELETE FROM audit_events WHERE org_id = :o AND seq <= 2", {"o": org.id})
    result = await verified(runtime, org.id)
    assert result.first_broken is not None and result.first_broken.id == rows[2]["id"]
    assert "no audit.pruned event" in result.first_broken.reason


async def test_pruning_the_platform_chain_keeps_its_newest_row(runtime: Runtime, settings: Settings):
    await make_user(runtime)
    await make_user(runtime)
    runtime.clock.advance(days=10)  # type: ignore[attr-defined]
    removed = await prune_audit(settings, runtime.clock, runtime.pseudonym_key, before=runtime.clock.now())
    assert removed["platform"] == 1  # the newest of the two stays, so the chain carries on from it
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        result = await verify.verify_platform(db)
    assert (result.ok, result.checked, result.first_seq) == (True, 2, 2)
