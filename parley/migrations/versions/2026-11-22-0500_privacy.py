"""Privacy core: keys move to their own key store, conversation retention, account deletion with grace,
restriction of processing for a contact, the breach register.

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
    _breach_register()


def _breach_register() -> None:
    op.create_table(
        "breaches",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("detected_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("window_start", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("window_end", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("compromised_actor_id", sa.String(length=40), nullable=True),
        sa.Column("authority_notified_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaches")),
    )
    op.create_table(
        "breach_organizations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("breach_id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("people_affected", sa.Integer(), nullable=False),
        sa.Column("notified_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_organizations_breach_id_breaches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_breach_organizations_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breach_organizations")),
        sa.UniqueConstraint("breach_id", "org_id", name=op.f("uq_breach_organizations_breach_id_org_id")),
    )
    with op.batch_alter_table("breach_organizations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_breach_organizations_breach_id"), ["breach_id"], unique=False)
    # An organisation sees the breaches that concern it; the platform's super-admin keeps the register.
    enable_tenant_rls("breach_organizations")
    if op.get_bind().dialect.name == "postgresql":
        platform = "current_setting('app.platform', true) = 'on'"
        op.execute(
            f"CREATE POLICY platform_register ON breach_organizations USING ({platform}) WITH CHECK ({platform})"
        )


def downgrade() -> None:
    op.drop_table("breach_organizations")
    op.drop_table("breaches")
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
