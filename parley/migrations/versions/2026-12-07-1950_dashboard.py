"""Inbox (dashboard): who has a conversation, low-confidence flag, when it was closed; staff's internal notes.

Revision ID: 0011_dashboard
Revises: 0006_widget
Create Date: 2026-12-07 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0011_dashboard"
down_revision: str | None = "0006_widget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_user_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("low_confidence", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("closed_at", parley.kit.db.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_assignee_user_id_users"),
            "users",
            ["assignee_user_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("author_user_id", sa.String(length=40), nullable=True),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name=op.f("fk_conversation_notes_author_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_notes_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_conversation_notes_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_notes")),
    )
    with op.batch_alter_table("conversation_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_notes_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_conversation_notes_org_id"), ["org_id"], unique=False)
    enable_tenant_rls("conversation_notes")


def downgrade() -> None:
    disable_tenant_rls("conversation_notes")
    with op.batch_alter_table("conversation_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_notes_org_id"))
        batch_op.drop_index(batch_op.f("ix_conversation_notes_conversation_id"))
    op.drop_table("conversation_notes")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_conversations_assignee_user_id_users"), type_="foreignkey")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("low_confidence")
        batch_op.drop_column("assignee_user_id")
