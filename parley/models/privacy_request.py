"""Data-subject requests (GDPR Art. 12-22): the request, its status history, and the one-time codes that let a
person prove control of an email address or phone number before filing one (see `parley.rights`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system

REQUEST_KINDS = (
    "access",
    "portability",
    "rectification",
    "erasure",
    "restriction",
    "objection",
    "consent_withdrawal",
)
REQUEST_STATUSES = ("received", "verified", "in_progress", "extended", "completed", "refused")
REQUEST_SOURCES = ("staff", "public", "widget")
DEADLINE_FLAGS = ("none", "soon", "overdue")


class PrivacyRequest(Base):
    """One request from a person. After an erasure only a minimal record stays: kind, dates, status, who acted,
    and a keyed hash of the identifier that proved the person (never the identifier itself)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(f"kind IN {REQUEST_KINDS}", name="kind"),
        CheckConstraint(f"status IN {REQUEST_STATUSES}", name="status"),
        CheckConstraint(f"source IN {REQUEST_SOURCES}", name="source"),
        CheckConstraint(f"deadline_flag IN {DEADLINE_FLAGS}", name="deadline_flag"),
        Index("ix_privacy_requests_org_id_status_due_at", "org_id", "status", "due_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    contact_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("contacts.id", ondelete="SET NULL"), index=True, info=system()
    )
    kind: Mapped[str] = mapped_column(String(24), info=system())
    status: Mapped[str] = mapped_column(String(16), info=system())
    source: Mapped[str] = mapped_column(String(16), info=system())
    subject_pseudonym: Mapped[str | None] = mapped_column(
        String(64),
        info=personal(
            "user.unique_id",
            identifies=False,
            retention="audit",
            erasure="keep_legal_obligation",
            note="HMAC of the identifier the person proved; proves who asked without keeping the identifier",
        ),
    )
    # What the person asked for: objection purposes, rectified values, a free-text message. Erased with them.
    details: Mapped[dict[str, Any]] = mapped_column(
        JSON,
        default=dict,
        info=personal("user.content", identifies=True, retention="account", erasure="delete"),
    )
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    extended_due_at: Mapped[datetime | None] = timestamp_column()
    extension_reason: Mapped[str | None] = mapped_column(
        Text, info=system(note="why the deadline was extended (Art. 12(3)); about the request, not the person")
    )
    deadline_flag: Mapped[str] = mapped_column(String(16), default="none", info=system())
    acted_by_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system(note="staff member who acted")
    )
    outcome: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, info=system(note="counts and ids of what fulfilment did; never erased content")
    )
    completed_at: Mapped[datetime | None] = timestamp_column()
    # The access/portability ZIP: a file under the data directory, fetched with a secret whose hash is kept here.
    export_file: Mapped[str | None] = mapped_column(String(300), info=system(note="path of the ZIP, by ids"))
    export_token_hash: Mapped[str | None] = mapped_column(String(64), info=system())
    export_expires_at: Mapped[datetime | None] = timestamp_column()


class PrivacyRequestEvent(Base):
    """One step in a request's history: the new status, who acted, and the evidence."""

    __tablename__ = "privacy_request_events"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    request_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("privacy_requests.id", ondelete="CASCADE"), index=True, info=system()
    )
    status: Mapped[str] = mapped_column(String(16), info=system())
    actor_type: Mapped[str] = mapped_column(String(16), info=system())
    actor_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), info=system())
    note: Mapped[str | None] = mapped_column(Text, info=system(note="staff's note on the step; ids, not content"))
    evidence: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, info=system(note="how the step was justified: verification method, counts, ids")
    )
    created_at: Mapped[datetime] = created_at_column()


class PrivacyChallenge(Base):
    """A one-time code sent to an email address or phone number. Only keyed hashes are stored: of the code, of the
    identifier (for the per-identifier rate limit) and of the caller's IP address (per-IP limit)."""

    __tablename__ = "privacy_challenges"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'phone')", name="channel"),
        Index("ix_privacy_challenges_org_id_identifier_hash", "org_id", "identifier_hash"),
        Index("ix_privacy_challenges_org_id_ip_hash", "org_id", "ip_hash"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    channel: Mapped[str] = mapped_column(String(8), info=system())
    identifier_hash: Mapped[str] = mapped_column(
        String(64),
        info=personal("user.unique_id", identifies=False, retention="security", erasure="delete", note="HMAC"),
    )
    ip_hash: Mapped[str | None] = mapped_column(
        String(64),
        info=personal("user.device.ip_address", identifies=False, retention="security", erasure="delete"),
    )
    code_hash: Mapped[str] = mapped_column(String(64), info=system())
    kind: Mapped[str] = mapped_column(String(24), info=system())
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=system())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    consumed_at: Mapped[datetime | None] = timestamp_column()
    created_at: Mapped[datetime] = created_at_column()
