"""Consent ledger: versioned consent texts, append-only consent events (replacing the widget's consent_records),
widget analytics counted with consent, and sub-processor snapshots.

The widget's earlier choices move into consent_events when the visitor is known as a contact (they wrote at
least one message); a choice of a visitor who never wrote named nobody we can find again and gated no
processing yet (analytics were not counted before this revision), so it is not carried over.

Revision ID: 0010_consent
Revises: 0006_widget
Create Date: 2026-12-07 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0010_consent"
down_revision: str | None = "0009_rights"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = "('marketing', 'analytics', 'call_recording', 'ai_voice_processing')"
CHANNELS = "('widget', 'api', 'staff', 'sms', 'whatsapp', 'email', 'voice')"


def upgrade() -> None:
    op.create_table(
        "consent_texts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"purpose IN {PURPOSES}", name=op.f("ck_consent_texts_purpose")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_consent_texts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_texts")),
        sa.UniqueConstraint(
            "org_id", "purpose", "language", "version", name=op.f("uq_consent_texts_org_id_purpose_language_version")
        ),
    )
    op.create_index(op.f("ix_consent_texts_org_id"), "consent_texts", ["org_id"], unique=False)

    op.create_table(
        "consent_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=80), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("text_id", sa.String(length=40), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("recorded_by", sa.String(length=40), nullable=True),
        sa.CheckConstraint(f"purpose IN {PURPOSES}", name=op.f("ck_consent_events_purpose")),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f("ck_consent_events_channel")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_consent_events_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["text_id"], ["consent_texts.id"], name=op.f("fk_consent_events_text_id_consent_texts"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_events")),
    )
    op.create_index(
        "ix_consent_events_current", "consent_events", ["org_id", "contact_id", "purpose", "occurred_at"], unique=False
    )
    op.create_index(op.f("ix_consent_events_org_id"), "consent_events", ["org_id"], unique=False)
    op.create_index(op.f("ix_consent_events_text_id"), "consent_events", ["text_id"], unique=False)

    op.create_table(
        "widget_analytics_daily",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_widget_analytics_daily_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_widget_analytics_daily")),
        sa.UniqueConstraint(
            "org_id", "agent_id", "day", "metric", name=op.f("uq_widget_analytics_daily_org_id_agent_id_day_metric")
        ),
    )
    op.create_index(op.f("ix_widget_analytics_daily_org_id"), "widget_analytics_daily", ["org_id"], unique=False)

    op.create_table(
        "subprocessor_snapshots",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("owners_notified", sa.Integer(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_subprocessor_snapshots_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subprocessor_snapshots")),
        sa.UniqueConstraint("org_id", "sequence", name=op.f("uq_subprocessor_snapshots_org_id_sequence")),
    )
    op.create_index(op.f("ix_subprocessor_snapshots_org_id"), "subprocessor_snapshots", ["org_id"], unique=False)

    _copy_widget_choices()
    disable_tenant_rls("consent_records")
    op.drop_table("consent_records")
    for table in ("consent_texts", "consent_events", "widget_analytics_daily", "subprocessor_snapshots"):
        enable_tenant_rls(table)


def _copy_widget_choices() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:  # the owner copies every tenant's rows at once
        for table in ("consent_records", "contact_identifiers"):
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(
        "INSERT INTO consent_events (id, org_id, contact_id, purpose, granted, channel, occurred_at, evidence) "
        "SELECT r.id, r.org_id, i.contact_id, r.purpose, r.granted, 'widget', r.created_at, NULL "
        "FROM consent_records r JOIN contact_identifiers i "
        "ON i.org_id = r.org_id AND i.kind = 'visitor' AND i.value = r.subject"
    )
    if postgres:
        op.execute("ALTER TABLE contact_identifiers FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    for table in ("subprocessor_snapshots", "widget_analytics_daily", "consent_events", "consent_texts"):
        disable_tenant_rls(table)
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
    op.create_index(op.f("ix_consent_records_agent_id"), "consent_records", ["agent_id"], unique=False)
    op.create_index(op.f("ix_consent_records_org_id"), "consent_records", ["org_id"], unique=False)
    op.create_index(op.f("ix_consent_records_subject"), "consent_records", ["subject"], unique=False)
    enable_tenant_rls("consent_records")
    op.drop_table("subprocessor_snapshots")
    op.drop_table("widget_analytics_daily")
    op.drop_table("consent_events")
    op.drop_table("consent_texts")
