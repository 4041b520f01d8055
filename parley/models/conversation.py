from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Float, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system


class Conversation(Base):
    """A thread between a contact and an agent on one channel."""

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint("channel IN ('widget', 'whatsapp', 'sms', 'email', 'voice', 'api')", name="channel"),
        CheckConstraint("status IN ('open', 'closed')", name="status"),
        Index("ix_conversations_org_id_last_message_at", "org_id", "last_message_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("agents.id", ondelete="SET NULL"), index=True, info=system()
    )
    contact_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("contacts.id", ondelete="CASCADE"), index=True, info=system()
    )
    channel: Mapped[str] = mapped_column(String(16), info=system())
    status: Mapped[str] = mapped_column(String(16), default="open", info=system())
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False, info=system())
    attention_reason: Mapped[str | None] = mapped_column(String(200), info=system())
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False, info=system())
    language: Mapped[str | None] = mapped_column(String(8), info=system())
    created_at: Mapped[datetime] = created_at_column()
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    # Where a widget visitor wrote from; the privacy reconciler anonymises the address after 30 days.
    visitor_ip: Mapped[str | None] = mapped_column(
        String(64),
        info=personal("user.device.ip_address", identifies=True, retention="conversation", erasure="null"),
    )
    visitor_user_agent: Mapped[str | None] = mapped_column(
        String(500),
        info=personal("user.device.user_agent", identifies=False, retention="conversation", erasure="null"),
    )
    # The inbox (dashboard): who on the staff has the conversation, whether an answer fell below the agent's
    # confidence threshold, and when it was closed.
    assignee_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system(note="staff member")
    )
    low_confidence: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0", info=system())
    closed_at: Mapped[datetime | None] = timestamp_column()


class ConversationNote(Base):
    """An internal note staff leave on a conversation; never shown to the person, but about them: sealed with
    their key (erasing them makes it unreadable everywhere), exported to them, deleted with the conversation."""

    __tablename__ = "conversation_notes"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), index=True, info=system()
    )
    author_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system(note="staff author")
    )
    body_sealed: Mapped[bytes] = mapped_column(
        LargeBinary,
        info=personal(
            "user.content.note",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="staff's internal note about the conversation; encrypted with the person's key",
        ),
    )
    created_at: Mapped[datetime] = created_at_column()


class Message(Base):
    """One message. The body is sealed (AES-256-GCM) under the organisation's key, bound to this row's id.

    Exactly once: an inbound message carries the channel's id for it (`external_id`, unique per conversation),
    so a retried webhook finds the first copy; a reply points at the message it answers (`reply_to_id`, unique),
    so no inbound message is ever answered twice; `handled_at` stays empty until the reply is stored, so a
    reconciler answers messages whose processing was cut short by a crash.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant', 'staff', 'system')", name="role"),
        UniqueConstraint("conversation_id", "external_id"),
        UniqueConstraint("reply_to_id"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), info=system()
    )
    role: Mapped[str] = mapped_column(String(16), info=system())
    body_sealed: Mapped[bytes] = mapped_column(
        LargeBinary,
        info=personal(
            "user.content.message",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="encrypted; staff messages and agent replies too, as they may quote the person",
        ),
    )
    external_id: Mapped[str | None] = mapped_column(String(200), info=system(note="the channel's message id"))
    reply_to_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("messages.id", ondelete="CASCADE"), info=system()
    )
    author_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system(note="staff author")
    )
    language: Mapped[str | None] = mapped_column(String(8), info=system())
    confidence: Mapped[float | None] = mapped_column(Float, info=system())
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, info=system())
    provider: Mapped[str | None] = mapped_column(String(16), info=system())
    model: Mapped[str | None] = mapped_column(String(100), info=system())
    input_tokens: Mapped[int | None] = mapped_column(info=system())
    output_tokens: Mapped[int | None] = mapped_column(info=system())
    created_at: Mapped[datetime] = created_at_column()
    handled_at: Mapped[datetime | None] = timestamp_column()
