"""Takeover benchmark: a staff message posted to one server process, until it appears in the visitor's widget
socket held by another process — the scaled path end to end (HTTP, PostgreSQL commit, sealed publish, broker,
the other process's hub, the WebSocket).

Method
------
1. A fresh PostgreSQL database (dropped and created, migrated, the app connecting as a non-superuser role), the
   demo organisation and agent with its widget on, and an agent-role API token for the staff member.
2. For each live backend (`redis`, `postgres`): two `parley serve --no-migrate` processes, A and B, on that
   database with `PARLEY_LIVE_BACKEND` set (their own channel prefix per run); each answers /readyz with
   `"live": "ok"` first.
3. `--conversations` visitors connect their widget WebSocket to B and each sends one message (the offline
   provider answers), so B holds that many open conversations with their live subscriptions.
4. Paced phase: `--rate` staff messages per second for `--duration` seconds, each posted to A for a random one
   of those conversations, without waiting for the previous one. Latency: from sending the POST to the staff
   message arriving on the visitor's socket on B. Printed beside it: the POST's own response time (A's work:
   authorisation, the sealed message, audit, commit) and response→socket (the fan-out's share: A publishes
   after its response, so this is the broker hop and B's forwarding).
5. Target: p99 ≤ 200 ms, every message delivered. Prints the load average (the machine is shared). Exit
   status 1 on a miss.

Run: `.venv/bin/python bench/takeover.py [--conversations 200] [--rate 5] [--duration 10]
[--backends redis,postgres] [--postgres-admin-url postgresql+asyncpg://postgres@127.0.0.1:5432]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from benchdb import fresh_database

from parley.settings import Settings

MASTER_KEY = base64.urlsafe_b64encode(b"takeover-bench-master-key-32byte").decode()[:43]
ORIGIN = "https://bench.example"
TARGET_P99_MS = 200.0


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--backends", default="redis,postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432")
    opts = parser.parse_args()
    if not 1 <= opts.conversations <= 1_000 or not 0 < opts.rate <= 200 or not 0 < opts.duration <= 60:
        parser.error("--conversations 1..1000, --rate 0..200, --duration 0..60 (bounded: the machine is shared)")
    return opts


@dataclass(frozen=True)
class Seeded:
    org_id: str
    agent_id: str
    token: str  # an agent-role API token
    email: str  # the demo owner's sign-in (the dashboard)
    password: str


def seed(settings: Settings) -> Seeded:
    """The demo organisation, its widget on for ORIGIN, and an agent-role API token."""
    from parley.channels.widget import service as widget
    from parley.channels.widget.schemas import WidgetSettingsIn
    from parley.demo import ensure_demo
    from parley.kit.context import Actor
    from parley.kit.db import unit_of_work
    from parley.runtime import create_runtime
    from parley.tenancy import platform
    from parley.tenancy.permissions import Role
    from parley.tokens import service as tokens

    async def run() -> Seeded:
        runtime = create_runtime(settings)
        try:
            login = await ensure_demo(runtime)
            async with unit_of_work(runtime.sessionmaker) as db:
                scope = await platform.system_scope(db, login.org_id, Actor.system())
                body = WidgetSettingsIn.model_validate({"allowed_origins": [ORIGIN]})
                await widget.do_update_widget(db, runtime, scope, login.agent_id, body)
                created = await tokens.do_create_token(
                    db, runtime, scope, name="bench", role=Role.AGENT, expires_in_days=1
                )
            return Seeded(login.org_id, login.agent_id, created.secret, login.email, login.password)
        finally:
            await runtime.close()

    return asyncio.run(run())


def server_env(settings: Settings, name: str, **live: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        {
            "PARLEY_ENVIRONMENT": "test",
            "PARLEY_DATA_DIR": str(settings.data_dir / name),
            "PARLEY_DATABASE_URL": settings.effective_database_url,
            "PARLEY_DATABASE_OWNER_URL": settings.effective_owner_url,
            "PARLEY_DATABASE_APP_ROLE": settings.database_app_role,
            "PARLEY_MASTER_KEY": MASTER_KEY,
            "PARLEY_EMBEDDED_WORKER": "false",
            "PARLEY_LOG_JSON": "false",
            "PARLEY_LOG_LEVEL": "WARNING",
            # One address opens every visitor: the per-address limits would rightly stop it.
            "PARLEY_WIDGET_IP_PER_MINUTE": "100000",
            "PARLEY_WIDGET_IP_BURST": "100000",
        }
    )
    env.update({f"PARLEY_{k.upper()}": v for k, v in live.items()})
    return env


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "parley", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a shared, loaded machine starts slowly
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as response:
                live = json.loads(response.read())["live"]
                if live != "ok":
                    raise RuntimeError(f"live backend not ready: {live}")
                return server, url
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("parley serve did not start")


class Visitor:
    def __init__(self, ws: ClientConnection, conversation_id: str, sent: dict[str, float]) -> None:
        self.ws = ws
        self.conversation_id = conversation_id
        self.sent = sent
        self.latencies: list[float] = []
        self.arrived: dict[str, float] = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                event = json.loads(raw)
                if event["type"] == "message" and event["message"]["role"] == "staff":
                    tag = event["message"]["text"].rsplit(" ", 1)[-1]
                    started = self.sent.get(tag)
                    if started is not None:
                        self.arrived[tag] = time.perf_counter()
                        self.latencies.append((self.arrived[tag] - started) * 1000)


async def open_visitor(b: str, agent_id: str, sent: dict[str, float]) -> Visitor:
    api = f"{b}/widget/v1/agents/{agent_id}"
    # A client per request: a kept-alive connection may be closed by the server while the turn runs.
    async with httpx.AsyncClient(timeout=30) as http:
        made = (await http.post(f"{api}/visitors", headers={"origin": ORIGIN})).json()
    credentials = f"{made['visitor_id']}:{made['visitor_secret']}"
    ws = await connect(f"{api.replace('http', 'ws', 1)}/ws", origin=Origin(ORIGIN), proxy=None)
    await ws.send(json.dumps({"type": "hello", "visitor": credentials}))
    assert json.loads(await ws.recv())["type"] == "ready"
    await ws.send(json.dumps({"type": "message", "text": "When is lunch served?"}))
    async with asyncio.timeout(60):
        while json.loads(await ws.recv())["type"] != "done":
            pass
    async with httpx.AsyncClient(timeout=30) as http:
        history = await http.get(f"{api}/conversation", headers={"origin": ORIGIN, "x-parley-visitor": credentials})
    return Visitor(ws, history.json()["conversation_id"], sent)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def run(opts: argparse.Namespace, a: str, b: str, org_id: str, agent_id: str, token: str) -> dict[str, Any]:
    sent: dict[str, float] = {}
    visitors: list[Visitor] = []
    gate = asyncio.Semaphore(8)

    async def one() -> None:
        async with gate:
            visitors.append(await open_visitor(b, agent_id, sent))

    await asyncio.gather(*(one() for _ in range(opts.conversations)))
    posts: list[float] = []
    answered: dict[str, float] = {}  # tag -> when A's response arrived
    failures = 0
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=a, headers=headers, timeout=30) as staff:

        async def post(visitor: Visitor, tag: str) -> None:
            nonlocal failures
            started = time.perf_counter()
            sent[tag] = started
            try:
                response = await staff.post(
                    f"/api/v1/orgs/{org_id}/conversations/{visitor.conversation_id}/messages",
                    json={"text": f"Hi, this is Sam from the bistro, message {tag}"},
                )
                failures += response.status_code != 201
            except httpx.HTTPError:
                failures += 1
            answered[tag] = time.perf_counter()
            posts.append((answered[tag] - started) * 1000)

        count = int(opts.rate * opts.duration)
        started = time.perf_counter()
        tasks = []
        for n in range(count):
            delay = started + n / opts.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(random.choice(visitors), uuid.uuid4().hex)))
        await asyncio.gather(*tasks)
    await asyncio.sleep(1.0)  # the last deliveries
    for visitor in visitors:
        await visitor.ws.close()
        visitor.reader.cancel()
    latencies = [value for visitor in visitors for value in visitor.latencies]
    # The fan-out's own share: A publishes after sending its response (a background task after commit), so
    # arrival on B minus the response's arrival here is the broker hop plus B's forwarding (plus client noise).
    fanout = [(v.arrived[tag] - answered[tag]) * 1000 for v in visitors for tag in v.arrived if tag in answered]
    return {"sent": count, "failures": failures, "latencies": latencies, "posts": posts, "fanout": fanout}


def main() -> int:
    opts = options()
    print(
        f"takeover bench: {opts.conversations} open widget conversations on server B, {opts.rate:.0f} staff "
        f"messages/s for {opts.duration:.0f} s posted to server A, PostgreSQL database, offline provider"
    )
    ok = True
    with fresh_database("postgres", opts.postgres_admin_url, "parley_bench_takeover", MASTER_KEY) as settings:
        made = seed(settings)
        for backend in opts.backends.split(","):
            live = {"live_backend": backend, "redis_url": opts.redis_url}
            live["live_channel_prefix"] = f"parley-bench:{uuid.uuid4().hex[:8]}:"
            servers = []
            try:
                for name in ("a", "b"):
                    servers.append(serve(server_env(settings, f"{backend}-{name}", **live)))
                result = asyncio.run(run(opts, servers[0][1], servers[1][1], made.org_id, made.agent_id, made.token))
            finally:
                for process, _ in servers:
                    process.terminate()
                    process.wait(10)
            lat, posts = result["latencies"], result["posts"]
            p50, p99 = percentile(lat, 0.5), percentile(lat, 0.99)
            passed = len(lat) == result["sent"] and not result["failures"] and p99 <= TARGET_P99_MS
            ok = ok and passed
            print(
                f"  {backend:<9} delivered {len(lat)}/{result['sent']}  POST→socket p50 {p50:.1f} ms  "
                f"p99 {p99:.1f} ms  max {max(lat, default=float('nan')):.1f} ms  "
                f"(POST response p50 {percentile(posts, 0.5):.1f} ms, p99 {percentile(posts, 0.99):.1f} ms; "
                f"response→socket p50 {percentile(result['fanout'], 0.5):.1f} ms, "
                f"p99 {percentile(result['fanout'], 0.99):.1f} ms)  "
                f"{result['failures']} failed  {'OK' if passed else 'MISS'}"
            )
    print("  loadavg: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
