"""Data-subject requests: the requests, their status history, and one-time codes for self-service.

Revision ID: 0009_rights
Revises: 0006_widget
Create Date: 2026-12-07 19:34:54.309990
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0009_rights"
down_revision: str | None = "0008_email"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("identifier_hash", sa.String(length=64), nullable=False),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("consumed_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'phone')", name=op.f("ck_privacy_challenges_channel")),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_privacy_challenges_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_challenges")),
    )
    with op.batch_alter_table("privacy_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_challenges_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_privacy_challenges_org_id_identifier_hash", ["org_id", "identifier_hash"], unique=False
        )
        batch_op.create_index("ix_privacy_challenges_org_id_ip_hash", ["org_id", "ip_hash"], unique=False)

    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("subject_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("received_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("due_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("extended_due_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("deadline_flag", sa.String(length=16), nullable=False),
        sa.Column("acted_by_user_id", sa.String(length=40), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("completed_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("export_file", sa.String(length=300), nullable=True),
        sa.Column("export_token_hash", sa.String(length=64), nullable=True),
        sa.Column("export_expires_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "deadline_flag IN ('none', 'soon', 'overdue')", name=op.f("ck_privacy_requests_deadline_flag")
        ),
        sa.CheckConstraint(
            "kind IN ('access', 'portability', 'rectification', 'erasure', 'restriction', 'objection', 'consent_withdrawal')",
            name=op.f("ck_privacy_requests_kind"),
        ),
        sa.CheckConstraint("source IN ('staff', 'public', 'widget')", name=op.f("ck_privacy_requests_source")),
        sa.CheckConstraint(
            "status IN ('received', 'verified', 'in_progress', 'extended', 'completed', 'refused')",
            name=op.f("ck_privacy_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["acted_by_user_id"],
            ["users.id"],
            name=op.f("fk_privacy_requests_acted_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_privacy_requests_contact_id_contacts"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_privacy_requests_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_requests_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_requests_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_privacy_requests_org_id_status_due_at", ["org_id", "status", "due_at"], unique=False)

    op.create_table(
        "privacy_request_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor_type", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_privacy_request_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_request_events_request_id_privacy_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request_events")),
    )
    with op.batch_alter_table("privacy_request_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_request_events_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_privacy_request_events_request_id"), ["request_id"], unique=False)

    for table in ("privacy_requests", "privacy_request_events", "privacy_challenges"):
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in ("privacy_requests", "privacy_request_events", "privacy_challenges"):
        disable_tenant_rls(table)
    with op.batch_alter_table("privacy_request_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_request_events_request_id"))
        batch_op.drop_index(batch_op.f("ix_privacy_request_events_org_id"))

    op.drop_table("privacy_request_events")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_org_id_status_due_at")
        batch_op.drop_index(batch_op.f("ix_privacy_requests_org_id"))
        batch_op.drop_index(batch_op.f("ix_privacy_requests_contact_id"))

    op.drop_table("privacy_requests")
    with op.batch_alter_table("privacy_challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_challenges_org_id_ip_hash")
        batch_op.drop_index("ix_privacy_challenges_org_id_identifier_hash")
        batch_op.drop_index(batch_op.f("ix_privacy_challenges_org_id"))

    op.drop_table("privacy_challenges")
