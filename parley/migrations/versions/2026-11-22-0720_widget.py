"""Web chat widget: per-agent widget settings (allowed origins, age gate, analytics consent, privacy notice),
the consent ledger, and the visitor's address and browser on conversations.

Revision ID: 0006_widget
Revises: 0005_outbox_audit
Create Date: 2026-11-22 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0006_widget"
down_revision: str | None = "0005_outbox_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_widgets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        sa.Column("min_age", sa.Integer(), nullable=True),
        sa.Column("analytics_enabled", sa.Boolean(), nullable=False),
        sa.Column("privacy_notice_url", sa.String(length=2000), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "min_age IS NULL OR (min_age >= 13 AND min_age <= 21)", name=op.f("ck_agent_widgets_min_age")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_widgets_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_agent_widgets_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_widgets")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_agent_widgets_agent_id")),
    )
    with op.batch_alter_table("agent_widgets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_widgets_org_id"), ["org_id"], unique=False)

    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=True),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("notice_version", sa.String(length=64), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("purpose IN ('analytics')", name=op.f("ck_consent_records_purpose")),
        sa.CheckConstraint("source IN ('widget')", name=op.f("ck_consent_records_source")),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_consent_records_agent_id_agents"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_consent_records_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_records_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_consent_records_subject"), ["subject"], unique=False)

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visitor_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("visitor_user_agent", sa.String(length=500), nullable=True))

    # A visitor's browser knows only the agent id (from the embed snippet): its widget row is found by that id
    # alone, read-only, before the tenant is set.
    enable_tenant_rls("agent_widgets", lookup="agent_id = current_setting('app.widget_agent_id', true)")
    enable_tenant_rls("consent_records")


def downgrade() -> None:
    disable_tenant_rls("consent_records")
    disable_tenant_rls("agent_widgets")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("visitor_user_agent")
        batch_op.drop_column("visitor_ip")

    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_subject"))
        batch_op.drop_index(batch_op.f("ix_consent_records_org_id"))
        batch_op.drop_index(batch_op.f("ix_consent_records_agent_id"))
    op.drop_table("consent_records")
    with op.batch_alter_table("agent_widgets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_widgets_org_id"))
    op.drop_table("agent_widgets")
