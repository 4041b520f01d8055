from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column
from parley.privacy.datamap import system


class AgentWidget(Base):
    """An agent's web chat widget: where it may be embedded, and what it asks visitors first (age, consent).

    One row per agent; without a row the widget is off. The row is the one thing a visitor's browser can find
    before the organisation is known (by the agent id in the embed snippet), so on PostgreSQL it has a read-only
    lookup policy on `agent_id`.
    """

    __tablename__ = "agent_widgets"
    __table_args__ = (CheckConstraint("min_age IS NULL OR (min_age >= 13 AND min_age <= 21)", name="min_age"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("agents.id", ondelete="CASCADE"), unique=True, info=system()
    )
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list, info=system())
    min_age: Mapped[int | None] = mapped_column(Integer, info=system(note="age gate; empty means none"))
    analytics_enabled: Mapped[bool] = mapped_column(Boolean, default=False, info=system())
    privacy_notice_url: Mapped[str | None] = mapped_column(String(2000), info=system())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
