from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import personal, system

ROLE_CHECK = "role IN ('owner', 'admin', 'agent', 'viewer')"


class Membership(Base):
    """A user's role in one organisation."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("org_id", "user_id"),
        CheckConstraint(ROLE_CHECK, name="role"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True, info=system()
    )
    role: Mapped[str] = mapped_column(String(16), info=system("system.authorization"))
    created_at: Mapped[datetime] = created_at_column()


class Invitation(Base):
    """An invitation to join an organisation, sent as a link holding a random secret (stored hashed)."""

    __tablename__ = "invitations"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    email: Mapped[str] = mapped_column(
        String(320),
        info=personal("user.contact.email", identifies=True, retention="account", erasure="delete"),
    )
    role: Mapped[str] = mapped_column(String(16), info=system("system.authorization"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=system("system.authentication"))
    invited_by_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system()
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    accepted_at: Mapped[datetime | None] = timestamp_column()
    revoked_at: Mapped[datetime | None] = timestamp_column()
