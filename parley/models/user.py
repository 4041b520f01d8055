from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, timestamp_column
from parley.privacy.datamap import personal, system


class User(Base):
    """A staff account. Users are global (one login, several organisations through memberships)."""

    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(
        String(320),
        unique=True,
        info=personal("user.contact.email", identifies=True, retention="account", erasure="delete"),
    )
    name: Mapped[str] = mapped_column(
        String(200), info=personal("user.name", identifies=True, retention="account", erasure="delete")
    )
    password_hash: Mapped[str] = mapped_column(
        String(255),
        info=personal(
            "user.authorization.credentials",
            identifies=False,
            retention="account",
            erasure="delete",
            note="argon2id hash; the password itself is never stored",
        ),
    )
    is_superadmin: Mapped[bool] = mapped_column(Boolean, default=False, info=system())
    created_at: Mapped[datetime] = created_at_column()
    password_changed_at: Mapped[datetime | None] = timestamp_column()
    last_login_at: Mapped[datetime | None] = timestamp_column()
    # Account deletion with a grace period: cancellable until due, then the worker removes the account.
    deletion_requested_at: Mapped[datetime | None] = timestamp_column()
    deletion_due_at: Mapped[datetime | None] = timestamp_column()


class UserSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True, info=system()
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=system("system.authentication"))
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    ip: Mapped[str | None] = mapped_column(
        String(45),
        info=personal("user.device.ip_address", identifies=False, retention="session", erasure="delete"),
    )
    user_agent: Mapped[str | None] = mapped_column(
        String(400),
        info=personal(
            "user.device.device_id",
            identifies=False,
            retention="session",
            erasure="delete",
            note="browser user agent, shown to the user in their list of sessions",
        ),
    )
