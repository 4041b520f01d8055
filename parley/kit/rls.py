"""Row-level security for tenant tables on PostgreSQL, used by migrations.

Every tenant table gets one policy for all commands: rows are visible and writable only when their `org_id`
equals the transaction's `app.org_id`. FORCE applies it to the table owner too. A table may add a read-only
lookup policy for the one thing that must be found before the tenant is known (a token by the hash of its
secret, a user's own memberships) — policies for the same command are OR-ed, so the lookup widens SELECT only.
"""

from __future__ import annotations

from alembic import op

TENANT_CONDITION = "org_id = current_setting('app.org_id', true)"


def enable_tenant_rls(table: str, *, lookup: str | None = None, insert_platform_rows: bool = False) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_CONDITION}) WITH CHECK ({TENANT_CONDITION})")
    if lookup:
        op.execute(f"CREATE POLICY tenant_lookup ON {table} FOR SELECT USING ({lookup})")
    if insert_platform_rows:
        op.execute(f"CREATE POLICY platform_rows ON {table} FOR INSERT WITH CHECK (org_id IS NULL)")


def disable_tenant_rls(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for policy in ("tenant_isolation", "tenant_lookup", "platform_rows"):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
