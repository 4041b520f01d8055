from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, created_at_column, id_column, timestamp_column
from parley.privacy.datamap import system

DEFAULT_CONVERSATION_RETENTION_DAYS = 365


class Organization(Base):
    """A tenant: one business. Every tenant-owned row points here through `org_id`."""

    __tablename__ = "organizations"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200), info=system("system.tenant"))
    slug: Mapped[str] = mapped_column(String(64), unique=True, info=system("system.tenant"))
    created_at: Mapped[datetime] = created_at_column()
    # How long conversations are kept after their last message (an agent may set a shorter period).
    conversation_retention_days: Mapped[int] = mapped_column(
        Integer, default=DEFAULT_CONVERSATION_RETENTION_DAYS, server_default="365", info=system()
    )
    # Account deletion: requested by an owner, cancellable until it is due, then carried out by the worker.
    deletion_requested_at: Mapped[datetime | None] = timestamp_column()
    deletion_requested_by: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), info=system(note="id of the owner who asked; no foreign key, the user may go first")
    )
    deletion_due_at: Mapped[datetime | None] = timestamp_column()
    # Set when the deletion was carried out: the row stays as a tombstone (name and slug replaced) so that audit
    # rows and legally kept records still point somewhere; nothing else of the organisation remains.
    deleted_at: Mapped[datetime | None] = timestamp_column()
