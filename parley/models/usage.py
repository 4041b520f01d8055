from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, id_column, org_id_column
from parley.privacy.datamap import system


class UsageDaily(Base):
    """Language-model usage per organisation, agent, provider, model and day: what billing reads. Rows are
    added to with an atomic upsert, so concurrent turns never lose a count. `agent_id` has no foreign key:
    usage outlives a deleted agent."""

    __tablename__ = "usage_daily"
    __table_args__ = (UniqueConstraint("org_id", "agent_id", "day", "provider", "model"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str] = mapped_column(String(ID_LENGTH), info=system())
    day: Mapped[date] = mapped_column(Date, info=system())
    provider: Mapped[str] = mapped_column(String(16), info=system())
    model: Mapped[str] = mapped_column(String(100), info=system())
    calls: Mapped[int] = mapped_column(Integer, default=0, info=system())
    messages: Mapped[int] = mapped_column(Integer, default=0, info=system())
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, info=system())
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, info=system())
