"""Dashboard benchmark: render time of the Contacts list (10,000 contacts) and the Usage page (90 days).

Method
------
For each backend (SQLite in a temporary directory; PostgreSQL in a fresh database `parley_bench_dashboard`, used
through a non-superuser role so that row-level security applies as in production): one organisation with
`--contacts` contacts (each with an e-mail identifier and one conversation), and 90 days of activity for one agent
(`--per-day` conversations of two sealed messages a day, and a usage-ledger row a day), inserted in bulk. An owner
signs in through the API; pages are fetched in-process through the ASGI app (httpx `ASGITransport`, so no
network), one at a time, `--requests` times each after 3 warm-up requests. Timed: the whole request — session,
organisation scope, queries, the audit row the Contacts list writes, Jinja rendering. Printed: p50 / p95 ms for
- `overview`: the dashboard's home page of the organisation (the baseline: the fixed cost of a signed-in page);
- `contacts`: first page of the Contacts list (50 rows, count over all 10,000, audited);
- `contacts search`: the list filtered by a substring of an e-mail address (a scan: values are matched anywhere);
- `usage 90 days`: three 90-day SVG charts and the per-agent table;
and the ratio of each to the baseline. Targets: p95 <= 150 ms for contacts and usage.

Run: `.venv/bin/python bench/dashboard.py [--database sqlite|postgres|both] [--contacts 10000] [--requests 60]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any, Literal

import httpx
from benchdb import fresh_database, pg_reachable
from sqlalchemy import insert

from parley.app import create_app
from parley.auth import service as auth_service
from parley.conversations.service import message_record
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.models import Agent, Contact, ContactIdentifier, Conversation, Message, UsageDaily
from parley.privacy.keys import keyring
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.permissions import Role

Backend = Literal["sqlite", "postgres"]
PG_DATABASE = "parley_bench_dashboard"
MASTER_KEY = base64.urlsafe_b64encode(b"dashboard-bench-master-key-32by!").decode()
PASSWORD = "bench password that is long enough"
TARGET_P95_MS = 150.0
CHUNK = 2000


async def _bulk(db: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await db.execute(insert(model), rows[start : start + CHUNK])


async def seed(runtime: Runtime, contacts: int, per_day: int) -> tuple[str, str]:
    """Returns (organisation id, owner e-mail)."""
    actor = Actor.system()
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.create_organization(db, runtime, name="Bench Bistro", actor=actor)
        user = await auth_service.create_user(
            db, runtime, email="owner@bench.example", name="Owner", password=PASSWORD, actor=actor
        )
        await platform.add_member(db, runtime, scope, user, Role.OWNER)
        org_id = scope.org_id
        agent_id = new_id("agt")
        db.add(Agent(id=agent_id, org_id=org_id, name="Front desk", created_at=now, updated_at=now))
        await db.flush()
        people, identifiers, conversations = [], [], []
        for i in range(contacts):
            contact_id, at = new_id("con"), now - timedelta(minutes=contacts - i)
            people.append({"id": contact_id, "org_id": org_id, "display_name": f"Person {i}", "created_at": at})
            identifiers.append(
                {
                    "id": new_id("cid"),
                    "org_id": org_id,
                    "contact_id": contact_id,
                    "kind": "email",
                    "value": f"person{i}@example.com",
                    "created_at": at,
                }
            )
            conversations.append(
                {
                    "id": new_id("cnv"),
                    "org_id": org_id,
                    "agent_id": agent_id,
                    "contact_id": contact_id,
                    "channel": "email",
                    "status": "closed",
                    "needs_attention": False,
                    "handed_off": False,
                    "created_at": at,
                    "last_message_at": at,
                }
            )
        await _bulk(db, Contact, people)
        await _bulk(db, ContactIdentifier, identifiers)
        await _bulk(db, Conversation, conversations)
        cipher = await keyring(runtime, scope).org()
        activity, messages, usage = [], [], []
        for back in range(90):
            day = now.date() - timedelta(days=back)
            at = datetime.combine(day, dtime(12), tzinfo=UTC)
            usage.append(
                {
                    "id": new_id("use"),
                    "org_id": org_id,
                    "agent_id": agent_id,
                    "day": day,
                    "provider": "offline",
                    "model": "-",
                    "calls": per_day,
                    "messages": per_day,
                    "input_tokens": 400 * per_day,
                    "output_tokens": 150 * per_day,
                }
            )
            for n in range(per_day):
                conversation_id = new_id("cnv")
                activity.append(
                    {
                        **conversations[n % len(conversations)],
                        "id": conversation_id,
                        "created_at": at,
                        "last_message_at": at,
                    }
                )
                for role in ("user", "assistant"):
                    message_id = new_id("msg")
                    messages.append(
                        {
                            "id": message_id,
                            "org_id": org_id,
                            "conversation_id": conversation_id,
                            "role": role,
                            "citations": [],
                            "created_at": at,
                            "body_sealed": cipher.encrypt_text("a question", record=message_record(message_id)),
                        }
                    )
        await _bulk(db, Conversation, activity)
        await _bulk(db, Message, messages)
        await _bulk(db, UsageDaily, usage)
    return org_id, "owner@bench.example"


async def timed(client: httpx.AsyncClient, url: str, requests: int) -> list[float]:
    for _ in range(3):
        response = await client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = await client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


async def run(settings: Settings, options: argparse.Namespace) -> dict[str, list[float]]:
    runtime = create_runtime(settings)
    try:
        started = time.perf_counter()
        org_id, email = await seed(runtime, options.contacts, options.per_day)
        print(
            f"  seeded {options.contacts:,} contacts and 90 days of activity in {time.perf_counter() - started:.1f} s"
        )
        transport = httpx.ASGITransport(app=create_app(runtime=runtime), client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            login = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
            base = f"/app/o/{org_id}"
            pages = {
                "overview (baseline)": base,
                "contacts": f"{base}/contacts",
                "contacts search": f"{base}/contacts?q=person7777@",
                "usage 90 days": f"{base}/usage?days=90",
            }
            return {name: await timed(client, url, options.requests) for name, url in pages.items()}
    finally:
        await runtime.close()


def report(backend: str, results: dict[str, list[float]]) -> bool:
    baseline = p(results["overview (baseline)"], 50)
    ok = True
    print(f"  {'page':<22} {'p50 ms':>8} {'p95 ms':>8} {'x baseline p50':>15}")
    for name, samples in results.items():
        p50, p95 = p(samples, 50), p(samples, 95)
        print(f"  {name:<22} {p50:>8.1f} {p95:>8.1f} {p50 / baseline:>15.1f}")
        if name in ("contacts", "usage 90 days") and p95 > TARGET_P95_MS:
            print(f"  MISS: {name} p95 above {TARGET_P95_MS:.0f} ms on {backend}")
            ok = False
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--per-day", type=int, default=30, help="conversations a day for 90 days (default 30)")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page (default 60)")
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get("PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    options = parser.parse_args()
    backends: list[Backend] = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    ok = True
    for backend in backends:
        if backend == "postgres" and not asyncio.run(pg_reachable(options.pg_admin_url)):
            print("postgres: not reachable, skipped")
            continue
        print(f"{backend}:")
        overrides = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
        with fresh_database(backend, options.pg_admin_url, PG_DATABASE, MASTER_KEY, **overrides) as settings:
            ok = report(backend, asyncio.run(run(settings, options))) and ok
    with open("/proc/loadavg") as f:
        print(f"loadavg: {f.read().strip()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
