"""PostgreSQL row-level security: the second wall behind the repositories' tenant filters."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.kit.db import unit_of_work
from parley.runtime import Runtime
from parley.tenancy import platform, service
from parley.tenancy.permissions import Role
from tests.factories import ACTOR, make_org, make_token

pytestmark = pytest.mark.postgres

TENANT_TABLES = ("memberships", "invitations", "api_tokens", "audit_events")


async def _seed(runtime: Runtime) -> tuple[str, str]:
    a, b = await make_org(runtime, "Org A"), await make_org(runtime, "Org B")
    for org in (a, b):
        await make_token(runtime, org.id, "viewer")
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.system_scope(db, org.id, ACTOR)
            await service.do_invite(db, runtime, scope, "invitee@example.com", Role.AGENT)
    return a.id, b.id


async def _counts(runtime: Runtime, org_id: str | None) -> dict[str, set[str | None]]:
    """Raw SQL as the app role: the org ids visible in each tenant table."""
    async with runtime.engine.connect() as conn:
        if org_id:
            await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": org_id})
        seen = {t: set((await conn.execute(text(f"SELECT DISTINCT org_id FROM {t}"))).scalars()) for t in TENANT_TABLES}
        await conn.rollback()
    return seen


async def test_app_role_is_neither_superuser_nor_owner(runtime: Runtime):
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))
        ).one()
        owners = set(
            (await conn.execute(text("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'"))).scalars()
        )
        user = await conn.scalar(text("SELECT current_user"))
    assert tuple(row) == (False, False)
    assert user not in owners


async def test_every_tenant_table_has_forced_row_level_security(runtime: Runtime):
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
                    "JOIN information_schema.columns col ON col.table_name = c.relname AND col.column_name = 'org_id' "
                    "WHERE c.relkind = 'r' AND col.table_schema = 'public'"
                )
            )
        ).all()
    assert {r[0] for r in rows} >= set(TENANT_TABLES)
    assert all(r[1] and r[2] for r in rows), rows


async def test_without_a_tenant_setting_no_tenant_rows_are_visible(runtime: Runtime):
    await _seed(runtime)
    assert await _counts(runtime, None) == {t: set() for t in TENANT_TABLES}


async def test_with_org_a_set_only_org_a_rows_are_visible(runtime: Runtime):
    a, _ = await _seed(runtime)
    assert await _counts(runtime, a) == {t: {a} for t in TENANT_TABLES}


async def test_writing_another_tenants_row_is_refused(runtime: Runtime):
    a, b = await _seed(runtime)
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": a})
        with pytest.raises(DBAPIError, match="row-level security"):
            await conn.execute(
                text(
                    "INSERT INTO api_tokens (id, org_id, name, role, token_hash, hint, created_at) "
                    "VALUES ('tok_x', :b, 'x', 'owner', 'h', 'hint', now())"
                ),
                {"b": b},
            )
        await conn.rollback()
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": a})
        changed = await conn.execute(text("UPDATE api_tokens SET name = 'pwned' WHERE org_id = :b"), {"b": b})
        assert changed.rowcount == 0
        await conn.rollback()


async def test_tenant_setting_does_not_leak_to_the_next_transaction(runtime: Runtime):
    a, _ = await _seed(runtime)
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": a})
        await conn.commit()
        assert (await conn.execute(text("SELECT count(*) FROM api_tokens"))).scalar() == 0
        await conn.rollback()


async def test_audit_rows_cannot_be_changed_by_the_app_role(runtime: Runtime):
    a, _ = await _seed(runtime)
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": a})
        with pytest.raises(DBAPIError, match="permission denied"):
            await conn.execute(text("UPDATE audit_events SET action = 'forged'"))
        await conn.rollback()


async def test_knowledge_search_can_use_its_index_under_row_level_security(client, runtime: Runtime):
    """The full-text match is marked LEAKPROOF (migration 0004), so the policy does not keep the planner from the
    GIN index: among a few thousand chunks, the app role's search for a rare word goes through the index."""
    from tests.test_engine import _setup

    base, _, _ = await _setup(client, runtime)
    org_id = base.rsplit("/", 1)[-1]
    async with runtime.engine.connect() as conn:
        assert await conn.scalar(
            text("SELECT proleakproof FROM pg_proc WHERE proname = 'ts_match_vq' AND pronamespace = 11")
        )
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": org_id})
        await conn.execute(
            text(
                "INSERT INTO chunks (id, org_id, knowledge_base_id, document_id, ordinal, heading, text) "
                "SELECT 'chk_filler_' || g, org_id, knowledge_base_id, document_id, 1000 + g, NULL, "
                "'filler words about the terrace number ' || g "
                "FROM (SELECT * FROM chunks LIMIT 1) c, generate_series(1, 40000) g"
            )
        )
        await conn.commit()
    # Statistics, as autovacuum would gather them (only the owner may ANALYZE).
    owner = create_async_engine(runtime.settings.effective_owner_url, poolclass=NullPool)
    async with owner.connect() as conn:
        await conn.execute(text("ANALYZE chunks"))
        await conn.commit()
    await owner.dispose()
    async with runtime.engine.connect() as conn:
        await conn.execute(text("SELECT set_config('app.org_id', :o, true)"), {"o": org_id})
        await conn.execute(text("SET LOCAL enable_seqscan = off"))  # a small table: make the scan choice visible
        plan = "\n".join(
            (
                await conn.execute(
                    text(
                        "EXPLAIN SELECT id FROM chunks WHERE search_vector @@ to_tsquery('simple', 'gluten') "
                        "AND org_id = :o"
                    ),
                    {"o": org_id},
                )
            ).scalars()
        )
        await conn.rollback()
    assert "ix_chunks_search_vector" in plan, plan
