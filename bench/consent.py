"""Consent benchmark: how long `consent.service.allows()` takes with a large ledger.

Method
------
For each backend (SQLite in a temporary directory; PostgreSQL in a fresh database `parley_bench_consent`, used
through a non-superuser role so that row-level security applies as in production), through Parley's own code:

1. Seed one organisation with `--events` consent events (default 100,000) over `--contacts` contacts (default
   10,000) and the four purposes, grants and withdrawals interleaved in time, inserted in bulk; plus a second
   organisation with as many events, so the index also has to tell tenants apart.
2. Timed: `--lookups` calls (default 5,000) of `allows(db, scope, contact_id, purpose)` for random contacts and
   purposes, inside one read transaction with the tenant set (as a request or an engine turn would call it).
   Reports p50, p99 and mean in microseconds, and checks each answer against the ledger's expected state.
3. Baseline, same session: `SELECT 1` round trips (the driver's floor), reported the same way.

Run: `.venv/bin/python bench/consent.py [--database sqlite|postgres|both] [--events 100000] [--lookups 5000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from benchdb import fresh_database, pg_reachable
from sqlalchemy import insert, text

from parley.consent.purposes import PURPOSE_KEYS
from parley.consent.service import allows
from parley.kit.clock import SystemClock
from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import ConsentEvent, Organization
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform

Backend = Literal["sqlite", "postgres"]
MASTER_KEY = base64.urlsafe_b64encode(b"c" * 32).decode()
PG_DATABASE = "parley_bench_consent"
BATCH = 5_000


@dataclass(frozen=True)
class Options:
    databases: list[Backend]
    events: int
    contacts: int
    lookups: int
    admin_url: str


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000, help="consent events per organisation")
    parser.add_argument("--contacts", type=int, default=10_000, help="contacts per organisation")
    parser.add_argument("--lookups", type=int, default=5_000, help="timed allows() calls")
    parser.add_argument("--postgres-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    databases: list[Backend] = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    return Options(databases, args.events, args.contacts, args.lookups, args.postgres_admin_url)


async def seed(runtime: Runtime, org_id: str, options: Options, rng: random.Random) -> dict[tuple[str, str], bool]:
    """Bulk events; returns the expected current state per (contact, purpose)."""
    start = runtime.clock.now() - timedelta(days=365)
    contacts = [new_id("con") for _ in range(options.contacts)]
    state: dict[tuple[str, str], bool] = {}
    rows = []
    for n in range(options.events):
        contact, purpose = rng.choice(contacts), rng.choice(PURPOSE_KEYS)
        granted = rng.random() < 0.6
        state[(contact, purpose)] = granted  # later n = later time: the last one written is current
        rows.append(
            {
                "id": new_id("cev"),
                "org_id": org_id,
                "contact_id": contact,
                "purpose": purpose,
                "granted": granted,
                "channel": "widget",
                "occurred_at": start + timedelta(seconds=n),
                "text_id": None,
                "evidence": {"kind": "banner"},
                "recorded_by": None,
            }
        )
    for i in range(0, len(rows), BATCH):
        async with unit_of_work(runtime.sessionmaker) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            await db.execute(insert(ConsentEvent), rows[i : i + BATCH])
    return state


async def make_org(runtime: Runtime, name: str) -> str:
    async with unit_of_work(runtime.sessionmaker) as db:
        org = Organization(id=new_id("org"), name=name, slug=new_id("s"), created_at=runtime.clock.now())
        db.add(org)
    return org.id


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def run_backend(settings: Settings, options: Options) -> dict[str, list[float]]:
    rng = random.Random(7)
    runtime = create_runtime(settings, clock=SystemClock())
    try:
        org_id = await make_org(runtime, "Measured")
        other = await make_org(runtime, "Neighbour")
        state = await seed(runtime, org_id, options, rng)
        await seed(runtime, other, options, rng)
        if settings.is_postgres:
            async with runtime.engine.begin() as conn:
                await conn.execute(text("ANALYZE consent_events"))
        keys = list(state)
        timings: dict[str, list[float]] = {"allows": [], "select 1": []}
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            scope = await platform.system_scope(db, org_id, Actor.system())
            for _ in range(200):  # warm the cache and the connection
                await allows(db, scope, *rng.choice(keys))
            for _ in range(options.lookups):
                contact, purpose = rng.choice(keys)
                began = time.perf_counter()
                answer = await allows(db, scope, contact, purpose)
                timings["allows"].append((time.perf_counter() - began) * 1e6)
                assert answer is state[(contact, purpose)], "allows() disagrees with the ledger"
            for _ in range(options.lookups):
                began = time.perf_counter()
                await db.execute(text("SELECT 1"))
                timings["select 1"].append((time.perf_counter() - began) * 1e6)
        return timings
    finally:
        await runtime.close()


def report(backend: Backend, timings: dict[str, list[float]]) -> None:
    print(f"\n{backend}")
    for name, values in timings.items():
        print(
            f"  {name:<10} p50 {percentile(values, 50):>8.0f} µs   p99 {percentile(values, 99):>8.0f} µs"
            f"   mean {statistics.fmean(values):>8.0f} µs   ({len(values):,} calls)"
        )
    floor = percentile(timings["select 1"], 50)
    print(f"  allows() p50 is {percentile(timings['allows'], 50) / floor:.1f}x a bare round trip")


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    print("Parley consent benchmark")
    print(
        f"  {options.events:,} events over {options.contacts:,} contacts x {len(PURPOSE_KEYS)} purposes per "
        f"organisation (2 organisations); {options.lookups:,} timed allows() calls"
    )
    with open("/proc/loadavg") as f:
        print(f"  loadavg at start: {f.read().strip()}")
    for backend in options.databases:
        if backend == "postgres" and not asyncio.run(pg_reachable(options.admin_url)):
            print(f"\npostgres: not reachable at {options.admin_url}", file=sys.stderr)
            return 1
        with fresh_database(backend, options.admin_url, PG_DATABASE, MASTER_KEY) as settings:
            report(backend, asyncio.run(run_backend(settings, options)))
    with open("/proc/loadavg") as f:
        print(f"\n  loadavg at end: {f.read().strip()}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    sys.exit(main())
