from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, created_at_column, id_column
from parley.privacy.datamap import personal, system


class AuditEvent(Base):
    """Append-only record of security- and privacy-relevant actions, written in the same transaction as the
    action. `org_id` is null for platform-level events (a sign-in, a failed sign-in for an unknown address).

    Rows are never updated or deleted (database triggers refuse it; on PostgreSQL the app role is granted only
    SELECT and INSERT), and the foreign key has no cascade, so nothing removes audit rows by accident. Each row
    is a link of its organisation's hash chain (`parley.privacy.chain`): `seq`, `prev_hash` and `hash`, unique
    per chain so that two writers can never both append the same link.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_org_id_occurred_at", "org_id", "occurred_at"),
        UniqueConstraint("chain_id", "seq"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("organizations.id"), info=system("system.tenant")
    )
    occurred_at: Mapped[datetime] = created_at_column()
    actor_type: Mapped[str] = mapped_column(
        String(16), info=system(note="user, token, system, anonymous or visitor (a widget visitor)")
    )
    actor_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), info=system(note="id of the user or token; identifies staff, never an end user")
    )
    action: Mapped[str] = mapped_column(String(64), info=system())
    target_type: Mapped[str | None] = mapped_column(String(32), info=system())
    target_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), info=system())
    request_id: Mapped[str | None] = mapped_column(String(64), info=system())
    ip: Mapped[str | None] = mapped_column(
        String(45),
        info=personal(
            "user.device.ip_address",
            identifies=False,
            retention="audit",
            erasure="null",
            note="outside the hash chain, so that anonymising it breaks nothing; the chain covers ip_hmac",
        ),
    )
    ip_hmac: Mapped[str | None] = mapped_column(
        String(64),
        info=personal(
            "user.device.ip_address",
            identifies=False,
            retention="audit",
            erasure="pseudonymise",
            note="keyed pseudonym (HMAC-SHA-256) of ip, kept in the hash chain after ip is anonymised",
        ),
    )
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, info=system(note="ids and changed settings; never message content or credentials")
    )
    chain_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), info=system(note="the hash chain: org_id, or 'platform' for events outside any")
    )
    seq: Mapped[int] = mapped_column(Integer, info=system(note="position in the chain, from 1"))
    prev_hash: Mapped[str] = mapped_column(String(64), info=system(note="hash of the previous link"))
    hash: Mapped[str] = mapped_column(String(64), info=system(note="SHA-256 over prev_hash and this row"))
