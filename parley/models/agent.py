from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column
from parley.privacy.datamap import system

PROVIDER_CHECK = "provider IN ('offline', 'openai', 'anthropic')"


class ProviderCredential(Base):
    """How to reach an LLM provider: base URL and API key. The key is stored encrypted under the
    organisation's data key and never returned by the API."""

    __tablename__ = "provider_credentials"
    __table_args__ = (CheckConstraint("provider IN ('openai', 'anthropic')", name="provider"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    name: Mapped[str] = mapped_column(String(100), info=system())
    provider: Mapped[str] = mapped_column(String(16), info=system())
    base_url: Mapped[str | None] = mapped_column(String(500), info=system())
    api_key_sealed: Mapped[bytes] = mapped_column(LargeBinary, info=system("system.encryption"))
    api_key_hint: Mapped[str] = mapped_column(String(8), info=system(note="last four characters, for recognition"))
    created_at: Mapped[datetime] = created_at_column()


class Agent(Base):
    """An AI agent: who it is (instructions, greeting), what it knows (knowledge bases), how it thinks
    (provider, model), and when it asks for a person (confidence threshold, handoff tool)."""

    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint(PROVIDER_CHECK, name="provider"),
        CheckConstraint("confidence_threshold >= 0 AND confidence_threshold <= 1", name="confidence_threshold"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    name: Mapped[str] = mapped_column(String(100), info=system())
    instructions: Mapped[str] = mapped_column(Text, default="", info=system(note="written by the business"))
    greeting: Mapped[str] = mapped_column(Text, default="", info=system())
    languages: Mapped[list[str]] = mapped_column(JSON, default=list, info=system())
    provider: Mapped[str] = mapped_column(String(16), default="offline", info=system())
    model: Mapped[str] = mapped_column(String(100), default="", info=system())
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, info=system())
    credential_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("provider_credentials.id", ondelete="SET NULL"), info=system()
    )
    tools: Mapped[list[str]] = mapped_column(JSON, default=list, info=system())
    fallback_reply: Mapped[str] = mapped_column(Text, default="", info=system())
    confidence_threshold: Mapped[float] = mapped_column(Float, default=0.35, info=system())
    retention_days: Mapped[int | None] = mapped_column(Integer, info=system())
    redact_pii: Mapped[bool] = mapped_column(Boolean, default=False, info=system())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())


class AgentKnowledgeBase(Base):
    __tablename__ = "agent_knowledge_bases"
    __table_args__ = (UniqueConstraint("agent_id", "knowledge_base_id"),)

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    agent_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("agents.id", ondelete="CASCADE"), index=True, info=system()
    )
    knowledge_base_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True, info=system()
    )
