from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base
from parley.models.columns import ID_LENGTH, created_at_column
from parley.privacy.datamap import system


class OrgKey(Base):
    """An organisation's data key, wrapped by the master key. Deleting this row crypto-shreds the tenant."""

    __tablename__ = "org_keys"

    key_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, info=system("system.encryption"))
    org_id: Mapped[str] = mapped_column(
        String(ID_LENGTH),
        ForeignKey("organizations.id", ondelete="CASCADE"),
        unique=True,
        info=system("system.tenant"),
    )
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary, info=system("system.encryption"))
    created_at: Mapped[datetime] = created_at_column()
