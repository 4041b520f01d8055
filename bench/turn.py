"""Conversation-turn benchmark: the engine's own overhead per turn, with the provider's time taken out.

Method
------
1. Setup, through Parley's own services: a fresh database (SQLite in a temporary directory; PostgreSQL in a
   database `parley_bench_turn` that is dropped and created, migrated as the owner, and used through a
   non-superuser role `parley_bench_turn_app` so that row-level security applies as in production), one
   organisation, one knowledge base filled by uploading generated Markdown FAQ documents (`do_add_file`) and
   running the ingestion reconciler (`ingest_pending`), which gives a few hundred chunks, and one agent on the
   `offline` provider linked to it.
2. The provider. The issue asks for an instant fake provider. `engine.provider_for` takes no provider from the
   caller: it builds the offline provider for `offline` agents, and remote ones from a credential through the
   runtime's provider cache. Plugging a fake in would mean patching Parley, which this bench does not do. So:
   - `InstantProvider` below implements the `Provider` protocol (one TextDelta, Usage, Finished, at once); its
     own `stream()` is timed to show what an instant provider costs (microseconds);
   - every turn runs the real engine with the real offline provider (local, no network), and the offline
     provider's `stream()` is timed on its own, for every question, with the same request the engine builds
     (the same passages, found by `search` untimed beforehand, the same language, tools and fallback): the
     median of several runs per question is that question's provider time;
   - engine overhead of a turn = the turn's time - its question's provider time (paired per turn; the
     percentiles are taken over these differences).
3. What is timed, each after a warm-up, over the same cycling list of questions (questions from the documents,
   questions the documents do not answer, small talk, and requests for a person, as customers send them):
   - baseline: an empty `unit_of_work` (BEGIN, COMMIT), the floor of any transaction;
   - engine.run_turn: `run_turn(db, ...)` alone, inside an already open read transaction (language, retrieval,
     prompt, provider, settling);
   - unstored turn: `engine.stream_unstored` (what the staff's test chat and the OpenAI-compatible endpoint
     without `user` run): the turn in a read transaction, then the usage write in its own;
   - stored turn: what the OpenAI-compatible endpoint runs with `user`: read the agent (the request's read
     transaction), `contact_for` + `conversation_for` in one transaction, then `service.receive` (record the
     inbound message, run the turn, store the sealed reply and usage: three transactions). Contacts rotate
     over `--contacts` people, so conversations have a realistic few turns of history.
   - history growth: one more conversation receives `--long-turns` stored turns; the median turn time of its
     first and last quarter shows what a long history costs (every stored turn reads and decrypts the
     conversation's messages, up to 500); then reading + decrypting that history with the same public pieces
     (`repository.messages`, `open_body`) is timed for all its messages and for the 12 the prompt can use.
4. Report p50/p99 ms of each, the engine overhead (turn - provider) p50/p99, the ratio to the baseline, the
   SQL statements and commits per turn (counted with SQLAlchemy engine events, which only observe: statements
   that go through a DBAPI cursor, so SQLite's BEGIN counts and PostgreSQL's BEGIN/COMMIT, sent by asyncpg
   itself, do not; the `set_config` that sets the tenant for row-level security does), and PASS / BELOW TARGET
   for the issue's target, engine overhead p50 <= 10 ms per turn, for the bare engine turn and the stored turn.

Run: `.venv/bin/python bench/turn.py [--turns 500] [--warmup 50] [--database sqlite|postgres|both]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from benchdb import fresh_database, pg_reachable
from sqlalchemy import event, text

from parley.agents import service as agents_service
from parley.agents.schemas import AgentIn
from parley.conversations import engine, language, prompt, service
from parley.conversations import repository as conversations_repo
from parley.conversations.engine import Reply
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.knowledge import search
from parley.knowledge import service as knowledge_service
from parley.knowledge.schemas import KnowledgeBaseIn
from parley.knowledge.tasks import ingest_pending
from parley.llm.base import ChatMessage, ChatRequest, Event, Finished, Provider, TextDelta, Usage
from parley.llm.offline import OfflineProvider
from parley.models import Agent
from parley.privacy.keys import keyring
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

Backend = Literal["sqlite", "postgres"]

TARGET_P50_MS = 10.0
PG_DATABASE = "parley_bench_turn"
PG_APP_ROLE = f"{PG_DATABASE}_app"  # created by benchdb.fresh_database
DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
MASTER_KEY = base64.urlsafe_b64encode(b"turn-bench-master-key-32-bytes!!").decode()
ACTOR = Actor("system", None, RequestInfo(request_id="bench-turn"))
PROVIDER_REPEATS = 7


# --- the instant provider ------------------------------------------------------------------------------------


class InstantProvider:
    """A `Provider` that answers at once: one text delta, usage, finished."""

    name = "instant"

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        yield TextDelta("Thanks for your question; here is the answer.")
        yield Usage(input_tokens=0, output_tokens=0)
        yield Finished("stop")

    async def check(self) -> None:
        return None


def _is_provider(provider: Provider) -> Provider:  # static check that both satisfy the protocol
    return provider


_is_provider(InstantProvider())
_is_provider(OfflineProvider())


# --- knowledge base and questions ------------------------------------------------------------------------------

ADJECTIVES = (
    "compact cordless heavy-duty folding portable stainless outdoor wireless digital electric "
    "adjustable waterproof premium lightweight industrial classic smart rechargeable modular quiet"
).split()
PRODUCTS = (
    "drill ladder kettle heater lamp toolbox saw sander vacuum fan mower trimmer grill speaker thermostat"
).split()
POLICIES = [
    ("Returns", "Items can be returned within {days} days with the receipt. Refunds go back to the original card."),
    ("Delivery", "Orders ship within {days} working days. Delivery is free for orders over {price} euros."),
    ("Warranty", "Every tool has a {years}-year warranty. Repairs under warranty are free of charge."),
    ("Opening hours", "Our stores open at {hour} am from Monday to Saturday. On Sundays we are closed."),
    ("Payment", "We accept cards, bank transfers and instalments over {months} months for orders above {price}."),
    ("Gift cards", "Gift cards are valid for {years} years and can be used online or in any store."),
]


def faq_documents(seed: int) -> list[tuple[str, bytes]]:
    """(title, Markdown) documents: one section per product (one chunk each) and store policies."""
    rng = random.Random(seed)
    names = [f"{a} {p}" for p in PRODUCTS for a in ADJECTIVES]
    documents: list[tuple[str, bytes]] = []
    per_document = 50
    for start in range(0, len(names), per_document):
        title = f"Product guide {start // per_document + 1}"
        lines = [f"# {title}", ""]
        for name in names[start : start + per_document]:
            lines += [
                f"## The {name}",
                "",
                f"The {name} costs {rng.randint(15, 900)} euros and weighs {rng.randint(1, 30)} kilograms. "
                f"It comes with a {rng.randint(1, 5)}-year warranty and spare parts are kept for "
                f"{rng.randint(3, 10)} years. The {name} ships within {rng.randint(1, 7)} working days.",
                "",
                f"To return the {name}, bring it back unused within {rng.choice([14, 30, 60])} days. The battery "
                f"of the {name} charges in {rng.randint(1, 6)} hours where it has one.",
                "",
            ]
        documents.append((title, "\n".join(lines).encode()))
    policy_lines = ["# Store policies", ""]
    for heading, template in POLICIES:
        body = template.format(
            days=rng.choice([14, 30]), price=rng.choice([50, 100]), years=rng.randint(1, 3), hour=8, months=3
        )
        policy_lines += [f"## {heading}", "", body, ""]
    documents.append(("Store policies", "\n".join(policy_lines).encode()))
    return documents


def questions(count: int, seed: int) -> list[str]:
    """What customers send: mostly questions the documents answer, some they do not, small talk, handoffs."""
    rng = random.Random(seed)
    templates = [
        "How much does the {name} cost?",
        "What is the warranty on the {name}?",
        "How long does the battery of the {name} take to charge?",
        "Can I return the {name} if I don't like it?",
        "When will the {name} ship?",
        "how heavy is the {name}",
    ]
    others = [
        "When do your stores open on Saturday?",
        "Do you offer instalments?",
        "How long are gift cards valid?",
        "Is delivery free?",
        "Do you sell concert tickets?",  # not in the documents: fallback
        "Can you repair my car engine?",
        "Hello",
        "Thanks!",
        "Can I talk to a human please?",
    ]
    result: list[str] = []
    for _ in range(count):
        if rng.random() < 0.75:
            name = f"{rng.choice(ADJECTIVES)} {rng.choice(PRODUCTS)}"
            result.append(rng.choice(templates).format(name=name))
        else:
            result.append(rng.choice(others))
    return result


# --- databases -------------------------------------------------------------------------------------------------


@contextmanager
def database(backend: Backend, admin_url: str) -> Iterator[Settings]:
    with fresh_database(backend, admin_url, PG_DATABASE, MASTER_KEY) as settings:
        yield settings


# --- measurement -----------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile of `values` (any order)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def load_average() -> str:
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


@dataclass
class Series:
    name: str
    ms: list[float] = field(default_factory=list)
    overhead_ms: list[float] = field(default_factory=list)  # minus the provider's time; empty if not a turn
    statements: float = 0.0  # SQL statements sent per turn (BEGIN included), counted by an engine event
    commits: float = 0.0  # transactions committed per turn


class StatementCounter:
    """Counts what the runtime's engine sends to the database (SQLAlchemy engine events: observation only)."""

    def __init__(self, runtime: Runtime) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(runtime.engine.sync_engine, "commit", self._commit)

    def _statement(self, *_: object) -> None:
        self.statements += 1

    def _commit(self, *_: object) -> None:
        self.commits += 1


@dataclass
class Fixture:
    runtime: Runtime
    scope: OrgScope
    agent_id: str
    kb_id: str
    chunks: int


async def setup(runtime: Runtime, seed: int) -> Fixture:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.create_organization(db, runtime, name="Turn Bench Hardware", actor=ACTOR)
        kb = await knowledge_service.do_create_knowledge_base(db, runtime, scope, KnowledgeBaseIn(name="FAQ"))
        for title, data in faq_documents(seed):
            await knowledge_service.do_add_file(
                db, runtime, scope, kb.id, filename=f"{title}.md", declared_type="text/markdown", data=data, title=title
            )
    while sum((await ingest_pending(runtime)).values()):
        pass
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        agent = await agents_service.do_create_agent(
            db,
            runtime,
            scope,
            AgentIn(name="Shop assistant", knowledge_base_ids=[kb.id], fallback_reply="Let me ask the team."),
        )
        chunks = await db.scalar(text("SELECT count(*) FROM chunks WHERE org_id = :o"), {"o": scope.org_id})
    return Fixture(runtime, scope, agent.id, kb.id, int(chunks or 0))


async def load_agent(fixture: Fixture) -> Agent:
    async with scoped_unit_of_work(fixture.runtime.sessionmaker, fixture.scope, write=False) as db:
        return await agents_service.access_agent(db, fixture.scope, fixture.agent_id)


async def provider_request(fixture: Fixture, agent: Agent, message: str) -> ChatRequest:
    """The request the engine builds for `message` with no history (the offline provider reads only the last user
    message, the passages, the tools, the language and the fallback)."""
    async with scoped_unit_of_work(fixture.runtime.sessionmaker, fixture.scope, write=False) as db:
        passages = await search.search(db, fixture.scope, [fixture.kb_id], message, limit=engine.PASSAGES)
    detected = language.detect(message, fallback=(agent.languages or ["en"])[0])
    return ChatRequest(
        model=agent.model,
        messages=(
            ChatMessage("system", prompt.system_prompt(agent, passages, detected)),
            ChatMessage("user", message),
        ),
        tools=tuple(prompt.TOOLS[name] for name in agent.tools if name in prompt.TOOLS),
        passages=tuple(passages),
        language=detected,
        fallback=agent.fallback_reply,
    )


async def stream_ms(provider: Provider, request: ChatRequest) -> float:
    started = time.perf_counter()
    async for _ in provider.stream(request):
        pass
    return (time.perf_counter() - started) * 1000


async def provider_times(fixture: Fixture, agent: Agent, messages: list[str]) -> tuple[dict[str, float], list[float]]:
    """Median offline-provider time per distinct message, and instant-provider times."""
    offline, instant = OfflineProvider(), InstantProvider()
    per_message: dict[str, float] = {}
    instant_ms: list[float] = []
    for message in dict.fromkeys(messages):
        request = await provider_request(fixture, agent, message)
        await stream_ms(offline, request)  # warm
        per_message[message] = statistics.median([await stream_ms(offline, request) for _ in range(PROVIDER_REPEATS)])
        instant_ms.append(await stream_ms(instant, request))
    return per_message, instant_ms


async def timed(
    series: Series,
    messages: list[str],
    warmup: int,
    turn: Callable[[int, str], Awaitable[float | None]],
    provider_ms: dict[str, float] | None,
    counter: StatementCounter,
) -> Series:
    """Runs `turn(i, message)` for the warm-up then the measured messages; `turn` returns its own timing in ms
    (or None to use the wall time of the whole call)."""
    for index in range(warmup + len(messages)):
        if index == warmup:
            statements, commits = counter.statements, counter.commits
        message = messages[index % len(messages)]
        started = time.perf_counter()
        inner = await turn(index, message)
        elapsed = inner if inner is not None else (time.perf_counter() - started) * 1000
        if index >= warmup:
            series.ms.append(elapsed)
            if provider_ms is not None:
                series.overhead_ms.append(elapsed - provider_ms[message])
    series.statements = (counter.statements - statements) / len(messages)
    series.commits = (counter.commits - commits) / len(messages)
    return series


@dataclass
class Result:
    backend: Backend
    chunks: int
    baseline: Series
    instant_ms: list[float]
    offline_ms: list[float]
    turns: list[Series]
    long_first_ms: float  # median of the first quarter of the long conversation's turns
    long_last_ms: float  # median of its last quarter
    long_turns: int
    history_all_ms: float  # read + decrypt every message of the long conversation, as each stored turn does
    history_window_ms: float  # the same for the HISTORY_MESSAGES messages the prompt can use
    history_messages: int


async def history_read_ms(fixture: Fixture, conversation_id: str, limit: int, repeats: int = 30) -> tuple[float, int]:
    """Median ms to read and decrypt a conversation's messages (at most `limit`), with the public pieces
    `receive` uses for its history (`repository.messages`, `open_body`), each in a read transaction."""
    runtime, scope = fixture.runtime, fixture.scope
    times: list[float] = []
    count = 0
    for _ in range(repeats + 3):
        async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
            started = time.perf_counter()
            ring = keyring(runtime, scope)
            bodies = [
                await service.open_body(ring, m)
                for m in await conversations_repo.messages(db, scope, conversation_id, limit=limit)
            ]
            times.append((time.perf_counter() - started) * 1000)
            count = len(bodies)
    return statistics.median(times[3:]), count


async def run_backend(backend: Backend, settings: Settings, options: Options) -> Result:
    runtime = create_runtime(settings)
    try:
        print(f"  {backend}: setting up (documents uploaded and ingested by the reconciler)...", flush=True)
        fixture = await setup(runtime, options.seed)
        scope = fixture.scope
        agent = await load_agent(fixture)
        messages = questions(options.turns, options.seed)
        provider_ms, instant_ms = await provider_times(fixture, agent, messages)
        print(f"  {backend}: {fixture.chunks} chunks; timing {options.turns} turns of each kind...", flush=True)

        async def empty_transaction(_: int, __: str) -> float | None:
            async with unit_of_work(runtime.sessionmaker):
                pass
            return None

        async def engine_turn(_: int, message: str) -> float | None:
            async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
                started = time.perf_counter()
                await engine.run_turn(db, runtime, scope, agent, message, [])
                return (time.perf_counter() - started) * 1000

        async def unstored_turn(_: int, message: str) -> float | None:
            async for _item in engine.stream_unstored(runtime, scope, agent, message, []):
                pass
            return None

        async def stored_turn(index: int, message: str, contact: str | None = None) -> float | None:
            person = contact or f"customer-{index % options.contacts}"
            current = await load_agent(fixture)  # the request's own read of the agent
            async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
                found = await service.contact_for(db, runtime, scope, "api", person)
                conversation = await service.conversation_for(db, runtime, scope, current, found, "api")
            replied = False
            async for item in service.receive(runtime, scope, current, conversation.id, text=message, external_id=None):
                replied = replied or isinstance(item, Reply)
            assert replied, "the stored turn produced no reply"
            return None

        counter = StatementCounter(runtime)
        warmup = options.warmup
        baseline = await timed(
            Series("baseline: empty unit_of_work"), messages, warmup, empty_transaction, None, counter
        )
        turns = [
            await timed(Series("engine.run_turn"), messages, warmup, engine_turn, provider_ms, counter),
            await timed(
                Series("unstored turn (stream_unstored)"), messages, warmup, unstored_turn, provider_ms, counter
            ),
            await timed(Series("stored turn (service.receive)"), messages, warmup, stored_turn, provider_ms, counter),
        ]
        print(f"  {backend}: one conversation of {options.long_turns} stored turns...", flush=True)

        async def long_turn(index: int, message: str) -> float | None:
            return await stored_turn(index, message, contact="long-conversation")

        long = await timed(Series("long"), messages[: options.long_turns], 0, long_turn, provider_ms, counter)
        edge = max(1, len(long.ms) // 4)
        async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
            person = await service.contact_for(db, runtime, scope, "api", "long-conversation")
            long_conversation = await service.conversation_for(db, runtime, scope, agent, person, "api")
        history_all_ms, history_messages = await history_read_ms(fixture, long_conversation.id, 500)
        history_window_ms, _ = await history_read_ms(fixture, long_conversation.id, prompt.HISTORY_MESSAGES)
        return Result(
            backend=backend,
            chunks=fixture.chunks,
            baseline=baseline,
            instant_ms=instant_ms,
            offline_ms=list(provider_ms.values()),
            turns=turns,
            long_first_ms=statistics.median(long.ms[:edge]),
            long_last_ms=statistics.median(long.ms[-edge:]),
            long_turns=len(long.ms),
            history_all_ms=history_all_ms,
            history_window_ms=history_window_ms,
            history_messages=history_messages,
        )
    finally:
        await runtime.close()


# --- options, output -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    turns: int
    warmup: int
    contacts: int
    long_turns: int
    databases: list[Backend]
    seed: int
    postgres_url: str


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=500, help="measured turns of each kind (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="discarded warm-up turns of each kind (default 50)")
    parser.add_argument(
        "--contacts", type=int, default=50, help="people the stored turns rotate over (default 50: ~11 turns each)"
    )
    parser.add_argument(
        "--long-turns", type=int, default=200, help="stored turns in the one long conversation (default 200)"
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "both", "auto"],
        default="auto",
        help="auto (default): both if PostgreSQL is reachable at --postgres-url, else sqlite",
    )
    parser.add_argument("--seed", type=int, default=11, help="documents and questions seed (default 11)")
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG_URL,
        help=f"superuser URL used to create, migrate and drop the bench database (default {DEFAULT_PG_URL})",
    )
    args = parser.parse_args(argv)
    if not 10 <= args.turns <= 100_000 or args.warmup < 0 or args.contacts < 1 or args.long_turns < 2:
        parser.error("--turns: 10 to 100,000; --warmup >= 0; --contacts >= 1; --long-turns >= 2")
    if args.long_turns > args.turns:
        parser.error("--long-turns cannot exceed --turns")
    databases: list[Backend]
    if args.database == "auto":
        databases = ["sqlite", "postgres"] if asyncio.run(pg_reachable(args.postgres_url)) else ["sqlite"]
    elif args.database == "both":
        databases = ["sqlite", "postgres"]
    else:
        databases = [args.database]
    return Options(args.turns, args.warmup, args.contacts, args.long_turns, databases, args.seed, args.postgres_url)


def print_result(result: Result) -> None:
    base = percentile(result.baseline.ms, 0.5)
    print()
    print(f"{result.backend}: knowledge base of {result.chunks} chunks; times in ms; overhead = time - provider time")
    header = (
        f"{'':<33}{'p50':>8}{'p99':>8}{'overhead p50':>14}{'overhead p99':>14}{'p50/baseline':>14}"
        f"{'SQL/turn':>10}{'commits':>9}"
    )
    print(header)
    print("-" * len(header))
    b = result.baseline
    print(f"{b.name:<33}{base:>8.3f}{percentile(b.ms, 0.99):>8.3f}{'':>42}{b.statements:>10.1f}{b.commits:>9.1f}")
    instant = result.instant_ms
    print(f"{'instant provider stream()':<33}{percentile(instant, 0.5):>8.3f}{percentile(instant, 0.99):>8.3f}")
    print(
        f"{'offline provider stream()':<33}{percentile(result.offline_ms, 0.5):>8.3f}"
        f"{percentile(result.offline_ms, 0.99):>8.3f}  (median of {PROVIDER_REPEATS} runs per distinct question)"
    )
    for series in result.turns:
        p50 = percentile(series.ms, 0.5)
        print(
            f"{series.name:<33}{p50:>8.2f}{percentile(series.ms, 0.99):>8.2f}"
            f"{percentile(series.overhead_ms, 0.5):>14.2f}{percentile(series.overhead_ms, 0.99):>14.2f}"
            f"{p50 / base:>13.0f}x{series.statements:>10.1f}{series.commits:>9.1f}"
        )
    growth = result.long_last_ms / result.long_first_ms if result.long_first_ms else float("nan")
    quarter = max(1, result.long_turns // 4)
    print(f"history: one conversation of {result.long_turns} stored turns, median turn time of")
    print(
        f"  its first {quarter} turns (history 0-{2 * quarter - 2} messages) {result.long_first_ms:.2f} ms; its last "
        f"{quarter} (history {2 * (result.long_turns - quarter)}-{2 * result.long_turns - 2}) "
        f"{result.long_last_ms:.2f} ms ({growth:.1f}x)"
    )
    print("  reading + decrypting its history (repository.messages + open_body, which receive does every turn):")
    print(
        f"  all {result.history_messages} messages {result.history_all_ms:.2f} ms; {prompt.HISTORY_MESSAGES} messages "
        f"(all the prompt can use) {result.history_window_ms:.2f} ms"
    )


def verdict(results: list[Result]) -> None:
    print()
    for result in results:
        stored = next(s for s in result.turns if s.name.startswith("stored"))
        engine_only = next(s for s in result.turns if s.name.startswith("engine"))
        for series in (engine_only, stored):
            p50 = percentile(series.overhead_ms, 0.5)
            outcome = "PASS" if p50 <= TARGET_P50_MS else "BELOW TARGET"
            print(
                f"target: engine overhead p50 <= {TARGET_P50_MS:.0f} ms per turn, {result.backend}, "
                f"{series.name}: {outcome} ({p50:.2f} ms)"
            )


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    started = time.perf_counter()
    print("Parley turn benchmark")
    print(f"  databases   {', '.join(options.databases)}")
    print(f"  machine     {os.cpu_count()} CPUs, load average (1 min) {load_average()} at the start")
    print(
        f"  turns       {options.turns} measured + {options.warmup} warm-up of each kind; stored turns over "
        f"{options.contacts} contacts; seed {options.seed}"
    )
    print("  provider    the agent's real offline provider (engine.provider_for takes no injected provider);")
    print("              overhead = turn time - that question's offline stream() time, measured apart")
    if "postgres" in options.databases:
        print(f"  postgres    database {PG_DATABASE}, connected as {PG_APP_ROLE}: not a superuser, so row-level")
        print("              security applies as in production")
    print(flush=True)
    results: list[Result] = []
    for backend in options.databases:
        with database(backend, options.postgres_url) as settings:
            results.append(asyncio.run(run_backend(backend, settings, options)))
    for result in results:
        print_result(result)
    verdict(results)
    print()
    print("SQL/turn: statements sent through a DBAPI cursor per turn (SQLite's BEGIN counts; PostgreSQL's BEGIN and")
    print("COMMIT are sent by asyncpg itself and do not); commits: transactions committed per turn.")
    print(f"total time {time.perf_counter() - started:.0f} s; load average (1 min) {load_average()} at the end")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # temporary files and databases are already removed by then
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
