"""Keyword retrieval over an agent's knowledge bases: SQLite FTS5 (BM25) or PostgreSQL full-text search
(ts_rank_cd). Always scoped to one organisation and the given knowledge bases.

Queries are reduced to content words (see `terms`) and OR-ed, so a question phrased in full sentences still
finds passages that share its key words; ranking puts passages that share more of them first.

SQLite query plan (see `plan_sqlite`). What costs FTS5 is not finding the matching rows but ranking them: bm25
runs once per matching row and counts every hit of every phrase for its IDF, so one word present in most chunks
makes any query that contains it slow (tens of milliseconds at 100k chunks). So the words are first probed for
their document frequency (a count bounded by half the index), then:
- words in more than half the chunks are dropped: FTS5 clamps their IDF to 1e-6, so they cannot change the
  order of results that contain any other word (bm25 ranks are unchanged to the sixth decimal);
- if rare words remain (in fewer than `RARE_BELOW` chunks), only the chunks containing a rare word are ranked,
  by bm25 over all the kept words: `(all kept) NOT (common words NOT rare words)`. FTS5 zeroes the hits of
  phrases under a NOT, so the scores are exactly those of the plain OR query, just for fewer rows (a chunk with
  common words only is never ranked above one with a rare word in practice: their IDFs differ several-fold);
- the best `limit * CANDIDATE_FACTOR` rows are picked inside the FTS subquery, before any join; the scope
  (organisation, knowledge bases) is applied to that short list, and only if it leaves fewer than `limit` rows
  does the query run again with the scope filter over every match (many tenants sharing one embedded index).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import OFFLOAD_OPTION
from parley.knowledge import embeddings
from parley.knowledge.terms import fold, terms
from parley.knowledge.terms import words as tokenize
from parley.llm.base import Passage
from parley.tenancy.scope import OrgScope

MAX_TERMS = 16
RARE_BELOW = 2_000  # chunks: a word in fewer is selective enough to drive candidate selection
CANDIDATE_FACTOR = 20
MAX_CANDIDATES = 100  # re-scored in Python: bounded for large limits (the hybrid pool)
HYBRID_POOL_FACTOR = 4  # hybrid: keyword and vector rankings of limit * this many chunks are fused
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al., 2009)

_SQLITE_CANDIDATES = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url, f.score, z.sz FROM "
    "(SELECT rowid, -bm25(chunks_fts) AS score FROM chunks_fts WHERE chunks_fts MATCH :query "
    "ORDER BY bm25(chunks_fts) LIMIT :candidates) AS f "
    "JOIN chunks c ON c.rowid = f.rowid JOIN documents d ON d.id = c.document_id "
    "JOIN chunks_fts_docsize z ON z.id = f.rowid "
    "WHERE c.org_id = :org_id AND c.knowledge_base_id IN :kb_ids ORDER BY f.score DESC"
).bindparams(bindparam("kb_ids", expanding=True))

_SQLITE = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url, -bm25(chunks_fts) AS score "
    "FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid JOIN documents d ON d.id = c.document_id "
    "WHERE chunks_fts MATCH :query AND c.org_id = :org_id AND c.knowledge_base_id IN :kb_ids "
    "ORDER BY bm25(chunks_fts) LIMIT :limit"
).bindparams(bindparam("kb_ids", expanding=True))

_BY_ID = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url FROM chunks c "
    "JOIN documents d ON d.id = c.document_id WHERE c.org_id = :org_id AND c.id IN :ids"
).bindparams(bindparam("ids", expanding=True))

_POSTGRES = text(
    "SELECT c.id, c.document_id, c.heading, c.text, d.title, d.url, ts_rank_cd(c.search_vector, q) AS score "
    "FROM chunks c JOIN documents d ON d.id = c.document_id, to_tsquery('simple', :query) q "
    "WHERE c.search_vector @@ q AND c.org_id = :org_id AND c.knowledge_base_id IN :kb_ids "
    "ORDER BY score DESC LIMIT :limit"
).bindparams(bindparam("kb_ids", expanding=True))


def _stem(word: str) -> str:
    return word[: max(4, len(word) - 3)] if len(word) >= 6 else word


def _postgres_phrase(word: str) -> str:
    stem = _stem(word)
    return f"{stem}:*" if stem != word else word


@dataclass(frozen=True)
class Term:
    word: str  # folded, as FTS5 indexes it
    prefix: bool  # searched as a prefix of `word`
    frequency: int  # chunks that contain it (counted up to half the index and a bit)

    @property
    def phrase(self) -> str:
        return f'"{self.word}"*' if self.prefix else f'"{self.word}"'

    def count(self, folded: str) -> int:
        """Occurrences in `folded` text (see `terms.fold`), as FTS5's tokenizer would count them."""
        pattern = rf"(?<![^\W_]){re.escape(self.word)}" + (r"[^\W_]*" if self.prefix else r"(?![^\W_])")
        return len(re.findall(pattern, folded))


@dataclass(frozen=True)
class Statistics:
    """FTS5's own corpus statistics: indexed rows and tokens (all columns)."""

    rows: int
    tokens: int

    @property
    def average_length(self) -> float:
        return self.tokens / self.rows if self.rows else 1.0

    def idf(self, frequency: int) -> float:
        # FTS5's bm25: log((N - n + 0.5) / (n + 0.5)), at least 1e-6 (words in more than half the rows).
        value = math.log((self.rows - frequency + 0.5) / (frequency + 0.5)) if self.rows else 0.0
        return value if value > 0 else 1e-6


@dataclass(frozen=True)
class SqlitePlan:
    query: str  # the FTS5 MATCH expression ranked by bm25 inside FTS5
    boost: list[Term]  # common words scored in Python over the candidates, added to FTS5's score
    fallback: str  # the OR of every word: what runs when the plan finds too few in scope
    wider: SqlitePlan | None = None  # the plan to try before `fallback` when this one finds too few


def plan_sqlite(words: list[Term], stats: Statistics) -> SqlitePlan:
    very_common = stats.rows // 2
    kept = [t for t in words if t.frequency <= very_common or stats.rows < 2] or words
    # Too few results from the plan: the plain query, every word included, gives the same as before.
    everything = " OR ".join(t.phrase for t in words)
    rare = [t for t in kept if t.frequency < RARE_BELOW]
    if rare:
        return SqlitePlan(" OR ".join(t.phrase for t in rare), [t for t in kept if t not in rare], everything)
    # Nothing selective: the chunks that have all the words (an AND keeps every phrase's hits, so their FTS5
    # scores are those of the OR query); if too few, the least common word selects and the others boost.
    least = min(kept, key=lambda t: t.frequency)
    fallback = SqlitePlan(least.phrase, [t for t in kept if t is not least], everything)
    if len(kept) == 1:
        return fallback
    return SqlitePlan(" AND ".join(t.phrase for t in kept), [], everything, fallback)


def bm25_part(terms_: list[Term], stats: Statistics, folded: str, length: int) -> float:
    """The share of FTS5's bm25 score (k1 = 1.2, b = 0.75, all columns weighing 1) that `terms_` add to a row
    of `length` tokens whose folded text is `folded`: the same formula FTS5 applies, so adding it to the bm25 of
    the other words gives the score of the whole query."""
    k1, b = 1.2, 0.75
    norm = k1 * (1 - b + b * length / stats.average_length)
    score = 0.0
    for term in terms_:
        frequency = term.count(folded)
        if frequency:
            score += stats.idf(term.frequency) * frequency * (k1 + 1) / (frequency + norm)
    return score


# Document frequencies of recent query words. Counting a short or common word walks a long posting list (2-25
# ms at 100k chunks), and customers ask the same words again and again. An entry is keyed by the database and
# FTS5's corpus statistics (rows and tokens), so any ingestion or deletion, which changes them, retires it; the
# frequencies only weigh the ranking, never decide what is in scope.
_FREQUENCY_CACHE_SIZE = 20_000
_frequencies: OrderedDict[tuple[str, int, int, str], int] = OrderedDict()


async def _sqlite_terms(db: AsyncSession, words: list[str]) -> tuple[list[Term], Statistics]:
    """Each word's document frequency, counted up to half the index (past that, only "very common" matters),
    in one statement for the words not counted recently, and FTS5's corpus statistics."""
    stats = await _sqlite_statistics(db)
    cap = max(stats.rows // 2 + 1, RARE_BELOW)
    shapes = [(fold(w)[: len(_stem(w))], _stem(w) != w) for w in words]
    phrases = [Term(w, prefix, 0).phrase for w, prefix in shapes]
    database = str(db.get_bind().engine.url)
    keys = [(database, stats.rows, stats.tokens, phrase) for phrase in phrases]
    counts: dict[int, int] = {i: _frequencies[key] for i, key in enumerate(keys) if key in _frequencies}
    missing = [i for i in range(len(words)) if i not in counts]
    if missing:
        # Only indexes are interpolated: the words are bound parameters.
        probes = " UNION ALL ".join(
            f"SELECT {i}, (SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH :p{i} LIMIT :cap))"  # noqa: S608
            for i in missing
        )
        params: dict[str, object] = {f"p{i}": phrases[i] for i in missing}
        params["cap"] = cap
        rows = await db.execute(text(probes), params, execution_options={OFFLOAD_OPTION: True})
        for i, n in rows:
            counts[int(i)] = int(n)
            _frequencies[keys[int(i)]] = int(n)
        while len(_frequencies) > _FREQUENCY_CACHE_SIZE:
            _frequencies.popitem(last=False)
    for key in keys:
        if key in _frequencies:
            _frequencies.move_to_end(key)
    return [Term(w, prefix, counts[i]) for i, (w, prefix) in enumerate(shapes)], stats


async def _sqlite_statistics(db: AsyncSession) -> Statistics:
    # FTS5's "averages" record (id 1 of its %_data table): varints, the row count then each column's tokens.
    block = (await db.execute(text("SELECT block FROM chunks_fts_data WHERE id = 1"))).scalar()
    values = _varints(bytes(block)) if block else []
    return Statistics(values[0], sum(values[1:])) if values else Statistics(0, 0)


def _varints(data: bytes) -> list[int]:
    """SQLite's variable-length integers (big-endian, 7 bits a byte, a 9th byte whole), one after another."""
    values: list[int] = []
    i = 0
    while i < len(data):
        value = 0
        for n in range(9):
            byte = data[i]
            i += 1
            if n == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        values.append(value)
    return values


async def search(
    db: AsyncSession,
    scope: OrgScope,
    knowledge_base_ids: list[str],
    query: str,
    *,
    limit: int = 5,
    dense: bool = False,
) -> list[Passage]:
    """The best `limit` passages for `query`. With `dense` (embeddings on and the extra installed), keyword and
    vector rankings are fused by reciprocal rank: 1 / (RRF_K + rank) summed over the rankings a chunk is in."""
    if not dense or not knowledge_base_ids or not embeddings.available():
        return await keyword_search(db, scope, knowledge_base_ids, query, limit=limit)
    from parley.knowledge.vectors import dense_ranking

    pool = await keyword_search(db, scope, knowledge_base_ids, query, limit=limit * HYBRID_POOL_FACTOR)
    by_vector = await dense_ranking(
        db, scope, knowledge_base_ids, query, [p.chunk_id for p in pool], limit * HYBRID_POOL_FACTOR
    )
    if not by_vector:
        return pool[:limit]
    fused: dict[str, float] = {}
    for ranking in ([p.chunk_id for p in pool], by_vector):
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(fused, key=lambda chunk_id: -fused[chunk_id])[:limit]
    known = {p.chunk_id: p for p in pool}
    missing = [chunk_id for chunk_id in best if chunk_id not in known]
    if missing:
        rows = await db.execute(_BY_ID, {"org_id": scope.org_id, "ids": missing})
        known.update({r.id: _passage(r, 0.0) for r in rows})
    return [replace(known[chunk_id], score=fused[chunk_id]) for chunk_id in best if chunk_id in known]


def _passage(r: Any, score: float) -> Passage:
    return Passage(
        chunk_id=r.id,
        document_id=r.document_id,
        title=r.title,
        text=f"{r.heading}\n{r.text}" if r.heading else r.text,
        score=score,
        url=r.url,
    )


async def keyword_search(
    db: AsyncSession, scope: OrgScope, knowledge_base_ids: list[str], query: str, *, limit: int = 5
) -> list[Passage]:
    postgres = db.get_bind().dialect.name == "postgresql"
    words = terms(query, keep_accents=postgres)[:MAX_TERMS]
    if not words or not knowledge_base_ids:
        return []
    params: dict[str, object] = {"org_id": scope.org_id, "kb_ids": knowledge_base_ids, "limit": limit}
    # A search over a large knowledge base can take tens of milliseconds: off the event loop.
    options = {OFFLOAD_OPTION: True}
    if postgres:
        params["query"] = " | ".join(_postgres_phrase(w) for w in words)
        rows = list(await db.execute(_POSTGRES, params, execution_options=options))
    else:
        found, stats = await _sqlite_terms(db, words)
        plan: SqlitePlan | None = plan_sqlite(found, stats)
        rows = []
        fallback = ""
        while plan is not None and len(rows) < limit:
            params["query"], params["candidates"] = (
                plan.query,
                max(limit, min(limit * CANDIDATE_FACTOR, MAX_CANDIDATES)),
            )
            candidates = list(await db.execute(_SQLITE_CANDIDATES, params, execution_options=options))
            rows = _rerank(candidates, plan.boost, stats)[:limit]
            fallback, plan = plan.fallback, plan.wider
        if len(rows) < limit:
            # The best matches overall are mostly outside this scope, or an AND of common words matched too
            # few: every match of the OR of the kept words, filtered by scope.
            params["query"] = fallback
            rows = list(await db.execute(_SQLITE, params, execution_options=options))
    return [_passage(r, float(r.score)) for r in rows]


def _rerank(candidates: list[Any], boost: list[Term], stats: Statistics) -> list[Any]:
    """Candidates (best FTS5 score first) re-ordered by their score plus the common words' share of it."""
    if not boost:
        return candidates
    scored = []
    for row in candidates:
        folded = fold(f"{row.heading or ''} {row.text}")
        length = sum(_varints(bytes(row.sz))) if row.sz else len(tokenize(folded))
        scored.append((row.score + bm25_part(boost, stats, folded, length), row))
    scored.sort(key=lambda pair: -pair[0])
    return [_Scored(row, score) for score, row in scored]


@dataclass(frozen=True)
class _Scored:
    row: Any
    score: float

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)
