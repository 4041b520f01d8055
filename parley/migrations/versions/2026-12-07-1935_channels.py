"""Messaging channels (WhatsApp Cloud API, Twilio SMS/WhatsApp, email): connections per agent, the durable
inbound record (unique per provider message id), the channel outbox, delivery reports, per-person channel state
(24-hour window, opt-out), media sealed per person, and reversible contact merges.

Revision ID: 0007_channels
Revises: 0006_widget
Create Date: 2026-12-07 19:35:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import parley.kit.db
from parley.kit.rls import disable_tenant_rls, enable_tenant_rls

revision: str = "0007_channels"
down_revision: str | None = "0006_widget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_merges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("source_contact_id", sa.String(length=40), nullable=False),
        sa.Column("target_contact_id", sa.String(length=40), nullable=False),
        sa.Column("moved", sa.JSON(), nullable=False),
        sa.Column("merged_by_user_id", sa.String(length=40), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("undone_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by_user_id"],
            ["users.id"],
            name=op.f("fk_contact_merges_merged_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_contact_merges_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_merges_source_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_merges_target_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_merges")),
    )
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contact_merges_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_merges_source_contact_id"), ["source_contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contact_merges_target_contact_id"), ["target_contact_id"], unique=False)

    op.create_table(
        "channel_connections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('whatsapp', 'twilio_sms', 'twilio_whatsapp', 'email')", name=op.f("ck_channel_connections_kind")
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_channel_connections_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_channel_connections_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_connections")),
    )
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_connections_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_connections_org_id"), ["org_id"], unique=False)

    op.create_table(
        "channel_contacts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("last_inbound_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("opted_out_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_channel_contacts_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_channel_contacts_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_channel_contacts_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_contacts")),
        sa.UniqueConstraint("connection_id", "address", name=op.f("uq_channel_contacts_connection_id_address")),
    )
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_contacts_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_contacts_org_id"), ["org_id"], unique=False)

    op.create_table(
        "channel_status_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error_title", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_channel_status_events_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_channel_status_events_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_status_events")),
        sa.UniqueConstraint(
            "connection_id",
            "provider_message_id",
            "status",
            name=op.f("uq_channel_status_events_connection_id_provider_message_id_status"),
        ),
    )
    with op.batch_alter_table("channel_status_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_status_events_org_id"), ["org_id"], unique=False)

    op.create_table(
        "channel_inbound",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("provider_timestamp", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("received_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("payload_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=True),
        sa.Column("conversation_id", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("processed_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'processed', 'ignored')", name=op.f("ck_channel_inbound_state")),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_channel_inbound_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_channel_inbound_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_channel_inbound_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_channel_inbound_message_id_messages"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_channel_inbound_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_inbound")),
        sa.UniqueConstraint(
            "connection_id", "provider_message_id", name=op.f("uq_channel_inbound_connection_id_provider_message_id")
        ),
    )
    with op.batch_alter_table("channel_inbound", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_inbound_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_inbound_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_channel_inbound_org_id_state_received_at", ["org_id", "state", "received_at"], unique=False
        )

    op.create_table(
        "channel_outbound",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("connection_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("conversation_id", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("body_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=250), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("claimed_until", parley.kit.db.UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=40), nullable=True),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.Column("settled_at", parley.kit.db.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "delivery IN ('queued', 'accepted', 'sent', 'delivered', 'read', 'failed')",
            name=op.f("ck_channel_outbound_delivery"),
        ),
        sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f("ck_channel_outbound_state")),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["channel_connections.id"],
            name=op.f("fk_channel_outbound_connection_id_channel_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_channel_outbound_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_channel_outbound_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_channel_outbound_message_id_messages"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_channel_outbound_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_outbound")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_channel_outbound_dedupe_key")),
    )
    with op.batch_alter_table("channel_outbound", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_outbound_connection_id_provider_message_id",
            ["connection_id", "provider_message_id"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_channel_outbound_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_outbound_org_id"), ["org_id"], unique=False)
        batch_op.create_index(
            "ix_channel_outbound_org_id_state_next_attempt_at", ["org_id", "state", "next_attempt_at"], unique=False
        )

    op.create_table(
        "channel_media",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("inbound_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=True),
        sa.Column("message_id", sa.String(length=40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider_ref", sa.String(length=1000), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("mime_type", sa.String(length=120), nullable=True),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", parley.kit.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_channel_media_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["channel_inbound.id"],
            name=op.f("fk_channel_media_inbound_id_channel_inbound"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_channel_media_message_id_messages"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_channel_media_org_id_organizations"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_media")),
        sa.UniqueConstraint("inbound_id", "position", name=op.f("uq_channel_media_inbound_id_position")),
    )
    with op.batch_alter_table("channel_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_media_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_media_inbound_id"), ["inbound_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_media_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_contacts_merged_into_id_contacts"),
            "contacts",
            ["merged_into_id"],
            ["id"],
            ondelete="SET NULL",
        )

    # A provider's webhook names only the connection id (in its URL): that row is found by its id alone,
    # read-only, before the tenant is set.
    enable_tenant_rls("channel_connections", lookup="id = current_setting('app.channel_connection_id', true)")
    enable_tenant_rls("channel_inbound")
    enable_tenant_rls("channel_media")
    enable_tenant_rls("channel_outbound")
    enable_tenant_rls("channel_status_events")
    enable_tenant_rls("channel_contacts")
    enable_tenant_rls("contact_merges")


def downgrade() -> None:
    disable_tenant_rls("contact_merges")
    disable_tenant_rls("channel_contacts")
    disable_tenant_rls("channel_status_events")
    disable_tenant_rls("channel_outbound")
    disable_tenant_rls("channel_media")
    disable_tenant_rls("channel_inbound")
    disable_tenant_rls("channel_connections")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_contacts_merged_into_id_contacts"), type_="foreignkey")
        batch_op.drop_column("merged_into_id")

    with op.batch_alter_table("channel_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_media_org_id"))
        batch_op.drop_index(batch_op.f("ix_channel_media_inbound_id"))
        batch_op.drop_index(batch_op.f("ix_channel_media_contact_id"))

    op.drop_table("channel_media")
    with op.batch_alter_table("channel_outbound", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_outbound_org_id_state_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_channel_outbound_org_id"))
        batch_op.drop_index(batch_op.f("ix_channel_outbound_contact_id"))
        batch_op.drop_index("ix_channel_outbound_connection_id_provider_message_id")

    op.drop_table("channel_outbound")
    with op.batch_alter_table("channel_inbound", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_inbound_org_id_state_received_at")
        batch_op.drop_index(batch_op.f("ix_channel_inbound_org_id"))
        batch_op.drop_index(batch_op.f("ix_channel_inbound_contact_id"))

    op.drop_table("channel_inbound")
    with op.batch_alter_table("channel_status_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_status_events_org_id"))

    op.drop_table("channel_status_events")
    with op.batch_alter_table("channel_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_contacts_org_id"))
        batch_op.drop_index(batch_op.f("ix_channel_contacts_contact_id"))

    op.drop_table("channel_contacts")
    with op.batch_alter_table("channel_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_connections_org_id"))
        batch_op.drop_index(batch_op.f("ix_channel_connections_agent_id"))

    op.drop_table("channel_connections")
    with op.batch_alter_table("contact_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contact_merges_target_contact_id"))
        batch_op.drop_index(batch_op.f("ix_contact_merges_source_contact_id"))
        batch_op.drop_index(batch_op.f("ix_contact_merges_org_id"))

    op.drop_table("contact_merges")
