"""Privacy benchmark: retention sweep throughput, encryption cost per message, audit appends under concurrency.

Method
------
For each backend (SQLite in a temporary directory; PostgreSQL in a fresh database `parley_bench_privacy`, used
through a non-superuser role so that row-level security applies as in production), through Parley's own code:

1. Retention sweep. One organisation; `--conversations` conversations of `--per-conversation` messages each
   (user / assistant pairs, every reply pointing at the message it answers, bodies sealed for real with the
   person's key, a few hundred bytes each), all with a last message older than the retention period, inserted
   in bulk. Timed: `privacy.retention.sweep(runtime)` — batches of 1,000 conversations, each its own transaction,
   the person erased at the end (key destroyed) and, on SQLite, the log checkpointed so deleted rows leave the
   disk. Baseline, same run, same data seeded again: one bare `DELETE` of those messages and conversations in a
   single transaction (the database's own floor). Prints messages/s for both and the ratio. Target: >= 50,000
   messages deleted per second.
2. Encryption per message. `--messages` message bodies of realistic sizes: sealing (`Keyring.subject` with the
   key cached as in a running process, then `Cipher.encrypt_text`) and opening (`Keyring.open_text`, which reads
   the key id from the header). Baseline: raw AES-256-GCM encrypt/decrypt of the same bytes with `cryptography`.
   Prints µs per write and per read and the overhead above raw AES-GCM. Target: <= 50 µs per write and read.
3. Audit appends. 8 concurrent writers for `--seconds`, each appending audit rows (`privacy.audit.record`, one
   per transaction, as actions do), against 8 writers inserting a plain row per transaction into a scratch table
   (baseline). Prints rows/s for both.

Run: `.venv/bin/python bench/privacy.py [--database sqlite|postgres|both] [--conversations 2000] [--seconds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from benchdb import fresh_database, pg_reachable
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, insert, select, text

from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import Contact, Conversation, Message, Organization
from parley.privacy import audit, retention
from parley.privacy.keys import keyring
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope

Backend = Literal["sqlite", "postgres"]
PG_DATABASE = "parley_bench_privacy"
MASTER_KEY = base64.urlsafe_b64encode(b"privacy-bench-master-key-32byte!").decode()
SWEEP_TARGET = 50_000.0
CRYPTO_TARGET_US = 50.0
WRITERS = 8
BODIES = [
    "Hello, do you have a table for four tonight around eight?",
    "Yes, we have a table for four at 8 pm. May I have a name for the booking?",
    "My name is Alex, and one of us is allergic to peanuts; can the chef adapt the menu?"
    " We would also like to know whether there is parking nearby and if dogs are welcome.",
    "Of course. All dishes list their allergens, and the chef can prepare peanut-free versions on request."
    " There is public parking two streets away; well-behaved dogs are welcome on the terrace. [1]",
]


@dataclass(frozen=True)
class Options:
    databases: list[Backend]
    conversations: int
    per_conversation: int
    messages: int
    seconds: float
    admin_url: str


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--conversations", type=int, default=2_000, help="expired conversations (default 2000)")
    parser.add_argument("--per-conversation", type=int, default=26, help="messages per conversation (default 26)")
    parser.add_argument("--messages", type=int, default=20_000, help="messages sealed and opened (default 20000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="audit append window (default 3)")
    parser.add_argument("--postgres-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    if min(args.conversations, args.per_conversation, args.messages) < 2 or args.seconds <= 0:
        parser.error("counts must be >= 2 and --seconds > 0")
    databases: list[Backend] = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    return Options(
        databases, args.conversations, args.per_conversation, args.messages, args.seconds, args.postgres_admin_url
    )


# --- 1. retention sweep ------------------------------------------------------------------------------------------


async def seed(runtime: Runtime, scope: OrgScope, options: Options) -> int:
    """Expired conversations with sealed messages, inserted in bulk. Returns the number of messages."""
    now = runtime.clock.now()
    old = now - timedelta(days=400)
    ring = keyring(runtime, scope)
    people = [new_id("con") for _ in range(20)]
    ciphers = {p: await ring.subject(p) for p in people}
    total = 0
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        await db.execute(insert(Contact), [{"id": p, "org_id": scope.org_id, "created_at": old} for p in people])
        for start in range(0, options.conversations, 200):
            conversations, messages = [], []
            for n in range(start, min(start + 200, options.conversations)):
                person = people[n % len(people)]
                cid = new_id("cnv")
                conversations.append(
                    {
                        "id": cid,
                        "org_id": scope.org_id,
                        "contact_id": person,
                        "channel": "whatsapp",
                        "created_at": old,
                        "last_message_at": old,
                    }
                )
                previous = None
                for i in range(options.per_conversation):
                    mid = new_id("msg")
                    body = BODIES[i % len(BODIES)]
                    messages.append(
                        {
                            "id": mid,
                            "org_id": scope.org_id,
                            "conversation_id": cid,
                            "role": "user" if i % 2 == 0 else "assistant",
                            "body_sealed": ciphers[person].encrypt_text(body, record=f"message:{mid}"),
                            "reply_to_id": previous if i % 2 else None,
                            "citations": [],
                            "created_at": old,
                        }
                    )
                    previous = mid
            await db.execute(insert(Conversation), conversations)
            await db.execute(insert(Message), messages)
            total += len(messages)
    return total


async def bare_delete(runtime: Runtime, scope: OrgScope) -> None:
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        await db.execute(delete(Message).where(Message.org_id == scope.org_id))
        await db.execute(delete(Conversation).where(Conversation.org_id == scope.org_id))


async def measure_sweep(runtime: Runtime, scope: OrgScope, options: Options) -> tuple[float, float, int]:
    messages = await seed(runtime, scope, options)
    started = time.perf_counter()
    report = await retention.sweep(runtime)
    sweep_seconds = time.perf_counter() - started
    if report.totals.messages != messages:
        raise SystemExit(f"the sweep deleted {report.totals.messages} messages, expected {messages}")
    await seed(runtime, scope, options)
    started = time.perf_counter()
    await bare_delete(runtime, scope)
    baseline_seconds = time.perf_counter() - started
    return messages / sweep_seconds, messages / baseline_seconds, messages


# --- 2. encryption per message -----------------------------------------------------------------------------------


async def measure_crypto(runtime: Runtime, scope: OrgScope, count: int) -> dict[str, float]:
    ring = keyring(runtime, scope)
    person = new_id("con")
    await ring.subject(person)  # created and cached, as in a running process
    bodies = [BODIES[i % len(BODIES)] for i in range(count)]
    records = [f"message:{new_id('msg')}" for _ in range(count)]

    started = time.perf_counter()
    sealed = []
    for body, record in zip(bodies, records, strict=True):
        cipher = await ring.subject(person)
        sealed.append(cipher.encrypt_text(body, record=record))
    write_us = (time.perf_counter() - started) / count * 1e6

    started = time.perf_counter()
    for blob, record in zip(sealed, records, strict=True):
        await ring.open_text(blob, record=record)
    read_us = (time.perf_counter() - started) / count * 1e6

    key = AESGCM.generate_key(bit_length=256)
    aes = AESGCM(key)
    started = time.perf_counter()
    raw = []
    for body, record in zip(bodies, records, strict=True):
        nonce = os.urandom(12)
        raw.append((nonce, aes.encrypt(nonce, body.encode(), record.encode())))
    raw_write_us = (time.perf_counter() - started) / count * 1e6
    started = time.perf_counter()
    for (nonce, blob), record in zip(raw, records, strict=True):
        aes.decrypt(nonce, blob, record.encode())
    raw_read_us = (time.perf_counter() - started) / count * 1e6
    return {"write": write_us, "read": read_us, "raw_write": raw_write_us, "raw_read": raw_read_us}


# --- 3. audit appends --------------------------------------------------------------------------------------------


async def measure_audit(runtime: Runtime, scope: OrgScope, seconds: float) -> tuple[float, float]:
    async def audit_writer(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            async with unit_of_work(runtime.sessionmaker) as db:
                await set_pg_setting(db, "app.org_id", scope.org_id)
                await audit.record(
                    db, runtime.clock, actor=Actor.system(), action="bench.appended", org_id=scope.org_id
                )
            done += 1
        return done

    async def plain_writer(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            async with unit_of_work(runtime.sessionmaker) as db:
                await db.execute(text("INSERT INTO bench_plain (payload) VALUES (:p)"), {"p": "bench.appended"})
            done += 1
        return done

    await create_plain_table(runtime.settings)
    rates = []
    for writer in (audit_writer, plain_writer):
        deadline = time.perf_counter() + seconds
        counts = await asyncio.gather(*(writer(deadline) for _ in range(WRITERS)))
        rates.append(sum(counts) / seconds)
    return rates[0], rates[1]


async def create_plain_table(settings: Settings) -> None:
    """The baseline's table, created by the schema owner (the app role may not create tables on PostgreSQL)."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            postgres = conn.dialect.name == "postgresql"
            key = "id BIGSERIAL PRIMARY KEY" if postgres else "id INTEGER PRIMARY KEY"
            await conn.execute(text(f"CREATE TABLE IF NOT EXISTS bench_plain ({key}, payload TEXT)"))
            if postgres and settings.database_app_role:
                role = settings.database_app_role
                await conn.execute(text(f"GRANT SELECT, INSERT ON bench_plain TO {role}"))
                await conn.execute(text(f"GRANT USAGE ON SEQUENCE bench_plain_id_seq TO {role}"))
    finally:
        await engine.dispose()


# --- run ---------------------------------------------------------------------------------------------------------


async def run_backend(settings: Settings, options: Options) -> dict[str, object]:
    runtime = create_runtime(settings)
    try:
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.create_organization(db, runtime, name="Bench Bistro", actor=Actor.system())
            org = await db.get(Organization, scope.org_id)
            assert org is not None
            org.conversation_retention_days = 30
        sweep_rate, baseline_rate, messages = await measure_sweep(runtime, scope, options)
        crypto = await measure_crypto(runtime, scope, options.messages)
        audit_rate, plain_rate = await measure_audit(runtime, scope, options.seconds)
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", scope.org_id)
            left = await db.scalar(select(Message.id).where(Message.org_id == scope.org_id).limit(1))
        assert left is None
        return {
            "messages": messages,
            "sweep": sweep_rate,
            "sweep_baseline": baseline_rate,
            "crypto": crypto,
            "audit": audit_rate,
            "audit_baseline": plain_rate,
        }
    finally:
        await runtime.close()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "BELOW TARGET"


def report(backend: Backend, result: dict[str, object]) -> None:
    crypto = result["crypto"]
    assert isinstance(crypto, dict)
    sweep, baseline = float(result["sweep"]), float(result["sweep_baseline"])  # type: ignore[arg-type]
    print(f"\n{backend}")
    print(
        f"  retention sweep      {sweep:>10,.0f} messages/s   bare DELETE {baseline:>10,.0f}/s   "
        f"ratio {sweep / baseline:.2f}   ({result['messages']:,} messages)   target >= {SWEEP_TARGET:,.0f}/s: "
        f"{verdict(sweep >= SWEEP_TARGET)}"
    )
    for op in ("write", "read"):
        ours, raw = crypto[op], crypto[f"raw_{op}"]
        print(
            f"  seal per message {op:<5} {ours:>7.1f} µs   raw AES-GCM {raw:>5.1f} µs   overhead {ours - raw:>5.1f} µs"
            f"   target <= {CRYPTO_TARGET_US:.0f} µs: {verdict(ours <= CRYPTO_TARGET_US)}"
        )
    audit_rate, plain = float(result["audit"]), float(result["audit_baseline"])  # type: ignore[arg-type]
    print(
        f"  audit appends        {audit_rate:>10,.0f} rows/s with {WRITERS} writers   plain INSERT {plain:>8,.0f}/s"
        f"   ratio {audit_rate / plain:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    print("Parley privacy benchmark")
    print(
        f"  sweep: {options.conversations:,} expired conversations x {options.per_conversation} messages; "
        f"crypto: {options.messages:,} messages; audit: {WRITERS} writers x {options.seconds:g} s"
    )
    for backend in options.databases:
        if backend == "postgres" and not asyncio.run(pg_reachable(options.admin_url)):
            print(f"\npostgres: not reachable at {options.admin_url}", file=sys.stderr)
            return 1
        with fresh_database(backend, options.admin_url, PG_DATABASE, MASTER_KEY) as settings:
            report(backend, asyncio.run(run_backend(settings, options)))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
