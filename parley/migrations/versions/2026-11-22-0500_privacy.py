"""Privacy core: keys move to their own key store, conversation retention, account deletion with grace,
restriction of processing for a contact.

Organisation keys used to live in `org_keys` here; `parley migrate` copies them into the key store (a database of
its own, see parley/privacy/keystore.py) before this migration drops the table, so that a backup of this
database never holds a key.

Revision ID: 0003_privacy
Revises: 0002_engine
Create Date: 2026-11-22 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0003_privacy"
down_revision: str | None = "0002_engine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    disable_tenant_rls("org_keys")
    op.drop_table("org_keys")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conversation_retention_days", sa.Integer(), server_default="365", nullable=False)
        )
        batch_op.add_column(sa.Column("deletion_requested_at", parley.kit.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("deletion_requested_by", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("deletion_due_at", parley.kit.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", parley.kit.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deletion_requested_at", parley.kit.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("deletion_due_at", parley.kit.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restricted_at", parley.kit.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("restriction_ground", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("restriction_ground")
        batch_op.drop_column("restricted_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("deletion_due_at")
        batch_op.drop_column("deletion_requested_at")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("deletion_due_at")
        batch_op.drop_column("deletion_requested_by")
        batch_op.drop_column("deletion_requested_at")
        batch_op.drop_column("conversation_retention_days")
    # The keys stay in the key store: the table comes back empty.
    op.create_table(
        "org_keys",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_keys_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_org_keys")),
        sa.UniqueConstraint("org_id", name=op.f("uq_org_keys_org_id")),
    )
    enable_tenant_rls("org_keys")
