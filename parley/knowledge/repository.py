"""Tenant-scoped SQL for knowledge bases, documents and chunks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Chunk, Document, KnowledgeBase
from parley.tenancy.scope import OrgScope


async def knowledge_bases(db: AsyncSession, scope: OrgScope) -> list[KnowledgeBase]:
    return list(
        await db.scalars(
            select(KnowledgeBase).where(KnowledgeBase.org_id == scope.org_id).order_by(KnowledgeBase.created_at)
        )
    )


async def knowledge_base(db: AsyncSession, scope: OrgScope, kb_id: str) -> KnowledgeBase | None:
    result: KnowledgeBase | None = await db.scalar(
        select(KnowledgeBase).where(KnowledgeBase.org_id == scope.org_id, KnowledgeBase.id == kb_id)
    )
    return result


async def documents(db: AsyncSession, scope: OrgScope, kb_id: str) -> list[Document]:
    return list(
        await db.scalars(
            select(Document)
            .where(Document.org_id == scope.org_id, Document.knowledge_base_id == kb_id)
            .order_by(Document.created_at)
        )
    )


async def document_ids(db: AsyncSession, scope: OrgScope, kb_id: str) -> list[str]:
    return list(
        await db.scalars(
            select(Document.id).where(Document.org_id == scope.org_id, Document.knowledge_base_id == kb_id)
        )
    )


async def document(db: AsyncSession, scope: OrgScope, document_id: str) -> Document | None:
    result: Document | None = await db.scalar(
        select(Document).where(Document.org_id == scope.org_id, Document.id == document_id)
    )
    return result


async def chunks(db: AsyncSession, scope: OrgScope, document_id: str, *, limit: int, offset: int) -> list[Chunk]:
    return list(
        await db.scalars(
            select(Chunk)
            .where(Chunk.org_id == scope.org_id, Chunk.document_id == document_id)
            .order_by(Chunk.ordinal)
            .limit(limit)
            .offset(offset)
        )
    )


async def delete_chunks(db: AsyncSession, scope: OrgScope, document_id: str) -> None:
    await db.execute(delete(Chunk).where(Chunk.org_id == scope.org_id, Chunk.document_id == document_id))


async def claim_pending(db: AsyncSession, scope: OrgScope, *, stale_before: datetime, limit: int) -> list[Document]:
    """Documents waiting for ingestion, or stuck in processing (a worker died). Several workers may run:
    on PostgreSQL the rows are locked with SKIP LOCKED, so each document goes to one of them."""
    query = (
        select(Document)
        .where(
            Document.org_id == scope.org_id,
            or_(
                Document.status == "pending",
                (Document.status == "processing") & (Document.updated_at < stale_before),
            ),
        )
        .order_by(Document.created_at)
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(await db.scalars(query))
