"""Messaging channels (WhatsApp Cloud API, Twilio SMS and WhatsApp, email): connections, the durable record of
what providers sent us, the outbox of what we send them, and per-person channel state (see
`parley.channels.messaging` for the design)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system

CHANNEL_KINDS = ("whatsapp", "twilio_sms", "twilio_whatsapp", "email")
INBOUND_STATES = ("pending", "processed", "ignored")
OUTBOUND_STATES = ("pending", "sent", "failed")
DELIVERY_STATES = ("queued", "accepted", "sent", "delivered", "read", "failed")


def _fk(table: str, ondelete: str = "CASCADE", *, nullable: bool = False, index: bool = True) -> Mapped[Any]:
    return mapped_column(
        String(ID_LENGTH), ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable, index=index, info=system()
    )


class ChannelConnection(Base):
    """One agent's presence on one messaging channel: a WhatsApp number, a Twilio number, a mailbox.

    Secrets (access tokens, app secrets, auth tokens, passwords) are sealed under the organisation key; `config`
    holds what is not secret (phone-number id, sender address, template names)."""

    __tablename__ = "channel_connections"
    __table_args__ = (CheckConstraint(f"kind IN {CHANNEL_KINDS}", name="kind"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str] = _fk("agents")
    kind: Mapped[str] = mapped_column(String(24), info=system())
    name: Mapped[str] = mapped_column(String(200), info=system())
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, info=system(note="non-secret settings"))
    secrets_sealed: Mapped[bytes] = mapped_column(
        LargeBinary, info=system(note="provider credentials, sealed under the organisation key")
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, info=system())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())


class ChannelInbound(Base):
    """A message a provider delivered, recorded durably before anything else happens to it.

    The unique (connection, provider message id) makes a redelivered webhook a no-op insert, whichever of two
    concurrent requests gets there first. The raw payload is sealed under the organisation key (the person is
    not yet known when the webhook is accepted) and dropped once the message is processed: from then on the
    message lives in `messages`, sealed under the person's key."""

    __tablename__ = "channel_inbound"
    __table_args__ = (
        UniqueConstraint("connection_id", "provider_message_id"),
        CheckConstraint(f"state IN {INBOUND_STATES}", name="state"),
        Index("ix_channel_inbound_org_id_state_received_at", "org_id", "state", "received_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    connection_id: Mapped[str] = _fk("channel_connections", index=False)
    provider_message_id: Mapped[str] = mapped_column(String(200), info=system())
    sender: Mapped[str] = mapped_column(
        String(320),
        info=personal(
            "user.unique_id", identifies=True, retention="conversation", erasure="delete", note="E.164, email, id"
        ),
    )
    provider_timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    payload_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        info=personal(
            "user.content.message",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="the normalised inbound message, sealed; removed once processed",
        ),
    )
    state: Mapped[str] = mapped_column(String(16), default="pending", info=system())
    contact_id: Mapped[str | None] = _fk("contacts", nullable=True)
    # Cascades: the retention sweep deleting a conversation takes its channel records with it.
    conversation_id: Mapped[str | None] = _fk("conversations", nullable=True, index=False)
    message_id: Mapped[str | None] = _fk("messages", "SET NULL", nullable=True, index=False)
    processed_at: Mapped[datetime | None] = timestamp_column()
    note: Mapped[str | None] = mapped_column(String(500), info=system(note="why the message was ignored"))


class ChannelMedia(Base):
    """One media item (image, voice note, document) of an inbound message, stored sealed under the person's
    key so that erasing them crypto-shreds it; fetched from the provider by the inbound reconciler."""

    __tablename__ = "channel_media"
    __table_args__ = (UniqueConstraint("inbound_id", "position"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    inbound_id: Mapped[str] = _fk("channel_inbound")
    contact_id: Mapped[str | None] = _fk("contacts", nullable=True)
    message_id: Mapped[str | None] = _fk("messages", "SET NULL", nullable=True, index=False)
    position: Mapped[int] = mapped_column(Integer, info=system())
    kind: Mapped[str] = mapped_column(String(16), info=system(note="image, audio, video, document, sticker"))
    provider_ref: Mapped[str] = mapped_column(String(1000), info=system(note="the provider's media id or URL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=system())
    last_error: Mapped[str | None] = mapped_column(String(500), info=system())
    mime_type: Mapped[str | None] = mapped_column(String(120), info=system())
    filename: Mapped[str | None] = mapped_column(
        String(300), info=personal("user.content", identifies=False, retention="conversation", erasure="delete")
    )
    size: Mapped[int | None] = mapped_column(Integer, info=system())
    content_sealed: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        info=personal("user.content.media", identifies=False, retention="conversation", erasure="delete"),
    )
    created_at: Mapped[datetime] = created_at_column()


class ChannelOutbound(Base):
    """A message to send through a channel once the transaction that decided it has committed.

    Claimed like the email outbox (a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL); `dedupe_key` (one per reply)
    makes enqueueing idempotent. `state` is our side (pending until sent or finally failed); `delivery` is what
    the provider reports afterwards (sent, delivered, read, failed), matched by `provider_message_id`."""

    __tablename__ = "channel_outbound"
    __table_args__ = (
        CheckConstraint(f"state IN {OUTBOUND_STATES}", name="state"),
        CheckConstraint(f"delivery IN {DELIVERY_STATES}", name="delivery"),
        UniqueConstraint("dedupe_key"),
        Index("ix_channel_outbound_org_id_state_next_attempt_at", "org_id", "state", "next_attempt_at"),
        Index("ix_channel_outbound_connection_id_provider_message_id", "connection_id", "provider_message_id"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    connection_id: Mapped[str] = _fk("channel_connections", index=False)
    contact_id: Mapped[str] = _fk("contacts")
    conversation_id: Mapped[str | None] = _fk("conversations", nullable=True, index=False)
    message_id: Mapped[str | None] = _fk("messages", "SET NULL", nullable=True, index=False)
    to_address: Mapped[str] = mapped_column(
        String(320), info=personal("user.unique_id", identifies=True, retention="conversation", erasure="delete")
    )
    body_sealed: Mapped[bytes] = mapped_column(
        LargeBinary,
        info=personal(
            "user.content.message",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="what is sent (text, or a template and its parameters), sealed under the person's key",
        ),
    )
    dedupe_key: Mapped[str] = mapped_column(String(250), info=system())
    state: Mapped[str] = mapped_column(String(16), default="pending", info=system())
    delivery: Mapped[str] = mapped_column(String(16), default="queued", info=system())
    provider_message_id: Mapped[str | None] = mapped_column(String(200), info=system())
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=system())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    claimed_until: Mapped[datetime | None] = timestamp_column()
    claim_token: Mapped[str | None] = mapped_column(String(ID_LENGTH), info=system())
    error_code: Mapped[str | None] = mapped_column(String(40), info=system())
    last_error: Mapped[str | None] = mapped_column(Text, info=system(note="the provider's error, without content"))
    created_at: Mapped[datetime] = created_at_column()
    settled_at: Mapped[datetime | None] = timestamp_column()


class ChannelStatusEvent(Base):
    """A delivery report from the provider (sent, delivered, read, failed), kept as it came: the outbound row's
    `delivery` is the furthest state reached, these rows are the history. Unique per message and status, so a
    redelivered report is a no-op."""

    __tablename__ = "channel_status_events"
    __table_args__ = (UniqueConstraint("connection_id", "provider_message_id", "status"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    connection_id: Mapped[str] = _fk("channel_connections", index=False)
    provider_message_id: Mapped[str] = mapped_column(String(200), info=system())
    status: Mapped[str] = mapped_column(String(16), info=system())
    error_code: Mapped[str | None] = mapped_column(String(40), info=system())
    error_title: Mapped[str | None] = mapped_column(String(500), info=system())
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    created_at: Mapped[datetime] = created_at_column()


class ChannelContact(Base):
    """A person as one channel connection knows them: their address there, when they last wrote (WhatsApp's
    24-hour customer-service window), and whether they opted out (STOP), after which they are never messaged."""

    __tablename__ = "channel_contacts"
    __table_args__ = (UniqueConstraint("connection_id", "address"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    connection_id: Mapped[str] = _fk("channel_connections", index=False)
    contact_id: Mapped[str] = _fk("contacts")
    address: Mapped[str] = mapped_column(
        String(320), info=personal("user.unique_id", identifies=True, retention="conversation", erasure="delete")
    )
    last_inbound_at: Mapped[datetime | None] = timestamp_column()
    opted_out_at: Mapped[datetime | None] = timestamp_column()
    created_at: Mapped[datetime] = created_at_column()


class ContactMerge(Base):
    """Staff merged one contact into another: what moved (identifiers, conversations, channel contacts) is
    listed by id, so that un-merging moves exactly that back."""

    __tablename__ = "contact_merges"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    source_contact_id: Mapped[str] = _fk("contacts")
    target_contact_id: Mapped[str] = _fk("contacts")
    moved: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict, info=system(note="ids per table"))
    merged_by_user_id: Mapped[str | None] = _fk("users", "SET NULL", nullable=True, index=False)
    created_at: Mapped[datetime] = created_at_column()
    undone_at: Mapped[datetime | None] = timestamp_column()
