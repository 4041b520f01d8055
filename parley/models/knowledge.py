from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from parley.kit.db import Base, UTCDateTime
from parley.models.columns import ID_LENGTH, created_at_column, id_column, org_id_column, timestamp_column
from parley.privacy.datamap import system

DOCUMENT_STATUS = "status IN ('pending', 'processing', 'ready', 'failed')"


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    name: Mapped[str] = mapped_column(String(100), info=system())
    description: Mapped[str] = mapped_column(Text, default="", info=system())
    created_at: Mapped[datetime] = created_at_column()


class Document(Base):
    """A file or web page in a knowledge base. Ingestion (a reconciler) moves it from pending to ready, or to
    failed with a reason staff can read. The original is kept encrypted in the file store."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(DOCUMENT_STATUS, name="status"),
        CheckConstraint("source IN ('file', 'url')", name="source"),
    )

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    knowledge_base_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True, info=system()
    )
    title: Mapped[str] = mapped_column(String(300), info=system(note="the business's own document title"))
    source: Mapped[str] = mapped_column(String(8), info=system())
    filename: Mapped[str | None] = mapped_column(String(300), info=system())
    url: Mapped[str | None] = mapped_column(String(2000), info=system())
    kind: Mapped[str | None] = mapped_column(String(16), info=system(note="sniffed content type"))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0, info=system())
    sha256: Mapped[str | None] = mapped_column(String(64), info=system())
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True, info=system())
    error: Mapped[str | None] = mapped_column(Text, info=system())
    attempts: Mapped[int] = mapped_column(Integer, default=0, info=system())
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, info=system())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), info=system())
    ingested_at: Mapped[datetime | None] = timestamp_column()


class Chunk(Base):
    """A passage of a document, the unit of retrieval. Indexed for keyword search (SQLite FTS5 / PostgreSQL
    full-text search); the business's own content, so it stays searchable and unencrypted."""

    __tablename__ = "chunks"

    id: Mapped[str] = id_column()
    org_id: Mapped[str] = org_id_column()
    knowledge_base_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True, info=system())
    document_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("documents.id", ondelete="CASCADE"), index=True, info=system()
    )
    ordinal: Mapped[int] = mapped_column(Integer, info=system())
    heading: Mapped[str | None] = mapped_column(String(500), info=system())
    text: Mapped[str] = mapped_column(Text, info=system(note="knowledge-base content written by the business"))


class ChunkEmbedding(Base):
    """A chunk's dense vector (float32, little-endian) for hybrid retrieval, computed by the worker
    (`knowledge.embed_missing`). Deleted with its chunk, so with its document."""

    __tablename__ = "chunk_embeddings"

    chunk_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True, info=system()
    )
    org_id: Mapped[str] = org_id_column()
    knowledge_base_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True, info=system())
    model: Mapped[str] = mapped_column(String(64), info=system())
    vector: Mapped[bytes] = mapped_column(
        LargeBinary, info=system(note="derived from the business's knowledge-base content")
    )
    created_at: Mapped[datetime] = created_at_column()
