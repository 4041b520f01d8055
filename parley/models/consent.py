"""The consent ledger (versioned texts, append-only grant/withdraw events), the widget's consented analytics,
and the snapshots of each organisation's sub-processors (GDPR Art. 28(2) change notices)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from parley.consent.purposes import CHANNELS, PURPOSE_KEYS
from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column
from parley.privacy.datamap import personal, system


class ConsentText(Base):
    """What a person is shown when asked, per organisation, purpose and language. Editing a text adds a version;
    a version is never changed afterwards, so an event's `text_id` proves the exact words."""

    __tablename__ = "consent_texts"
    __table_args__ = (
        UniqueConstraint("org_id", "purpose", "language", "version"),
        CheckConstraint(f"purpose IN {PURPOSE_KEYS}", name="purpose"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    purpose: Mapped[str] = mapped_column(String(32), info=system())
    language: Mapped[str] = mapped_column(String(16), info=system())
    version: Mapped[int] = mapped_column(Integer, info=system())
    body: Mapped[str] = mapped_column(Text, info=system(note="written by the business; describes no person"))
    created_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), info=system(note="staff user or token id"))
    created_at: Mapped[datetime] = created_at_column()


class ConsentEvent(Base):
    """One choice a person made: consent granted or withdrawn for one purpose. Append-only: the current state of
    a contact and purpose is its latest event, found through the (org, contact, purpose, time) index.

    `contact_id` has no foreign key on purpose: erasing the person replaces it by a keyed pseudonym and clears
    the evidence, and the event stays as the proof the controller must be able to give (Art. 7(1))."""

    __tablename__ = "consent_events"
    __table_args__ = (
        CheckConstraint(f"purpose IN {PURPOSE_KEYS}", name="purpose"),
        CheckConstraint(f"channel IN {CHANNELS}", name="channel"),
        Index("ix_consent_events_current", "org_id", "contact_id", "purpose", "occurred_at"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    contact_id: Mapped[str] = mapped_column(
        String(80),
        info=personal(
            "user.unique_id",
            identifies=True,
            retention="audit",
            erasure="pseudonymise",
            note="the contact who chose; an HMAC pseudonym once they are erased",
        ),
    )
    purpose: Mapped[str] = mapped_column(String(32), info=system())
    granted: Mapped[bool] = mapped_column(Boolean, info=system())
    channel: Mapped[str] = mapped_column(String(16), info=system())
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    text_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("consent_texts.id", ondelete="RESTRICT"),
        index=True,
        info=system(note="the exact text shown; none for a withdrawal by keyword"),
    )
    evidence: Mapped[dict[str, Any] | None] = mapped_column(
        JSON,
        info=personal(
            "user.content",
            identifies=False,
            retention="audit",
            erasure="null",
            note="how the choice was made: banner button, keypress, utterance, SMS keyword; cleared on erasure",
        ),
    )
    recorded_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), info=system(note="the staff user or token that recorded it; none for the person")
    )


class WidgetAnalyticsDaily(Base):
    """Widget usage counted only for visitors who consented to analytics: per agent, day and metric, a total and
    nothing else (no visitor id, no IP), so it is not personal data and is kept as aggregated statistics."""

    __tablename__ = "widget_analytics_daily"
    __table_args__ = (UniqueConstraint("org_id", "agent_id", "day", "metric"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), info=system(note="no foreign key: outlives the agent"))
    day: Mapped[date] = mapped_column(Date, info=system())
    metric: Mapped[str] = mapped_column(String(32), info=system())
    count: Mapped[int] = mapped_column(Integer, default=0, info=system())


class SubprocessorSnapshot(Base):
    """The organisation's sub-processors as last seen by the reconciler, one row per change: `entries` is the
    whole list then, `changes` what differed from the previous snapshot. The owners are emailed in the same
    transaction that writes the row, so each change is notified once (`sequence` is unique per organisation:
    two workers racing on one change cannot both record it)."""

    __tablename__ = "subprocessor_snapshots"
    __table_args__ = (UniqueConstraint("org_id", "sequence"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    sequence: Mapped[int] = mapped_column(Integer, info=system())
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON, info=system(note="providers; no person"))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, info=system())
    owners_notified: Mapped[int] = mapped_column(Integer, default=0, info=system())
    created_at: Mapped[datetime] = created_at_column()
