"""Dense vectors of chunks: the `knowledge.embed_missing` reconciler that computes them, and the dense side of
hybrid retrieval (cosine similarity with numpy; vectors are unit length, so a dot product).

Vectors live in `chunk_embeddings` as float32 bytes (no pgvector needed): retrieval scores either every vector of
the scoped knowledge bases, when they are few (`FULL_SCAN_LIMIT`), or the keyword candidates' vectors.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from anyio import to_thread
from sqlalchemy import func, select

from parley.kit.context import Actor
from parley.kit.db import OFFLOAD_OPTION, unit_of_work
from parley.knowledge import embeddings
from parley.models import Chunk, ChunkEmbedding, Organization
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("parley.knowledge")

BATCH = 64  # chunks embedded per transaction
MAX_PER_RUN = 2_048  # per organisation and run, so that one large upload does not starve the other reconcilers
FULL_SCAN_LIMIT = 5_000  # scoped vectors: score them all up to this many, else only the keyword candidates
ACTOR = Actor.system()


def enabled(runtime: Runtime) -> bool:
    return runtime.settings.embeddings != "off"


async def embed_missing(runtime: Runtime) -> dict[str, int]:
    """Embeds chunks that have no vector yet. Safe to run twice or in several workers: a chunk embedded or
    deleted meanwhile is skipped when the batch is written."""
    if not enabled(runtime):
        return {}
    if not embeddings.available():
        log.warning("embeddings are on but the parley[embeddings] extra is not installed")
        return {}
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
    embedded = 0
    for org_id in org_ids:
        while (done := await _embed_batch(runtime, org_id)) and embedded < MAX_PER_RUN:
            embedded += done
    return {"embedded": embedded}


async def _embed_batch(runtime: Runtime, org_id: str) -> int:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        rows = (
            await db.execute(
                select(Chunk.id, Chunk.knowledge_base_id, Chunk.heading, Chunk.text)
                .outerjoin(ChunkEmbedding, ChunkEmbedding.chunk_id == Chunk.id)
                .where(Chunk.org_id == scope.org_id, ChunkEmbedding.chunk_id.is_(None))
                .order_by(Chunk.id)
                .limit(BATCH)
            )
        ).all()
    if not rows:
        return 0
    model = await to_thread.run_sync(embeddings.model)
    texts = [f"{r.heading}\n{r.text}" if r.heading else r.text for r in rows]
    vectors = await to_thread.run_sync(model.encode, texts)
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        ids = [r.id for r in rows]
        still = set(await db.scalars(select(Chunk.id).where(Chunk.org_id == scope.org_id, Chunk.id.in_(ids))))
        done = set(await db.scalars(select(ChunkEmbedding.chunk_id).where(ChunkEmbedding.chunk_id.in_(ids))))
        now = runtime.clock.now()
        db.add_all(
            ChunkEmbedding(
                chunk_id=r.id,
                org_id=scope.org_id,
                knowledge_base_id=r.knowledge_base_id,
                model=model.name,
                vector=vector.astype("<f4").tobytes(),
                created_at=now,
            )
            for r, vector in zip(rows, vectors, strict=True)
            if r.id in still and r.id not in done
        )
    return len(rows)


async def dense_ranking(
    db: AsyncSession, scope: OrgScope, knowledge_base_ids: list[str], query: str, candidates: list[str], limit: int
) -> list[str]:
    """Chunk ids by cosine similarity to `query`, best first: over every vector of the knowledge bases when they
    are at most `FULL_SCAN_LIMIT`, else over the `candidates` (the keyword search's pool)."""
    import numpy as np

    model = await to_thread.run_sync(embeddings.model)
    scoped = (
        ChunkEmbedding.org_id == scope.org_id,
        ChunkEmbedding.knowledge_base_id.in_(knowledge_base_ids),
        ChunkEmbedding.model == model.name,
    )
    options = {OFFLOAD_OPTION: True}
    # How many: over the knowledge-base index alone (no table lookups; these are the scope's knowledge bases).
    few = select(func.count()).select_from(
        select(ChunkEmbedding.chunk_id)
        .where(ChunkEmbedding.knowledge_base_id.in_(knowledge_base_ids))
        .limit(FULL_SCAN_LIMIT + 1)
        .subquery()
    )
    statement = select(
        ChunkEmbedding.chunk_id,
        ChunkEmbedding.vector,
        ChunkEmbedding.org_id,
        ChunkEmbedding.knowledge_base_id,
        ChunkEmbedding.model,
    )
    if (await db.scalar(few, execution_options=options) or 0) <= FULL_SCAN_LIMIT:
        statement = statement.where(*scoped)
    elif candidates:
        # By primary key alone, so that the planner cannot prefer walking the org_id index; the scope is checked
        # below (and by row-level security on PostgreSQL).
        statement = statement.where(ChunkEmbedding.chunk_id.in_(candidates))
    else:
        return []
    kbs = set(knowledge_base_ids)
    rows = [
        r
        for r in (await db.execute(statement, execution_options=options)).all()
        if r.org_id == scope.org_id and r.knowledge_base_id in kbs and r.model == model.name
    ]
    if not rows:
        return []
    question = (await to_thread.run_sync(model.encode, [query]))[0]
    matrix = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4").reshape(len(rows), -1)
    scores = matrix @ question
    best = np.argsort(-scores)[:limit]
    return [rows[i].chunk_id for i in best]
