"""Email channel: threading state per email conversation, and how far each polled IMAP mailbox has been read.

Revision ID: 0008_email
Revises: 0007_channels
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0008_email"
down_revision: str | None = "0007_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_threads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("last_message_id", sa.String(length=250), nullable=True),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_email_threads_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_email_threads_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_email_threads_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_threads")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_email_threads_conversation_id")),
    )
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_threads_connection_id"), ["connection_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_email_threads_org_id"), ["org_id"], unique=False)
    op.create_table(
        "email_mailboxes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_email_mailboxes_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_email_mailboxes_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_mailboxes")),
        sa.UniqueConstraint("connection_id", name=op.f("uq_email_mailboxes_connection_id")),
    )
    with op.batch_alter_table("email_mailboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_mailboxes_org_id"), ["org_id"], unique=False)
    enable_tenant_rls("email_threads")
    enable_tenant_rls("email_mailboxes")


def downgrade() -> None:
    disable_tenant_rls("email_mailboxes")
    disable_tenant_rls("email_threads")
    with op.batch_alter_table("email_mailboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_mailboxes_org_id"))
    op.drop_table("email_mailboxes")
    with op.batch_alter_table("email_threads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_threads_org_id"))
        batch_op.drop_index(batch_op.f("ix_email_threads_connection_id"))
    op.drop_table("email_threads")
