from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import timestamp_column
from parley.privacy.datamap import personal, system


class LoginThrottle(Base):
    """Failed sign-in attempts for one email address or one IP address, kept in the database so that every
    server process enforces the same backoff. The key is an HMAC pseudonym, never the address itself."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(
        String(80),
        primary_key=True,
        info=personal(
            "user.unique_id.pseudonymous",
            identifies=False,
            retention="security",
            erasure="delete",
            note="'email:' or 'ip:' followed by an HMAC-SHA256 of the address",
        ),
    )
    failures: Mapped[int] = mapped_column(Integer, default=0, info=system())
    first_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    locked_until: Mapped[datetime | None] = timestamp_column()
