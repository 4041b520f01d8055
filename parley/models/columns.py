"""Column shapes shared by the models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import UTCDateTime
from parley.privacy.datamap import system

ID_LENGTH = 40


def id_column() -> Mapped[str]:
    return mapped_column(String(ID_LENGTH), primary_key=True, info=system())


def org_id_column() -> Mapped[str]:
    """The tenant key of a tenant-owned table; deleting the organisation deletes its rows."""
    return mapped_column(
        String(ID_LENGTH),
        ForeignKey("organizations.id", ondelete="CASCADE"),
        index=True,
        info=system("system.tenant"),
    )


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime(), info=system())


def timestamp_column(*, nullable: bool = True) -> Mapped[datetime | None]:
    return mapped_column(UTCDateTime(), nullable=nullable, info=system())
