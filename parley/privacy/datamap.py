"""The data map is the models: every column declares what it holds, next to its definition.

    email: Mapped[str] = mapped_column(String(320), info=personal("user.contact.email", identifies=True,
                                                                   retention="account", erasure="delete"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())

Categories follow the fideslang taxonomy (`user.*` for data about a person, `system.*` for operational data).
Retention classes name a period that the retention settings define; erasure strategies say what erasing the data
subject does to the column. A test walks every table and fails on a column without a declaration, so the map
cannot go stale; exports, erasure and the record of processing are generated from it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import MetaData

Erasure = Literal["delete", "null", "pseudonymise", "keep_legal_obligation", "not_applicable"]
Retention = Literal["account", "conversation", "audit", "security", "billing", "session", "operational", "outbox"]

INFO_KEY = "datamap"


@dataclass(frozen=True)
class Declaration:
    category: str
    identifies: bool
    retention: Retention
    erasure: Erasure
    note: str = ""

    @property
    def is_personal(self) -> bool:
        return self.category.startswith("user.")


def personal(
    category: str, *, identifies: bool, retention: Retention, erasure: Erasure, note: str = ""
) -> dict[str, Any]:
    if not category.startswith("user."):
        raise ValueError(f"personal data categories start with 'user.': {category}")
    return {INFO_KEY: Declaration(category, identifies, retention, erasure, note)}


def system(category: str = "system.operations", *, note: str = "") -> dict[str, Any]:
    """Operational data that describes no person (ids, timestamps, flags, settings)."""
    if not category.startswith("system."):
        raise ValueError(f"system data categories start with 'system.': {category}")
    return {INFO_KEY: Declaration(category, False, "operational", "not_applicable", note)}


def undeclared_columns(metadata: MetaData) -> list[str]:
    return [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if not isinstance(column.info.get(INFO_KEY), Declaration)
    ]


def datamap(metadata: MetaData) -> dict[str, dict[str, dict[str, Any]]]:
    """{table: {column: declaration}} for every table, in dependency order."""
    return {
        str(table.name): {str(column.name): asdict(column.info[INFO_KEY]) for column in table.columns}
        for table in metadata.sorted_tables
    }


def document() -> dict[str, Any]:
    """The whole map as one document: retention classes, then every table of the main database and of the key
    store. What `parley privacy datamap` and `GET /api/v1/privacy/datamap` print."""
    import parley.models  # noqa: F401  (registers every table)
    from parley.kit.db import Base
    from parley.privacy.keystore import KeystoreBase
    from parley.privacy.retention import RETENTION_CLASSES

    return {
        "retention_classes": RETENTION_CLASSES,
        "erasure_strategies": {
            "delete": "the row or value is deleted",
            "null": "the value is cleared",
            "pseudonymise": "replaced by a keyed hash (HMAC) that cannot be reversed",
            "keep_legal_obligation": "kept as long as the law requires, then deleted",
            "not_applicable": "not personal data",
        },
        "tables": datamap(Base.metadata),
        "keystore_tables": datamap(KeystoreBase.metadata),
    }
