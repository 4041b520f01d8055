"""Retrieval benchmark: ingestion throughput and keyword-search latency on large knowledge bases.

Method
------
1. Corpus. A synthetic, deterministic (seeded) corpus of Markdown documents of 2,000-4,000 words each: a title,
   `##` sections, paragraphs of sentences and the odd bullet list. Words come from
   - English function words (about 40% of the running text, as in real prose; FTS indexes them, search drops
     them from queries),
   - a vocabulary of 5,000 generated content words with Zipf-Mandelbrot frequencies (a few words occur in
     almost every chunk, most in very few),
   - 40 topics of 8 domain words ("refund", "warranty", "allergen"...): each document has one topic and uses
     its words often, so those words cluster in a subset of documents.
   Queries (2-6 words, sometimes phrased as a question with stop words) mix common words (the 100 most
   frequent), rarer words and domain words, so their result sets range from a handful of chunks to nearly all.
2. Ingestion, through Parley's own pipeline pieces: `extract(data, "markdown")` then `chunk()` (the same
   functions the ingestion reconciler runs), then, per document and in one `unit_of_work` each (as the
   reconciler settles one document per transaction), a `Document` row and its `Chunk` rows added through the
   SQLAlchemy ORM and committed. The timed work is extract + chunk + insert + commit, so it includes the index
   maintenance: the FTS5 triggers on SQLite, the generated `search_vector` and its GIN index on PostgreSQL.
   Generating the corpus is not timed. Sizes (`--sizes`) are reached incrementally in one knowledge base:
   ingest up to the first size, measure queries, ingest on up to the next size, measure again.
3. Queries. After a warm-up (`--warmup` queries, discarded), each of `--queries` queries calls
   `parley.knowledge.search.search(db, scope, [kb_id], query, limit=5)` inside its own read `unit_of_work`
   (the tenant scope set as the engine does); only the `search()` call is timed. In the same run and the same
   way, a trivial indexed query, `SELECT id FROM chunks WHERE org_id = :org LIMIT 5`, gives the floor of a
   round trip through SQLAlchemy and the driver; the table prints search p50 / trivial p50.
4. Hybrid (keyword + dense vectors, fused by reciprocal rank; needs the parley[embeddings] extra). Embedding
   100k chunks with all-MiniLM-L6-v2 on 2 CPU cores takes hours, so the two costs are measured apart:
   - embedding throughput: `--embed-sample` chunks of the corpus through the real model (the reconciler's
     batches), timed; "with embeddings" ingestion = 1 / (1 / keyword rate + 1 / embedding rate);
   - hybrid query latency: every chunk gets a random unit vector (stored as the reconciler stores real ones,
     untimed); the query is embedded by the real model and the same queries run through
     `search(..., dense=True)`. Latency depends on how many vectors are scored, not on their values. Past
     `vectors.FULL_SCAN_LIMIT` scoped vectors only the keyword candidates' vectors are scored.

Databases: SQLite in a fresh temporary directory (removed at the end), configured exactly as Parley configures
it (WAL, synchronous=NORMAL). PostgreSQL: the database `parley_bench_retrieval` is dropped and created, migrated
as the owner (`--postgres-url`, a superuser), and the bench connects as a separate non-superuser role
`parley_bench_app` (created if missing, dropped at the end if this run created it) so that row-level security
applies as in production. After each ingestion step, a database-wide `VACUUM ANALYZE` stands for autovacuum's
steady state (planner statistics for chunks and documents, GIN pending list flushed); SQLite gets nothing, as in
production. On PostgreSQL the same queries are then run a second time over the same data as the superuser
(row "pg-super"), which bypasses row-level security, to show what RLS costs full-text search
(`--no-superuser-pass` skips it).

Every measured pass stops early once `--query-budget` seconds are spent (at least 30 queries are measured), so a
slow configuration cannot stretch the run; the table marks such rows.

Target (from the issue): keyword p95 <= 20 ms at 100k chunks on SQLite.

Run: `.venv/bin/python bench/retrieval.py [--sizes 10000,100000] [--database sqlite|postgres|both]`
(a full default run takes about 6-8 minutes on 2 cores; `--sizes 2000 --queries 50` is a quick smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import itertools
import math
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from benchdb import fresh_database, pg_admin, pg_reachable, settings_for
from sqlalchemy import select, text

from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.knowledge import embeddings
from parley.knowledge import search as knowledge_search
from parley.knowledge.chunking import chunk
from parley.knowledge.extract import extract
from parley.knowledge.schemas import KnowledgeBaseIn
from parley.knowledge.service import do_create_knowledge_base
from parley.knowledge.terms import STOPWORDS
from parley.models import Chunk, ChunkEmbedding, Document
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope

Backend = Literal["sqlite", "postgres"]

TARGET_P95_MS = 20.0
TARGET_CHUNKS = 100_000
PG_DATABASE = "parley_bench_retrieval"
PG_APP_ROLE = f"{PG_DATABASE}_app"  # created by benchdb.fresh_database
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MASTER_KEY = base64.urlsafe_b64encode(b"retrieval-bench-master-key-32by!").decode()
ACTOR = Actor("system", None, RequestInfo(request_id="bench-retrieval"))
TRIVIAL = text("SELECT id FROM chunks WHERE org_id = :org_id LIMIT 5")
COMMON_RANKS = 100  # "common" words: the most frequent content words
MIN_QUERIES = 30


# --- corpus ----------------------------------------------------------------------------------------------------

FUNCTION_WORDS = (
    "the of and to a in is that for it as with was on be by this are at from or an have not which but we you "
    "they their can will all there has more one so if about when what also been other into its our may would "
    "some these than then do only any each how should must after before over such no most"
).split()
DOMAIN_TOPICS = [
    "refund return exchange receipt credit store voucher deadline",
    "warranty repair defect replacement guarantee technician diagnosis coverage",
    "shipping delivery courier tracking parcel dispatch customs postage",
    "invoice billing payment instalment overdue statement direct debit",
    "account password login reset verification email username lockout",
    "subscription renewal cancellation plan upgrade downgrade trial cycle",
    "reservation booking table party deposit seating waitlist confirmation",
    "allergen gluten lactose vegan nuts ingredients kitchen menu",
    "opening hours holiday weekend closure schedule sunday evening",
    "parking garage entrance elevator accessibility wheelchair ramp floor",
    "appointment consultation clinic doctor prescription referral nurse vaccine",
    "insurance claim policy premium excess accident liability beneficiary",
    "mortgage loan interest rate deposit repayment lender valuation",
    "router modem wifi firmware signal bandwidth outage reboot",
    "printer cartridge toner scanner driver paper jam tray",
    "laptop battery charger screen keyboard trackpad overheating hinge",
    "smartphone sim roaming contract unlock handset tariff voicemail",
    "hotel checkin checkout minibar housekeeping suite breakfast concierge",
    "flight baggage boarding layover seat upgrade lounge itinerary",
    "train ticket platform railcard timetable carriage conductor delay",
    "gym membership locker trainer classes sauna induction towel",
    "school enrolment tuition semester transcript campus lecture exam",
    "library borrow renew fine catalogue archive periodical reading",
    "pharmacy medication dosage generic pharmacist refill label side",
    "veterinary pet vaccination kennel grooming microchip flea worming",
    "plumbing leak boiler radiator pressure valve drain thermostat",
    "electricity meter tariff supplier outage kilowatt solar inverter",
    "recycling bin collection compost landfill bulky waste depot",
    "passport visa embassy application biometric renewal photograph consulate",
    "tax return deduction allowance threshold bracket filing audit",
    "payroll salary payslip overtime pension bonus deduction holiday",
    "furniture assembly sofa mattress wardrobe fabric cushion frame",
    "garden lawn mower hedge trimmer seed fertiliser pruning",
    "bicycle tyre puncture brake chain gear saddle helmet",
    "car service mileage tyre brake inspection garage bodywork",
    "camera lens tripod shutter aperture sensor memory flash",
    "concert venue ticketing wristband cloakroom encore support lineup",
    "cinema screening matinee popcorn trailer subtitles premiere seat",
    "bakery sourdough croissant pastry bake flour loaf baguette",
    "wedding venue catering marquee florist photographer ceremony reception",
]
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou", "ar", "en", "or")]


@dataclass(frozen=True)
class Corpus:
    seed: int
    vocabulary: list[str]
    cumulative: list[float]
    function_cumulative: list[float]
    topics: list[list[str]]

    @classmethod
    def build(cls, seed: int, size: int = 5_000) -> Corpus:
        rng = random.Random(seed)
        topics = [line.split() for line in DOMAIN_TOPICS]
        taken = set(STOPWORDS) | set(FUNCTION_WORDS) | {w for t in topics for w in t}
        vocabulary: list[str] = []
        while len(vocabulary) < size:
            word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 3, 4, 4, 5))))
            if word not in taken:
                taken.add(word)
                vocabulary.append(word)
        # Zipf-Mandelbrot: frequency of rank r proportional to 1 / (r + 2.7).
        cumulative = list(itertools.accumulate(1.0 / (rank + 2.7) for rank in range(1, size + 1)))
        function_cumulative = list(
            itertools.accumulate(1.0 / (rank + 1.0) for rank in range(1, len(FUNCTION_WORDS) + 1))
        )
        return cls(seed, vocabulary, cumulative, function_cumulative, topics)

    def document(self, index: int) -> bytes:
        """Document `index`, the same bytes in every run with the same seed."""
        rng = random.Random(self.seed * 1_000_003 + index)
        topic = self.topics[index % len(self.topics)]
        target_words = rng.randint(2_000, 4_000)
        lines = [f"# {self._phrase(rng, topic, 3).title()} guide {index}", ""]
        written = 0
        while written < target_words:
            lines += [f"## {self._phrase(rng, topic, rng.randint(2, 5)).capitalize()}", ""]
            for _ in range(rng.randint(2, 6)):
                if rng.random() < 0.15:
                    items = [self._sentence(rng, topic, rng.randint(4, 10)) for _ in range(rng.randint(3, 6))]
                    lines += [f"- {item}" for item in items]
                    written += sum(item.count(" ") + 1 for item in items)
                else:
                    sentences = [self._sentence(rng, topic, rng.randint(6, 24)) for _ in range(rng.randint(2, 7))]
                    lines.append(" ".join(sentences))
                    written += sum(s.count(" ") + 1 for s in sentences)
                lines.append("")
        return "\n".join(lines).encode()

    def _phrase(self, rng: random.Random, topic: list[str], count: int) -> str:
        words = [rng.choice(topic) if rng.random() < 0.4 else self._content(rng) for _ in range(count)]
        return " ".join(words)

    def _content(self, rng: random.Random) -> str:
        return self.vocabulary[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]

    def _sentence(self, rng: random.Random, topic: list[str], count: int) -> str:
        words: list[str] = []
        total_function = self.function_cumulative[-1]
        for _ in range(count):
            roll = rng.random()
            if roll < 0.4:
                words.append(FUNCTION_WORDS[bisect.bisect(self.function_cumulative, rng.random() * total_function)])
            elif roll < 0.45:
                words.append(rng.choice(topic))
            else:
                words.append(self._content(rng))
        if rng.random() < 0.05:
            words.append(str(rng.randint(2, 500)))
        return " ".join(words).capitalize() + ("?" if rng.random() < 0.08 else ".")

    def queries(self, count: int, seed: int) -> list[tuple[str, bool]]:
        """(query, has a common word): 2-6 content words, some phrased as questions."""
        rng = random.Random(seed)
        domain = [w for t in self.topics for w in t]
        result: list[tuple[str, bool]] = []
        for _ in range(count):
            words: list[str] = []
            common = False
            for _ in range(rng.randint(2, 6)):
                roll = rng.random()
                if roll < 0.2:
                    words.append(self.vocabulary[rng.randrange(COMMON_RANKS)])
                    common = True
                elif roll < 0.6:
                    words.append(self.vocabulary[rng.randrange(COMMON_RANKS, len(self.vocabulary))])
                else:
                    words.append(rng.choice(domain))
            query = " ".join(words)
            if rng.random() < 0.4:
                query = f"{rng.choice(['how do I', 'what is the', 'can you tell me about', 'where is my'])} {query}?"
            result.append((query, common))
        return result


# --- databases -------------------------------------------------------------------------------------------------


@contextmanager
def database(backend: Backend, admin_url: str) -> Iterator[Settings]:
    with fresh_database(backend, admin_url, PG_DATABASE, MASTER_KEY) as settings:
        yield settings


# --- measurement -----------------------------------------------------------------------------------------------


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (any order)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass
class Ingested:
    chunks: int = 0
    documents: int = 0
    prepare_seconds: float = 0.0  # extract + chunk
    store_seconds: float = 0.0  # insert + index + commit

    @property
    def rate(self) -> float:
        total = self.prepare_seconds + self.store_seconds
        return self.chunks / total if total else 0.0


@dataclass
class Latencies:
    search_ms: list[float] = field(default_factory=list)
    common_ms: list[float] = field(default_factory=list)
    rare_ms: list[float] = field(default_factory=list)
    trivial_ms: list[float] = field(default_factory=list)
    empty: int = 0
    planned: int = 0
    hybrid_ms: list[float] = field(default_factory=list)


@dataclass
class Row:
    label: str
    backend: Backend
    size: int
    chunks: int
    ingested: Ingested | None  # None: a second query pass over data ingested for the row before
    latencies: Latencies


@dataclass
class Bench:
    runtime: Runtime
    scope: OrgScope
    kb_id: str
    corpus: Corpus
    next_document: int = 0
    total_chunks: int = 0

    async def ingest_until(self, size: int) -> Ingested:
        step = Ingested()
        while self.total_chunks < size:
            data = self.corpus.document(self.next_document)  # not timed: corpus generation
            started = time.perf_counter()
            extracted = extract(data, "markdown")
            pieces = chunk(extracted)
            prepared = time.perf_counter()
            async with unit_of_work(self.runtime.sessionmaker) as db:
                scope = await platform.system_scope(db, self.scope.org_id, ACTOR)
                now = self.runtime.clock.now()
                document = Document(
                    id=new_id("doc"),
                    org_id=scope.org_id,
                    knowledge_base_id=self.kb_id,
                    title=extracted.title or f"Document {self.next_document}",
                    source="file",
                    filename=f"guide-{self.next_document}.md",
                    kind="markdown",
                    size_bytes=len(data),
                    status="ready",
                    chunk_count=len(pieces),
                    created_at=now,
                    updated_at=now,
                    ingested_at=now,
                )
                db.add(document)
                await db.flush()  # the chunks' foreign key needs the document row first, as in the reconciler
                db.add_all(
                    Chunk(
                        id=new_id("chk"),
                        org_id=scope.org_id,
                        knowledge_base_id=self.kb_id,
                        document_id=document.id,
                        ordinal=p.ordinal,
                        heading=p.heading,
                        text=p.text,
                    )
                    for p in pieces
                )
            finished = time.perf_counter()
            step.prepare_seconds += prepared - started
            step.store_seconds += finished - prepared
            step.chunks += len(pieces)
            step.documents += 1
            self.total_chunks += len(pieces)
            self.next_document += 1
        return step

    async def measure(
        self, queries: list[tuple[str, bool]], warmup: list[tuple[str, bool]], budget_seconds: float
    ) -> Latencies:
        """Warm-up, then the queries in order, until all are done or the time budget is spent (the query list is
        shuffled already, so a prefix of it is a fair sample); at least `MIN_QUERIES` are always measured."""
        measured = Latencies(planned=len(queries))
        for query, _ in warmup:
            await self._search(query)
            await self._trivial()
        deadline = time.perf_counter() + budget_seconds
        for query, common in queries:
            if len(measured.search_ms) >= MIN_QUERIES and time.perf_counter() > deadline:
                break
            elapsed, found = await self._search(query)
            measured.search_ms.append(elapsed)
            (measured.common_ms if common else measured.rare_ms).append(elapsed)
            measured.empty += found == 0
            measured.trivial_ms.append((await self._trivial())[0])
        return measured

    async def measure_hybrid(self, queries: list[tuple[str, bool]], into: Latencies, budget_seconds: float) -> None:
        await self.store_random_vectors()
        for query, _ in queries[:5]:  # warm-up: the model loads on first use
            await self._search(query, dense=True)
        deadline = time.perf_counter() + budget_seconds
        for query, _ in queries:
            if len(into.hybrid_ms) >= MIN_QUERIES and time.perf_counter() > deadline:
                break
            into.hybrid_ms.append((await self._search(query, dense=True))[0])

    async def store_random_vectors(self) -> None:
        """A random unit vector for every chunk that has none (untimed; see the method note, step 4)."""
        rng = np.random.default_rng(self.corpus.seed)
        while True:
            async with unit_of_work(self.runtime.sessionmaker) as db:
                scope = await platform.system_scope(db, self.scope.org_id, ACTOR)
                ids = list(
                    await db.scalars(
                        select(Chunk.id)
                        .outerjoin(ChunkEmbedding, ChunkEmbedding.chunk_id == Chunk.id)
                        .where(Chunk.org_id == scope.org_id, ChunkEmbedding.chunk_id.is_(None))
                        .limit(5_000)
                    )
                )
                if not ids:
                    return
                vectors = rng.standard_normal((len(ids), embeddings.DIMENSIONS)).astype("<f4")
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                now = self.runtime.clock.now()
                db.add_all(
                    ChunkEmbedding(
                        chunk_id=i,
                        org_id=scope.org_id,
                        knowledge_base_id=self.kb_id,
                        model=embeddings.MODEL_NAME,
                        vector=v.tobytes(),
                        created_at=now,
                    )
                    for i, v in zip(ids, vectors, strict=True)
                )

    async def _search(self, query: str, *, dense: bool = False) -> tuple[float, int]:
        async with unit_of_work(self.runtime.sessionmaker, write=False) as db:
            scope = await platform.system_scope(db, self.scope.org_id, ACTOR)
            started = time.perf_counter()
            passages = await knowledge_search.search(db, scope, [self.kb_id], query, limit=5, dense=dense)
            elapsed = time.perf_counter() - started
        return elapsed * 1000, len(passages)

    async def _trivial(self) -> tuple[float, int]:
        async with unit_of_work(self.runtime.sessionmaker, write=False) as db:
            scope = await platform.system_scope(db, self.scope.org_id, ACTOR)
            started = time.perf_counter()
            ids = list((await db.execute(TRIVIAL, {"org_id": scope.org_id})).scalars())
            elapsed = time.perf_counter() - started
        return elapsed * 1000, len(ids)


async def run_backend(backend: Backend, settings: Settings, options: Options, corpus: Corpus) -> list[Row]:
    runtime = create_runtime(settings)
    # PostgreSQL only: the same queries over the same data as the superuser, which bypasses row-level security,
    # to show what RLS costs (see the note printed with the results).
    superuser = create_runtime(settings_for(settings.data_dir, MASTER_KEY, database_url=settings.effective_owner_url))
    rows: list[Row] = []
    try:
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.create_organization(db, runtime, name="Retrieval Bench", actor=ACTOR)
            kb = await do_create_knowledge_base(db, runtime, scope, KnowledgeBaseIn(name="Big knowledge base"))
        bench = Bench(runtime, scope, kb.id, corpus)
        queries = corpus.queries(options.queries, seed=options.seed + 1)
        warmup = corpus.queries(options.warmup, seed=options.seed + 2)
        for size in options.sizes:
            print(f"  {backend}: ingesting up to {size:,} chunks...", flush=True)
            ingested = await bench.ingest_until(size)
            if backend == "postgres":
                await pg_admin(settings.effective_owner_url, ["VACUUM ANALYZE"])
            print(f"  {backend}: {bench.total_chunks:,} chunks, running {len(queries)} queries...", flush=True)
            latencies = await bench.measure(queries, warmup, options.query_budget)
            if options.hybrid:
                print(f"  {backend}: hybrid queries (random vectors stored for every chunk first)...", flush=True)
                await bench.measure_hybrid(queries, latencies, options.query_budget)
            rows.append(Row(backend, backend, size, bench.total_chunks, ingested, latencies))
            if backend == "postgres" and options.compare_superuser:
                print(f"  {backend}: the same queries as the superuser (no row-level security)...", flush=True)
                again = replace(bench, runtime=superuser)
                latencies = await again.measure(queries, warmup, options.query_budget)
                rows.append(Row("pg-super", backend, size, bench.total_chunks, None, latencies))
    finally:
        await runtime.close()
        await superuser.close()
    return rows


# --- options, output -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    sizes: list[int]
    databases: list[Backend]
    queries: int
    warmup: int
    seed: int
    postgres_url: str
    query_budget: float
    compare_superuser: bool
    hybrid: bool
    embed_sample: int


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="10000,100000", help="knowledge-base sizes in chunks, comma-separated (default 10000,100000)"
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "both", "auto"],
        default="auto",
        help="auto (default): both if PostgreSQL is reachable at --postgres-url, else sqlite",
    )
    parser.add_argument("--queries", type=int, default=200, help="measured queries per size (default 200)")
    parser.add_argument("--warmup", type=int, default=30, help="discarded warm-up queries per size (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="corpus and query seed (default 7)")
    parser.add_argument(
        "--query-budget",
        type=float,
        default=60.0,
        help=f"seconds of measured queries per size and database; slower runs stop early, after at least "
        f"{MIN_QUERIES} queries (default 60)",
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG_URL,
        help=f"superuser URL used to create, migrate and drop the bench database (default {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--no-superuser-pass",
        dest="compare_superuser",
        action="store_false",
        help="PostgreSQL: skip the second query pass as the superuser (row-level security bypassed)",
    )
    parser.add_argument(
        "--no-hybrid", dest="hybrid", action="store_false", help="skip hybrid (keyword + vector) queries"
    )
    parser.add_argument(
        "--embed-sample",
        type=int,
        default=64,
        help="chunks embedded with the real model to measure embedding throughput (default 64; 0 skips)",
    )
    args = parser.parse_args(argv)
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error("--sizes: comma-separated integers, e.g. 10000,100000")
    if not sizes or sizes[0] < 1 or sizes[-1] > 1_000_000:
        parser.error("--sizes: between 1 and 1,000,000 chunks")
    if args.queries < 10 or args.warmup < 0:
        parser.error("--queries must be >= 10 and --warmup >= 0")
    databases: list[Backend]
    if args.database == "auto":
        databases = ["sqlite", "postgres"] if asyncio.run(pg_reachable(args.postgres_url)) else ["sqlite"]
    elif args.database == "both":
        databases = ["sqlite", "postgres"]
    else:
        databases = [args.database]
    return Options(
        sizes,
        databases,
        args.queries,
        args.warmup,
        args.seed,
        args.postgres_url,
        args.query_budget,
        args.compare_superuser,
        args.hybrid and embeddings.available(),
        args.embed_sample if embeddings.available() else 0,
    )


def print_rows(rows: list[Row]) -> None:
    print()
    print("Ingestion (the step that grew the knowledge base to this size)")
    header = f"{'backend':<10}{'chunks':>9}{'docs':>7}{'chunks/s':>10}{'extract+chunk/s':>17}{'insert+index/s':>16}"
    print(header)
    print("-" * len(header))
    for row in rows:
        i = row.ingested
        if i is None:
            continue
        print(
            f"{row.label:<10}{row.chunks:>9,}{i.documents:>7,}{i.rate:>10,.0f}"
            f"{i.chunks / i.prepare_seconds:>17,.0f}{i.chunks / i.store_seconds:>16,.0f}"
        )
    print()
    print("Keyword search, search(db, scope, [kb], query, limit=5), ms")
    header = (
        f"{'backend':<10}{'chunks':>9}{'queries':>9}{'p50':>9}{'p95':>9}{'p99':>9}{'trivial p50':>13}"
        f"{'p50 ratio':>11}{'hybrid p50':>12}{'p95':>9}"
    )
    print(header)
    print("-" * (len(header) + 16))
    for row in rows:
        s = row.latencies
        p50, trivial = percentile(s.search_ms, 0.5), percentile(s.trivial_ms, 0.5)
        counted = f"{len(s.search_ms)}" + ("*" if len(s.search_ms) < s.planned else "")
        print(
            f"{row.label:<10}{row.chunks:>9,}{counted:>9}{p50:>9.2f}{percentile(s.search_ms, 0.95):>9.2f}"
            f"{percentile(s.search_ms, 0.99):>9.2f}{trivial:>13.3f}{p50 / trivial:>10.0f}x"
            + (
                f"{percentile(s.hybrid_ms, 0.5):>12.2f}{percentile(s.hybrid_ms, 0.95):>9.2f}"
                if s.hybrid_ms
                else f"{'-':>12}{'-':>9}"
            )
        )
    if any(len(r.latencies.search_ms) < r.latencies.planned for r in rows):
        print("* fewer queries than planned: the --query-budget ran out (the first queries of the same list were run)")
    print()
    print("Keyword p50 / p95 ms by query kind ('common': has one of the 100 most frequent content words)")
    for row in rows:
        s = row.latencies
        kinds = [
            f"{name} ({len(values)}) "
            + (f"{percentile(values, 0.5):.2f} / {percentile(values, 0.95):.2f}" if values else "-")
            for name, values in (("common", s.common_ms), ("others", s.rare_ms))
        ]
        print(f"  {row.label:<10}{row.chunks:>9,}  " + "; ".join(kinds) + f"; queries with no result: {s.empty}")
    if any(r.label == "pg-super" for r in rows):
        print()
        print("pg-super: the same queries over the same data, connected as the superuser, which bypasses row-level")
        print("  security. Row-level security applies its policy before any operator that is not LEAKPROOF; migration")
        print("  0004 marks tsvector @@ tsquery (ts_match_vq) LEAKPROOF so the GIN index stays usable under RLS, and")
        print("  the two rows should be close. Queries with common words match a large share of the chunks and are")
        print("  slow either way: every match is ranked (ts_rank_cd).")
    print()
    print("hybrid: search(..., dense=True): the query embedded by all-MiniLM-L6-v2 (numpy), its cosine with the")
    print("  stored vectors (random ones here), fused with the keyword ranking by reciprocal rank ('-': not run)")


def embedding_throughput(corpus: Corpus, sample: int, rows: list[Row]) -> None:
    """Real all-MiniLM-L6-v2 over `sample` chunks of the corpus, in the reconciler's batches."""
    texts: list[str] = []
    index = 0
    while len(texts) < sample:
        texts += [
            f"{p.heading}\n{p.text}" if p.heading else p.text
            for p in chunk(extract(corpus.document(index), "markdown"))
        ]
        index += 1
    texts = texts[:sample]
    model = embeddings.model()
    model.encode(texts[:2])  # warm-up
    started = time.perf_counter()
    for start in range(0, len(texts), 64):
        model.encode(texts[start : start + 64])
    rate = len(texts) / (time.perf_counter() - started)
    print()
    print(f"Embedding throughput (all-MiniLM-L6-v2 in numpy, 1 BLAS thread): {rate:,.1f} chunks/s over {sample} chunks")
    for row in rows:
        if row.ingested is not None and row.ingested.rate:
            combined = 1 / (1 / row.ingested.rate + 1 / rate)
            print(
                f"  {row.label:<10}{row.chunks:>9,}  ingestion {row.ingested.rate:,.0f} chunks/s keyword only, "
                f"{combined:,.1f} chunks/s with embeddings"
            )


def verdict(rows: list[Row]) -> None:
    target = [r for r in rows if r.label == "sqlite" and r.size == TARGET_CHUNKS]
    if not target:
        print(f"target: SQLite keyword p95 <= {TARGET_P95_MS:.0f} ms at {TARGET_CHUNKS:,} chunks: NOT MEASURED")
        return
    p95 = percentile(target[0].latencies.search_ms, 0.95)
    outcome = "PASS" if p95 <= TARGET_P95_MS else "BELOW TARGET"
    print(f"target: SQLite keyword p95 <= {TARGET_P95_MS:.0f} ms at {TARGET_CHUNKS:,} chunks: {outcome} ({p95:.2f} ms)")


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    started = time.perf_counter()
    corpus = Corpus.build(options.seed)
    print("Parley retrieval benchmark")
    print(f"  sizes       {', '.join(f'{s:,}' for s in options.sizes)} chunks, one knowledge base grown in steps")
    print(f"  databases   {', '.join(options.databases)}")
    print(f"  machine     {os.cpu_count()} CPUs, load average (1 min) {load_average()} at the start")
    print(
        f"  queries     {options.queries} measured (budget {options.query_budget:.0f} s) + {options.warmup} warm-up "
        f"per size, 2-6 content words, limit=5, seed {options.seed}"
    )
    if "postgres" in options.databases:
        print(f"  postgres    database {PG_DATABASE}, connected as {PG_APP_ROLE}: not a superuser, so row-level")
        print("              security applies as in production; VACUUM ANALYZE after each ingestion step")
    print("  chunks/s    extract + chunk + insert + index + commit, one transaction per document (generation untimed)")
    print("  trivial     SELECT id FROM chunks WHERE org_id = ? LIMIT 5, timed the same way; ratio = search / trivial")
    print(flush=True)
    rows: list[Row] = []
    for backend in options.databases:
        with database(backend, options.postgres_url) as settings:
            rows += asyncio.run(run_backend(backend, settings, options, corpus))
    print_rows(rows)
    if options.embed_sample:
        embedding_throughput(corpus, options.embed_sample, rows)
    verdict(rows)
    print(f"total time {time.perf_counter() - started:.0f} s; load average (1 min) {load_average()} at the end")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # temporary files and databases are already removed by then
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
