"""Reconciler: ingest pending documents.

For each organisation, documents that are pending (or stuck in processing longer than `STALE_AFTER`, because a
worker died) are claimed in one short transaction (status → processing), processed outside any transaction
(fetch, sniff, extract and chunk: slow, CPU-bound work runs in a thread), and settled in another short
transaction: chunks replaced and status → ready, or status → failed with a reason staff can read. Passing
failures (a site down) go back to pending until `MAX_ATTEMPTS`. Running it twice, or in several workers, is
safe: claims skip locked rows on PostgreSQL, and settling replaces the document's chunks wholesale.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from anyio import to_thread
from sqlalchemy import select

from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.knowledge import repository as repo
from parley.knowledge import store
from parley.knowledge.chunking import Chunk as Piece
from parley.knowledge.chunking import chunk
from parley.knowledge.extract import extract
from parley.knowledge.fetch import FetchFailed, fetch
from parley.knowledge.sniff import UnsupportedDocument, sniff
from parley.models import Chunk, Document, Organization
from parley.privacy.keys import org_cipher
from parley.runtime import Runtime
from parley.tenancy import platform

log = logging.getLogger("parley.knowledge")

STALE_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 3
BATCH = 10
ACTOR = Actor.system()


async def ingest_pending(runtime: Runtime) -> dict[str, int]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
    counts = {"ready": 0, "failed": 0, "retry": 0}
    for org_id in org_ids:
        for outcome in await _ingest_org(runtime, org_id):
            counts[outcome] += 1
    return counts


async def _ingest_org(runtime: Runtime, org_id: str) -> list[str]:
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        claimed = await repo.claim_pending(db, scope, stale_before=now - STALE_AFTER, limit=BATCH)
        for document in claimed:
            document.status, document.updated_at = "processing", now
            document.attempts += 1
        work = [(d.id, d.source, d.url, d.filename, d.kind, d.attempts) for d in claimed]
    return [await _ingest_one(runtime, org_id, *item) for item in work]


async def _ingest_one(
    runtime: Runtime,
    org_id: str,
    document_id: str,
    source: str,
    url: str | None,
    filename: str | None,
    kind: str | None,
    attempts: int,
) -> str:
    try:
        data, declared = await _load(runtime, org_id, document_id, source, url)
        pieces, found_title, kind = await to_thread.run_sync(_process, data, filename, declared)
    except FetchFailed as exc:
        retry = exc.retryable and attempts < MAX_ATTEMPTS
        return await _settle_failure(runtime, org_id, document_id, str(exc), retry=retry)
    except UnsupportedDocument as exc:
        return await _settle_failure(runtime, org_id, document_id, str(exc), retry=False)
    except Exception:  # a bug or a library crash on a hostile file: fail the document, keep the worker going
        log.exception("ingestion crashed", extra={"document_id": document_id})
        return await _settle_failure(runtime, org_id, document_id, "the document could not be read", retry=False)
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        document = await repo.document(db, scope, document_id)
        if document is None:  # deleted while we worked
            return "failed"
        await repo.delete_chunks(db, scope, document_id)
        db.add_all(
            Chunk(
                id=new_id("chk"),
                org_id=org_id,
                knowledge_base_id=document.knowledge_base_id,
                document_id=document_id,
                ordinal=p.ordinal,
                heading=p.heading,
                text=p.text,
            )
            for p in pieces
        )
        if source == "url" and found_title and document.title == document.url:
            document.title = found_title[:300]
        document.status, document.error, document.chunk_count = "ready", None, len(pieces)
        document.kind = kind
        document.ingested_at = document.updated_at = runtime.clock.now()
    return "ready"


async def _load(
    runtime: Runtime, org_id: str, document_id: str, source: str, url: str | None
) -> tuple[bytes, str | None]:
    if source == "url":
        assert url is not None
        fetched = await fetch(url, allow_private=runtime.settings.knowledge_fetch_allow_private)
        return fetched.data, fetched.content_type
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        cipher = await org_cipher(runtime, scope)
    data = await store.get(runtime.settings, cipher, document_id)
    if data is None:
        raise UnsupportedDocument("the uploaded file is missing from storage; upload it again")
    return data, None


def _process(data: bytes, filename: str | None, declared: str | None) -> tuple[list[Piece], str | None, str]:
    kind = sniff(data, filename, declared)
    document = extract(data, kind)
    pieces = chunk(document)
    if not pieces:
        raise UnsupportedDocument("no text found in this document")
    return list(pieces), document.title, kind


async def _settle_failure(runtime: Runtime, org_id: str, document_id: str, reason: str, *, retry: bool) -> str:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        document: Document | None = await repo.document(db, scope, document_id)
        if document is None:
            return "failed"
        document.status = "pending" if retry else "failed"
        document.error = reason
        document.updated_at = runtime.clock.now()
    return "retry" if retry else "failed"
