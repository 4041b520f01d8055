"""Data-subject request benchmark: access export and erasure of one person with a long history.

Method
------
For each backend (SQLite in a temporary directory; PostgreSQL in a fresh database `parley_bench_rights`, used
through a non-superuser role so that row-level security applies), through Parley's own code:

One organisation; one person known by a visitor id and an e-mail address, with `--messages` messages (default
10,000) in 10 conversations on two channels, bodies sealed for real with the person's key, and `--megabytes`
(default 50) of their own files (uploads, audio: random bytes, as compressed media are) in their file folder; a
bystander with 200 messages. Timed:
1. Access export: `privacy.export.write_archive` into a ZIP file (open every message with the person's key, mask
   third parties' identifiers, write data.json + index.html, copy the files), audited, in one transaction.
   Target <= 3 s.
2. Erasure: `privacy.erasure.erase_contact` (destroy the key, delete conversations, messages, identifiers, traces,
   files; SQLite checkpoint). Target <= 1 s.
Prints seconds, messages/s, and the load average (the machine is shared).

Run: `.venv/bin/python bench/rights.py [--database sqlite|postgres|both] [--messages 10000] [--megabytes 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchdb import fresh_database, pg_reachable
from sqlalchemy import insert

from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import Contact, ContactIdentifier, Conversation, Message
from parley.privacy import erasure, export
from parley.privacy.keys import keyring
from parley.privacy.personfiles import person_dir
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

PG_DATABASE = "parley_bench_rights"
MASTER_KEY = base64.urlsafe_b64encode(b"rights-bench-master-key-32bytes!").decode()
EXPORT_TARGET_S = 3.0
ERASURE_TARGET_S = 1.0
BODIES = [
    "Hello, do you have a table for four tonight around eight? Call me back on +33 6 12 34 56 78.",
    "Yes, we have a table for four at 8 pm. May I have a name for the booking?",
    "My name is Alex; my colleague bob@friend.example will join. One of us is allergic to peanuts.",
    "Of course. All dishes list their allergens, and the chef can prepare peanut-free versions on request.",
]


async def seed_person(runtime: Runtime, scope: OrgScope, messages: int, conversations: int, email: str) -> str:
    ring = keyring(runtime, scope)
    person = new_id("con")
    cipher = await ring.subject(person)
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        await db.execute(insert(Contact), [{"id": person, "org_id": scope.org_id, "created_at": now}])
        await db.execute(
            insert(ContactIdentifier),
            [
                {
                    "id": new_id("cid"),
                    "org_id": scope.org_id,
                    "contact_id": person,
                    "kind": kind,
                    "value": value,
                    "created_at": now,
                }
                for kind, value in (("visitor", new_id("vis")), ("email", email))
            ],
        )
        per = messages // conversations
        for c in range(conversations):
            cid = new_id("cnv")
            start = now - timedelta(days=conversations - c)
            await db.execute(
                insert(Conversation),
                [
                    {
                        "id": cid,
                        "org_id": scope.org_id,
                        "contact_id": person,
                        "channel": "widget" if c % 2 else "email",
                        "created_at": start,
                        "last_message_at": start,
                    }
                ],
            )
            rows = []
            for i in range(per):
                mid = new_id("msg")
                rows.append(
                    {
                        "id": mid,
                        "org_id": scope.org_id,
                        "conversation_id": cid,
                        "role": "user" if i % 2 == 0 else "assistant",
                        "body_sealed": cipher.encrypt_text(BODIES[i % len(BODIES)], record=f"message:{mid}:body"),
                        "citations": [],
                        "created_at": start + timedelta(seconds=i),
                    }
                )
            await db.execute(insert(Message), rows)
    return person


def seed_files(settings: Settings, org_id: str, person: str, megabytes: int) -> None:
    folder = person_dir(settings, org_id, person)
    folder.mkdir(parents=True)
    for n in range(max(1, megabytes // 5)):
        (folder / f"voice-{n:02d}.ogg").write_bytes(os.urandom(5 * 1024 * 1024))


async def run_backend(settings: Settings, messages: int, megabytes: int) -> dict[str, float]:
    runtime = create_runtime(settings)
    try:
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.create_organization(db, runtime, name="Bench Bistro", actor=Actor.system())
        person = await seed_person(runtime, scope, messages, 10, "alex@example.org")
        await seed_person(runtime, scope, 200, 2, "bystander@example.org")
        seed_files(settings, scope.org_id, person, megabytes)
        target = settings.data_dir / "export.zip"
        started = time.perf_counter()
        async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
            with target.open("wb") as file:
                done = await export.write_archive(db, runtime, scope, person, file)
        exported = time.perf_counter() - started
        assert done.messages == messages // 10 * 10, done
        size = target.stat().st_size
        started = time.perf_counter()
        erased = await erasure.erase_contact(runtime, scope, person)
        erase_s = time.perf_counter() - started
        assert erased.messages == done.messages and not person_dir(settings, scope.org_id, person).exists()
        return {"export_s": exported, "erase_s": erase_s, "messages": done.messages, "zip_mb": size / 1e6}
    finally:
        await runtime.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=50)
    parser.add_argument(
        "--admin-url", default=os.environ.get("PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    print(f"Parley rights benchmark: one person, {args.messages:,} messages, {args.megabytes} MB of files")
    for backend in backends:
        if backend == "postgres" and not asyncio.run(pg_reachable(args.admin_url)):
            print(f"\npostgres: not reachable at {args.admin_url}", file=sys.stderr)
            return 1
        with fresh_database(backend, args.admin_url, PG_DATABASE, MASTER_KEY) as settings:  # type: ignore[arg-type]
            r = asyncio.run(run_backend(settings, args.messages, args.megabytes))
        load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
        print(f"\n{backend}   (load average {' '.join(load)})")
        print(
            f"  access export  {r['export_s']:6.2f} s   {r['messages'] / r['export_s']:>8,.0f} messages/s   "
            f"ZIP {r['zip_mb']:.1f} MB   target <= {EXPORT_TARGET_S:.0f} s: "
            f"{'PASS' if r['export_s'] <= EXPORT_TARGET_S else 'BELOW TARGET'}"
        )
        print(
            f"  erasure        {r['erase_s']:6.2f} s   {r['messages'] / r['erase_s']:>8,.0f} messages/s   "
            f"target <= {ERASURE_TARGET_S:.0f} s: {'PASS' if r['erase_s'] <= ERASURE_TARGET_S else 'BELOW TARGET'}"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
