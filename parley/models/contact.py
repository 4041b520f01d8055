from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system


class Contact(Base):
    """The person on the other side of conversations, one per person across every channel."""

    __tablename__ = "contacts"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    display_name: Mapped[str | None] = mapped_column(
        String(200), info=personal("user.name", identifies=True, retention="conversation", erasure="delete")
    )
    created_at: Mapped[datetime] = created_at_column()
    # Restriction of processing (GDPR Art. 18): the AI stops answering the person; staff are told why.
    restricted_at: Mapped[datetime | None] = timestamp_column()
    restriction_ground: Mapped[str | None] = mapped_column(
        String(16), info=system(note="accuracy, unlawful, legal_claims or objection (Art. 18(1)(a)-(d))")
    )
    # Messaging channels: staff merged this contact into another (see `contact_merges`; reversible).
    merged_into_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("contacts.id", ondelete="SET NULL"), info=system()
    )


RESTRICTION_GROUNDS = ("accuracy", "unlawful", "legal_claims", "objection")


class ContactIdentifier(Base):
    """One way to reach or recognise a contact: a widget visitor id, an email address, a phone number, a
    WhatsApp id. Unique per organisation, so the same identifier always leads to the same person."""

    __tablename__ = "contact_identifiers"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "value"),
        CheckConstraint("kind IN ('visitor', 'email', 'phone', 'whatsapp', 'api')", name="kind"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    contact_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("contacts.id", ondelete="CASCADE"), index=True, info=system()
    )
    kind: Mapped[str] = mapped_column(String(16), info=system())
    value: Mapped[str] = mapped_column(
        String(320),
        info=personal(
            "user.unique_id",
            identifies=True,
            retention="conversation",
            erasure="delete",
            note="visitor id, email, phone number or WhatsApp id, per `kind`",
        ),
    )
    created_at: Mapped[datetime] = created_at_column()
