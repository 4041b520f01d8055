from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, timestamp_column
from parley.privacy.datamap import personal, system

OUTBOX_STATUSES = ("pending", "sent", "failed")


class OutboxMessage(Base):
    """An email to send once the transaction that caused it has committed (see `parley.outbox`).

    `org_id` is null for platform emails (an account's own business, outside any organisation). A row is
    `pending` until the delivery reconciler settles it as `sent` or `failed`; a worker's claim on it is a lease
    (`claimed_until`), so a row whose worker died is offered again once the lease has passed. Settled rows hold
    an address and a body, so they are deleted `outbox_retention_days` after settling.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(f"status IN {OUTBOX_STATUSES}", name="status"),
        Index("ix_outbox_org_id_status_next_attempt_at", "org_id", "status", "next_attempt_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("organizations.id", ondelete="CASCADE"), info=system("system.tenant")
    )
    to_address: Mapped[str] = mapped_column(
        String(320), info=personal("user.contact.email", identifies=True, retention="outbox", erasure="delete")
    )
    subject: Mapped[str] = mapped_column(
        String(500), info=personal("user.content", identifies=False, retention="outbox", erasure="delete")
    )
    body_text: Mapped[str] = mapped_column(
        Text,
        info=personal(
            "user.content",
            identifies=False,
            retention="outbox",
            erasure="delete",
            note="the email as sent; deleted with the row after the outbox retention period",
        ),
    )
    # Namespaced by tenant ("<org_id or ->/<caller's key>") so that one tenant's key can never match another's.
    dedupe_key: Mapped[str | None] = mapped_column(String(250), unique=True, info=system())
    status: Mapped[str] = mapped_column(String(16), default="pending", info=system())
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=system())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    claimed_until: Mapped[datetime | None] = timestamp_column()
    claim_token: Mapped[str | None] = mapped_column(String(ID_LENGTH), info=system(note="which claim holds the lease"))
    last_error: Mapped[str | None] = mapped_column(
        Text,
        info=personal(
            "user.contact.email",
            identifies=False,
            retention="outbox",
            erasure="delete",
            note="the mail server's reply, which may quote the recipient's address",
        ),
    )
    created_at: Mapped[datetime] = created_at_column()
    settled_at: Mapped[datetime | None] = timestamp_column()
