"""Keyword search: the SQLite query plan (common words dropped from candidate selection, scored in Python) gives
the same top results as ranking every match with FTS5's bm25, and search stays within its scope on both
databases."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import bindparam, text

from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.knowledge import search as knowledge_search
from parley.knowledge.schemas import KnowledgeBaseIn
from parley.knowledge.search import RARE_BELOW, Statistics, Term, _stem, bm25_part, plan_sqlite
from parley.knowledge.service import do_create_knowledge_base
from parley.knowledge.terms import fold, terms
from parley.models import Chunk, Document
from parley.runtime import Runtime
from parley.tenancy import platform
from tests.factories import make_org

ACTOR = Actor.system()
CHUNKS = 5_000
# "everywhere" is in every chunk (dropped), "often" in ~60% (dropped), "frequent" and "usual" in ~45% (common:
# they boost), topic words in ~6% (common), the "rare..." words in a few chunks.
TOPICS = ["réservation", "terrasse", "allergènes", "parking", "livraison", "garantie", "remboursement", "horaires"]
RARE = ["zanzibar", "quokka", "marmalade", "xylophone", "saffron", "وجبة"]


def _chunk_text(rng: random.Random, i: int) -> str:
    words = ["everywhere"]
    words += ["often"] * (rng.random() < 0.6) + ["frequent"] * rng.choice((0, 0, 1, 2)) + ["usual"] * (i % 9 < 4)
    words += [rng.choice(TOPICS) for _ in range(rng.choice((0, 0, 1, 3)))]
    words += [rng.choice(RARE)] * (rng.random() < 0.01) * rng.randint(1, 3)
    words += [f"filler{rng.randrange(400)}" for _ in range(rng.randint(5, 40))]
    rng.shuffle(words)
    return " ".join(words)


async def _knowledge_base(runtime: Runtime, org_id: str, texts: list[str]) -> str:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        kb = await do_create_knowledge_base(db, runtime, scope, KnowledgeBaseIn(name=f"KB {new_id('x')}"))
        now = runtime.clock.now()
        document = Document(
            id=new_id("doc"),
            org_id=org_id,
            knowledge_base_id=kb.id,
            title="Corpus",
            source="file",
            filename="corpus.txt",
            kind="text",
            size_bytes=1,
            status="ready",
            chunk_count=len(texts),
            created_at=now,
            updated_at=now,
            ingested_at=now,
        )
        db.add(document)
        await db.flush()
        db.add_all(
            Chunk(
                id=new_id("chk"),
                org_id=org_id,
                knowledge_base_id=kb.id,
                document_id=document.id,
                ordinal=i,
                heading=None,
                text=t,
            )
            for i, t in enumerate(texts)
        )
    return kb.id


def _reference(query: str) -> str:
    """The plain query: every word OR-ed, as the plan would before it dropped or boosted any."""
    return " OR ".join(f'"{_stem(w)}"*' if _stem(w) != w else f'"{w}"' for w in terms(query))


_EXACT = text(
    "SELECT c.id, -bm25(chunks_fts) AS score FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid "
    "WHERE chunks_fts MATCH :query AND c.knowledge_base_id IN :kb_ids ORDER BY bm25(chunks_fts) LIMIT :limit"
).bindparams(bindparam("kb_ids", expanding=True))

QUERIES = [
    "zanzibar",  # one rare word
    "quokka often everywhere",  # rare + words in most chunks
    "Where is the marmalade terrasse?",  # rare + topic word, a question with stop words
    "saffron frequent usual parking",  # rare + several common words that boost
    "xylophone zanzibar quokka",  # only rare words
    "réservation terrasse",  # only topic words: the AND plan (non-English, accents folded)
    "livraison",  # one common word: the least common word selects
    "horaires frequent",  # common words only
    "وجبة usual",  # Arabic rare word + a common word
    "everywhere often",  # only words in most chunks
]


@pytest.mark.sqlite
async def test_the_plan_finds_the_same_top_results_as_ranking_every_match(runtime: Runtime):
    rng = random.Random(3)
    org = await make_org(runtime)
    kb_id = await _knowledge_base(runtime, org.id, [_chunk_text(rng, i) for i in range(CHUNKS)])
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org.id, ACTOR)
        stats = await knowledge_search._sqlite_statistics(db)
        assert stats.rows == CHUNKS
        for query in QUERIES:
            found = await knowledge_search.search(db, scope, [kb_id], query, limit=5)
            exact = (await db.execute(_EXACT, {"query": _reference(query), "kb_ids": [kb_id], "limit": 5})).all()
            assert len(found) == 5, query
            # Ties (chunks with identical words) may come in either order: compare scores, and ids above ties.
            assert [round(p.score, 4) for p in found] == [round(r.score, 4) for r in exact], query
            assert found[0].chunk_id == exact[0].id or found[0].score == pytest.approx(exact[1].score), query


@pytest.mark.sqlite
async def test_the_plan_drops_words_in_most_chunks_and_lets_rare_words_select():
    stats = Statistics(rows=10_000, tokens=200_000)
    words = [Term("everywhere", False, 5_001), Term("terras", True, RARE_BELOW), Term("zanzibar", False, 3)]
    plan = plan_sqlite(words, stats)
    assert plan.query == '"zanzibar"'
    assert plan.boost == [words[1]]
    assert plan.fallback == '"everywhere" OR "terras"* OR "zanzibar"'
    only_common = plan_sqlite([Term("terras", True, 3_000), Term("parking", False, 2_500)], stats)
    assert only_common.query == '"terras"* AND "parking"'
    assert only_common.wider is not None and only_common.wider.query == '"parking"'


def test_the_python_share_of_bm25_is_fts5s_formula():
    stats = Statistics(rows=1_000, tokens=20_000)  # average length 20
    term = Term("park", True, 100)
    folded = fold("Parking: we park. Spark plugs parkway")  # parking, park, parkway; not spark
    idf = math.log((1000 - 100 + 0.5) / (100 + 0.5))
    assert bm25_part([term], stats, folded, 20) == pytest.approx(idf * 3 * 2.2 / (3 + 1.2), rel=1e-4)
    assert bm25_part([Term("absent", False, 1)], stats, folded, 20) == 0.0


async def test_search_stays_in_its_organisation_and_knowledge_bases(runtime: Runtime):
    """Many more matches elsewhere than in scope: the short candidate list is all out of scope, so the scoped
    query over every match must run and still find the few in scope."""
    mine, other = await make_org(runtime), await make_org(runtime)
    crowd = [f"marmalade recipe number {i}" for i in range(300)]
    theirs = await _knowledge_base(runtime, other.id, crowd)
    my_other_kb = await _knowledge_base(runtime, mine.id, crowd[:100])
    my_kb = await _knowledge_base(runtime, mine.id, ["Our marmalade is made with bitter oranges.", "Unrelated."])
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, mine.id, ACTOR)
        found = await knowledge_search.search(db, scope, [my_kb], "marmalade", limit=5)
        assert [p.text for p in found] == ["Our marmalade is made with bitter oranges."]
        both = await knowledge_search.search(db, scope, [my_kb, my_other_kb], "bitter marmalade", limit=5)
        assert both[0].text.startswith("Our marmalade") and len(both) == 5
        # Another organisation's knowledge base, even named, gives nothing: the query filters by organisation
        # (and PostgreSQL's row-level security hides the rows as well).
        assert await knowledge_search.search(db, scope, [theirs], "marmalade", limit=5) == []
