"""Keyword retrieval over an agent's knowledge bases: SQLite FTS5 (BM25) or PostgreSQL full-text search
(ts_rank_cd). Always scoped to one organisation and the given knowledge bases.

Queries are reduced to content words (see `terms`) and OR-ed, so a question phrased in full sentences still
finds passages that share its key words; ranking puts passages that share more of them first.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import OFFLOAD_OPTION
from parley.knowledge.terms import terms
from parley.llm.base import Passage
from parley.tenancy.scope import OrgScope

MAX_TERMS = 16

_SQLITE = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url, -bm25(chunks_fts) AS score "
    "FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
    "WHERE chunks_fts MATCH :query AND c.org_id = :org_id AND c.knowledge_base_id IN :kb_ids "
    "ORDER BY bm25(chunks_fts) LIMIT :limit"
).bindparams(bindparam("kb_ids", expanding=True))

_POSTGRES = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url, ts_rank_cd(c.search_vector, q) AS score "
    "FROM chunks c JOIN documents d ON d.id = c.document_id, to_tsquery('simple', :query) q "
    "WHERE c.search_vector @@ q AND c.org_id = :org_id AND c.knowledge_base_id IN :kb_ids "
    "ORDER BY score DESC LIMIT :limit"
).bindparams(bindparam("kb_ids", expanding=True))


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)] if len(word) >= 6 else word


async def search(
    db: AsyncSession, scope: OrgScope, knowledge_base_ids: list[str], query: str, *, limit: int = 5
) -> list[Passage]:
    postgres = db.get_bind().dialect.name == "postgresql"
    words = terms(query, keep_accents=postgres)[:MAX_TERMS]
    if not words or not knowledge_base_ids:
        return []
    # Terms are \w+ runs, so quoting is enough to keep them literal in both query languages. Long words are
    # searched by prefix, a language-neutral stand-in for stemming ("reserve" finds "reserved", "reservation").
    stems = [_stem(w) for w in words]
    if postgres:
        expression = " | ".join(f"{w}:*" if w != word else w for w, word in zip(stems, words, strict=True))
    else:
        expression = " OR ".join(f'"{w}"*' if w != word else f'"{w}"' for w, word in zip(stems, words, strict=True))
    rows = await db.execute(
        _POSTGRES if postgres else _SQLITE,
        {"query": expression, "org_id": scope.org_id, "kb_ids": knowledge_base_ids, "limit": limit},
        # A search over a large knowledge base can take SQLite tens of milliseconds: off the event loop.
        execution_options={OFFLOAD_OPTION: True},
    )
    return [
        Passage(
            chunk_id=r.id,
            document_id=r.document_id,
            title=r.title,
            text=f"{r.heading}\n{r.text}" if r.heading else r.text,
            score=float(r.score),
            url=r.url,
        )
        for r in rows
    ]
