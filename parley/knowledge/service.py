"""Knowledge bases and their documents. Adding a document only stores it (sealed) and marks it pending; the
ingestion reconciler (`knowledge/tasks.py`) extracts, chunks and indexes it."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.errors import InvalidField, NotFound, PayloadTooLarge
from parley.kit.ids import new_id
from parley.knowledge import repository as repo
from parley.knowledge import store
from parley.knowledge.schemas import KnowledgeBaseIn, KnowledgeBasePatch
from parley.knowledge.sniff import MAX_DOCUMENT_BYTES, UnsupportedDocument, sniff
from parley.models import Document, KnowledgeBase
from parley.privacy import audit
from parley.privacy.keys import org_cipher
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


async def access_knowledge_base(db: AsyncSession, scope: OrgScope, kb_id: str) -> KnowledgeBase:
    kb = await repo.knowledge_base(db, scope, kb_id)
    if kb is None:
        raise NotFound("knowledge base not found")
    return kb


async def access_document(db: AsyncSession, scope: OrgScope, document_id: str) -> Document:
    document = await repo.document(db, scope, document_id)
    if document is None:
        raise NotFound("document not found")
    return document


async def do_create_knowledge_base(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, body: KnowledgeBaseIn
) -> KnowledgeBase:
    kb = KnowledgeBase(
        id=new_id("kb"),
        org_id=scope.org_id,
        name=body.name,
        description=body.description,
        created_at=runtime.clock.now(),
    )
    db.add(kb)
    await db.flush()
    await audit.record_in_scope(
        db, runtime.clock, scope, "knowledge_base.created", target_type="knowledge_base", target_id=kb.id
    )
    return kb


async def do_update_knowledge_base(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, kb_id: str, body: KnowledgeBasePatch
) -> KnowledgeBase:
    kb = await access_knowledge_base(db, scope, kb_id)
    for field, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(kb, field, value)
    return kb


async def do_delete_knowledge_base(db: AsyncSession, runtime: Runtime, scope: OrgScope, kb_id: str) -> None:
    kb = await access_knowledge_base(db, scope, kb_id)
    document_ids = await repo.document_ids(db, scope, kb_id)
    await db.delete(kb)  # documents, chunks and index entries go with it (cascade and triggers)
    await db.flush()
    for document_id in document_ids:
        await store.delete(runtime.settings, scope.org_id, document_id)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "knowledge_base.deleted",
        target_type="knowledge_base",
        target_id=kb_id,
        details={"documents": len(document_ids)},
    )


async def do_add_file(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    kb_id: str,
    *,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
    title: str | None,
) -> Document:
    await access_knowledge_base(db, scope, kb_id)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"documents are limited to {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise InvalidField("body.file", "the file is empty")
    try:
        kind = sniff(data, filename, declared_type)
    except UnsupportedDocument as exc:
        raise InvalidField("body.file", str(exc)) from exc
    now = runtime.clock.now()
    document = Document(
        id=new_id("doc"),
        org_id=scope.org_id,
        knowledge_base_id=kb_id,
        title=(title or filename or "Untitled document")[:300],
        source="file",
        filename=filename,
        kind=kind,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        status="pending",
        created_at=now,
        updated_at=now,
    )
    db.add(document)
    await db.flush()
    await store.put(runtime.settings, await org_cipher(runtime, scope), document.id, data)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "document.added",
        target_type="document",
        target_id=document.id,
        details={"kind": kind, "size": len(data)},
    )
    return document


async def do_add_url(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, kb_id: str, *, url: str, title: str | None
) -> Document:
    await access_knowledge_base(db, scope, kb_id)
    now = runtime.clock.now()
    document = Document(
        id=new_id("doc"),
        org_id=scope.org_id,
        knowledge_base_id=kb_id,
        title=(title or url)[:300],
        source="url",
        url=url,
        status="pending",
        created_at=now,
        updated_at=now,
    )
    db.add(document)
    await db.flush()
    await audit.record_in_scope(
        db, runtime.clock, scope, "document.added", target_type="document", target_id=document.id, details={"url": url}
    )
    return document


async def do_reingest(db: AsyncSession, runtime: Runtime, scope: OrgScope, document_id: str) -> Document:
    document = await access_document(db, scope, document_id)
    document.status, document.error, document.attempts = "pending", None, 0
    document.updated_at = runtime.clock.now()
    return document


async def do_delete_document(db: AsyncSession, runtime: Runtime, scope: OrgScope, document_id: str) -> None:
    document = await access_document(db, scope, document_id)
    await db.delete(document)
    await db.flush()
    await store.delete(runtime.settings, scope.org_id, document_id)
    await audit.record_in_scope(
        db, runtime.clock, scope, "document.deleted", target_type="document", target_id=document_id
    )
