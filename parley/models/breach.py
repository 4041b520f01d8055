from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, timestamp_column
from parley.privacy.datamap import system


class Breach(Base):
    """A personal-data breach in the platform's register (GDPR Art. 33(5)): what happened, when it was found, the
    72-hour deadline, who is affected, and what was notified when. Kept by the platform operator."""

    __tablename__ = "breaches"

    id: Mapped[str] = id_column()
    title: Mapped[str] = mapped_column(String(200), info=system())
    description: Mapped[str] = mapped_column(
        Text, info=system(note="nature and consequences of the breach; describes categories, never people")
    )
    measures: Mapped[str] = mapped_column(Text, default="", info=system(note="measures taken or proposed"))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    window_start: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    compromised_actor_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), info=system(note="the staff account or API token believed misused, if any")
    )
    authority_notified_at: Mapped[datetime | None] = timestamp_column()
    created_at: Mapped[datetime] = created_at_column()


class BreachOrganization(Base):
    """An organisation affected by a breach, with how many of its people, and when it was told (Art. 33(2))."""

    __tablename__ = "breach_organizations"
    __table_args__ = (UniqueConstraint("breach_id", "org_id"),)

    id: Mapped[str] = id_column()
    breach_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("breaches.id", ondelete="CASCADE"), index=True, info=system()
    )
    org_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("organizations.id", ondelete="CASCADE"), info=system("system.tenant")
    )
    people_affected: Mapped[int] = mapped_column(Integer, default=0, info=system())
    notified_at: Mapped[datetime | None] = timestamp_column()
