from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.models.membership import ROLE_CHECK
from parley.privacy.datamap import system


class ApiToken(Base):
    """A machine credential for one organisation. Only the SHA-256 of the secret is stored: secrets are 256
    random bits, so a fast hash is as safe as a slow one and keeps authentication to one indexed lookup."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    name: Mapped[str] = mapped_column(String(100), info=system())
    role: Mapped[str] = mapped_column(String(16), info=system("system.authorization"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, info=system("system.authentication"))
    hint: Mapped[str] = mapped_column(
        String(16), info=system(note="the last four characters of the secret, so staff can tell tokens apart")
    )
    agent_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("agents.id", ondelete="CASCADE"),
        info=system(note="set for a token that may only talk to one agent (the OpenAI-compatible endpoint)"),
    )
    created_by_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), info=system()
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None] = timestamp_column()
    revoked_at: Mapped[datetime | None] = timestamp_column()
    last_used_at: Mapped[datetime | None] = timestamp_column()
