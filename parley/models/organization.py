from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import created_at_column, id_column
from parley.privacy.datamap import system


class Organization(Base):
    """A tenant: one business. Every tenant-owned row points here through `org_id`."""

    __tablename__ = "organizations"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200), info=system("system.tenant"))
    slug: Mapped[str] = mapped_column(String(64), unique=True, info=system("system.tenant"))
    created_at: Mapped[datetime] = created_at_column()
