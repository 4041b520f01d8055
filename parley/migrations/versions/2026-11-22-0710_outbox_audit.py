"""Outbox for email sent after commit; hash chain over the audit log.

Revision ID: 0005_outbox_audit
Revises: 0004_search_index_under_rls
Create Date: 2026-11-22 07:10:00
"""

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls
from parley.privacy.chain import GENESIS, chain_of, link_hash, normalised_json

revision: str = "0005_outbox_audit"
down_revision: str | None = "0004_search_index_under_rls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_ROWS = "org_id IS NULL AND current_setting('app.platform', true) = 'on'"


def upgrade() -> None:
    _create_outbox()
    _chain_audit_events()


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("claimed_until", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("settled_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_status")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_outbox_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_org_id_status_next_attempt_at", ["org_id", "status", "next_attempt_at"], unique=False
        )
    enable_tenant_rls("outbox")
    if op.get_bind().dialect.name == "postgresql":
        # Platform emails (no organisation) are read and settled only by work that says it is the platform's.
        op.execute(f"CREATE POLICY platform_outbox ON outbox USING ({PLATFORM_ROWS}) WITH CHECK ({PLATFORM_ROWS})")


def _sqlite_append_only(create: bool) -> None:
    """SQLite's append-only triggers (0001). Rebuilding the table (batch mode) drops them: made again after."""
    for event in ("UPDATE", "DELETE"):
        name = f"audit_events_no_{event.lower()}"
        if create:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def _chain_audit_events() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        _sqlite_append_only(create=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ip_hmac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    if postgres:
        # The owner links the existing rows: past the append-only trigger and (NO FORCE) row-level security.
        op.execute("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    _link_existing_rows()
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
        op.execute("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for column in ("chain_id", "seq", "prev_hash", "hash"):
            batch_op.alter_column(column, nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_chain_id_seq"), ["chain_id", "seq"])
    if not postgres:
        _sqlite_append_only(create=True)


def _link_existing_rows() -> None:
    """Rows written before the chain existed are linked in id (= time) order. They get no ip pseudonym (the
    key is not available to migrations), so their ip is not covered by the chain."""
    table = sa.table(
        "audit_events",
        *(sa.column(name) for name in ("id", "org_id", "actor_type", "actor_id", "action", "target_type")),
        *(sa.column(name) for name in ("target_id", "request_id", "ip_hmac", "chain_id", "seq", "prev_hash", "hash")),
        sa.column("occurred_at", parley.kit.db.UTCDateTime()),
        sa.column("details", sa.JSON()),
    )
    bind = op.get_bind()
    heads: dict[str, tuple[int, str]] = {}
    for row in bind.execute(sa.select(table).order_by(table.c.id)).all():
        chain = chain_of(row.org_id)
        seq, prev_hash = heads.get(chain, (0, GENESIS))
        link = SimpleNamespace(
            **{**row._asdict(), "chain_id": chain, "seq": seq + 1, "details": normalised_json(row.details or {})}
        )
        digest = link_hash(prev_hash, link)
        bind.execute(
            table.update()
            .where(table.c.id == row.id)
            .values(chain_id=chain, seq=seq + 1, prev_hash=prev_hash, hash=digest, details=link.details)
        )
        heads[chain] = (seq + 1, digest)


def downgrade() -> None:
    _unchain_audit_events()
    _drop_outbox()


def _unchain_audit_events() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if not postgres:
        _sqlite_append_only(create=False)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_chain_id_seq"), type_="unique")
        for column in ("hash", "prev_hash", "seq", "chain_id", "ip_hmac"):
            batch_op.drop_column(column)
    if not postgres:
        _sqlite_append_only(create=True)


def _drop_outbox() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS platform_outbox ON outbox")
    disable_tenant_rls("outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_org_id_status_next_attempt_at")
    op.drop_table("outbox")
