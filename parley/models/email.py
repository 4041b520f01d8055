"""The email channel's own state, beside the shared channel tables: one row per email thread (what a reply
needs to thread into the person's mail client) and one per polled IMAP mailbox (how far it has been read)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system


class EmailThread(Base):
    """An email conversation's threading state: its subject and the Message-IDs a reply must name in
    `In-Reply-To` / `References`. Deleted with its conversation (retention, erasure)."""

    __tablename__ = "email_threads"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    conversation_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("conversations.id", ondelete="CASCADE"), unique=True, info=system()
    )
    connection_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("channel_connections.id", ondelete="CASCADE"), index=True, info=system()
    )
    subject: Mapped[str] = mapped_column(
        String(500),
        info=personal(
            "user.content", identifies=False, retention="conversation", erasure="delete", note="the email subject"
        ),
    )
    last_message_id: Mapped[str | None] = mapped_column(
        String(250),
        info=personal(
            "user.unique_id",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="Message-ID of the person's latest email (may name their mail host)",
        ),
    )
    references: Mapped[list[str]] = mapped_column(
        JSON,
        default=list,
        info=personal(
            "user.unique_id",
            identifies=False,
            retention="conversation",
            erasure="delete",
            note="Message-IDs of the thread, for the References header",
        ),
    )
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())


class EmailMailbox(Base):
    """How far an IMAP mailbox has been read: its UIDVALIDITY and the highest UID stored durably."""

    __tablename__ = "email_mailboxes"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    connection_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("channel_connections.id", ondelete="CASCADE"), unique=True, info=system()
    )
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0, info=system())
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0, info=system())
    polled_at: Mapped[datetime | None] = timestamp_column()
    last_error: Mapped[str | None] = mapped_column(Text, info=system(note="the IMAP server's error, no content"))
    created_at: Mapped[datetime] = created_at_column()
