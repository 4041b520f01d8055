"""Outbox for email sent after commit; hash chain over the audit log.

Revision ID: 0005_outbox_audit
Revises: 0002_engine
Create Date: 2026-11-22 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0005_outbox_audit"
down_revision: str | None = "0002_engine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLATFORM_ROWS = "org_id IS NULL AND current_setting('app.platform', true) = 'on'"


def upgrade() -> None:
    _create_outbox()


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


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS platform_outbox ON outbox")
    disable_tenant_rls("outbox")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_org_id_status_next_attempt_at")
    op.drop_table("outbox")
