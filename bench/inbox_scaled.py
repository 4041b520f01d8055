"""Inbox benchmark, scaled: a visitor's message on one server process until it appears in a staff member's open
inbox (the dashboard's Server-Sent Events) on another process. `bench/inbox.py` measures embedded mode (SQLite).

Method
------
1. A fresh PostgreSQL database, the demo organisation and agent with its widget on (as bench/takeover.py).
2. `--processes 2` (the default): two `parley serve --no-migrate` processes, A and B, on that database with
   `PARLEY_LIVE_BACKEND=--live` (redis or postgres), each answering /readyz with `"live": "ok"`.
   `--processes 1`: one process, in-process fan-out (the floor).
3. The demo owner signs in to the dashboard on A (the sign-in form, its CSRF token) and opens the inbox's event
   stream (`/app/o/<org>/inbox/events`) on A; the stream says `: subscribed` when the hub holds its key.
4. `--conversations` visitors connect their widget socket to B (the last process) and each sends one message,
   so that many conversations are active.
5. Paced phase: `--rate` visitor messages per second for `--duration` seconds, each from a random visitor with
   nothing in flight. Latency: from the message leaving the visitor's socket to the inbox stream on A announcing
   a new message in that conversation (committed on B, announced on `org:<id>`, sealed through the broker).
6. Target: p99 ≤ 200 ms with every message announced. Prints the load average (the machine is shared). Exit
   status 1 on a miss.

Run: `.venv/bin/python bench/inbox_scaled.py [--processes 2] [--live redis|postgres] [--conversations 200] [--rate 10]
[--duration 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from benchdb import fresh_database
from takeover import MASTER_KEY, Seeded, Visitor, open_visitor, percentile, seed, serve, server_env

TARGET_P99_MS = 200.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--processes", type=int, choices=[1, 2], default=2)
    parser.add_argument("--live", choices=["redis", "postgres"], default="redis")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    opts = parser.parse_args()
    if not 1 <= opts.conversations <= 1_000 or not 0 < opts.rate <= 100 or not 0 < opts.duration <= 60:
        parser.error("--conversations 1..1000, --rate 0..100, --duration 0..60 (bounded: the machine is shared)")
    return opts


async def sign_in(staff: httpx.AsyncClient, email: str, password: str) -> None:
    form = await staff.get("/app/login")
    token = CSRF.search(form.text)
    assert token, "the sign-in page has no CSRF field"
    response = await staff.post(
        "/app/login", data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/app"}
    )
    assert response.status_code == 303, response.text


async def run(opts: argparse.Namespace, a: str, b: str, made: Seeded) -> dict[str, object]:
    pending: dict[str, float] = {}  # conversation id -> when its visitor's message left
    latencies: list[float] = []
    subscribed = asyncio.Event()

    async with httpx.AsyncClient(base_url=a, timeout=httpx.Timeout(30, read=None)) as staff:
        await sign_in(staff, made.email, made.password)

        async def listen() -> None:
            async with staff.stream("GET", f"/app/o/{made.org_id}/inbox/events") as stream:
                assert stream.status_code == 200, stream.status_code
                async for line in stream.aiter_lines():
                    if line == ": subscribed":
                        subscribed.set()
                    elif line.startswith("data: "):
                        event = json.loads(line[6:])
                        started = pending.pop(event.get("conversation_id", ""), None)
                        if started is not None and event.get("change") == "message":
                            latencies.append((time.perf_counter() - started) * 1000)

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(subscribed.wait(), 30)
        visitors: list[Visitor] = []
        gate = asyncio.Semaphore(8)

        async def one() -> None:
            async with gate:
                visitors.append(await open_visitor(b, made.agent_id, {}))

        await asyncio.gather(*(one() for _ in range(opts.conversations)))
        await asyncio.sleep(1.0)  # the opening turns' announcements have passed
        pending.clear()
        count = int(opts.rate * opts.duration)
        skipped = 0
        started = time.perf_counter()
        for n in range(count):
            delay = started + n / opts.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            idle = [v for v in visitors if v.conversation_id not in pending]
            if not idle:
                skipped += 1
                continue
            visitor = random.choice(idle)
            pending[visitor.conversation_id] = time.perf_counter()
            await visitor.ws.send(json.dumps({"type": "message", "text": f"Do you have a table tonight? {n}"}))
        await asyncio.sleep(2.0)  # the last announcements
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
        for visitor in visitors:
            await visitor.ws.close()
            visitor.reader.cancel()
    return {"sent": count - skipped, "latencies": latencies, "lost": len(pending)}


def main() -> int:
    opts = options()
    live = opts.live if opts.processes == 2 else "inprocess"
    print(
        f"inbox bench: {opts.processes} server process(es), live fan-out {live}, {opts.conversations} active widget "
        f"conversations, {opts.rate:.0f} visitor messages/s for {opts.duration:.0f} s, PostgreSQL, offline provider"
    )
    with fresh_database("postgres", opts.postgres_admin_url, "parley_bench_inbox", MASTER_KEY) as settings:
        made = seed(settings)
        env = {"live_backend": live, "redis_url": opts.redis_url}
        env["live_channel_prefix"] = f"parley-bench:{uuid.uuid4().hex[:8]}:"
        servers = []
        try:
            for name in ("a", "b")[: opts.processes]:
                servers.append(serve(server_env(settings, f"inbox-{name}", **env)))
            result = asyncio.run(run(opts, servers[0][1], servers[-1][1], made))
        finally:
            for process, _ in servers:
                process.terminate()
                process.wait(10)
    latencies = result["latencies"]
    assert isinstance(latencies, list)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    passed = len(latencies) == result["sent"] and p99 <= TARGET_P99_MS
    where = "A (inbox) and B (visitors)" if opts.processes == 2 else "one process"
    print(
        f"  {live:<9} {where}: announced {len(latencies)}/{result['sent']}  visitor message→inbox p50 {p50:.1f} ms"
        f"  p99 {p99:.1f} ms  max {max(latencies, default=float('nan')):.1f} ms  target p99 ≤ {TARGET_P99_MS:.0f} ms"
        f"  {'OK' if passed else 'MISS'}"
    )
    print("  loadavg: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
