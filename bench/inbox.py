"""Inbox benchmark: how long from a visitor's message (widget API) to its appearance in a staff member's open
inbox (the dashboard's Server-Sent Events stream), with many active conversations.

Method
------
1. Seed a temporary data directory: migrate, the demo organisation with its agent and FAQ (offline provider),
   the agent's widget on for one origin. Widget rate limits are raised (every visitor comes from 127.0.0.1).
2. Start `--processes` times `parley serve --no-migrate` on loopback ports, all on the same database, each with the
   environment of the `--live` fan-out mode (`LIVE_MODES`: embedded = in-process; a scaled mode such as Redis
   adds its settings there and needs `--processes 2` to be meaningful).
3. A staff member signs in on the first server and opens the inbox's event stream
   (`GET /app/o/{org}/inbox/events`), waiting for its first line (the subscription is in place).
4. `--conversations` visitors each send a first message (HTTP `POST /widget/v1/agents/{id}/messages`, spread
   round-robin over the servers): that many active conversations. Their events are drained.
5. Paced phase: `--rate` messages per second for `--duration` seconds, each from the next visitor in turn (each
   conversation is written to again only after a full cycle). Latency = from just before the request is sent to
   the moment the stream delivers the `conversation` event for that conversation (the inbound message recorded
   and committed; the AI's reply follows separately and is not waited for).
6. Print p50 / p99 / max, the load average, and the verdict against the target (p99 ≤ 200 ms). Exit 1 on a miss
   or when messages were lost.

Run: `.venv/bin/python bench/inbox.py [--conversations 200] [--rate 20] [--duration 10] [--processes 1]
[--live embedded]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ORIGIN = "https://bench.example"
QUESTION = "When is lunch served?"
TARGET_P99_MS = 200.0
# Environment each server gets per fan-out mode. A scaled mode (Redis, PostgreSQL LISTEN/NOTIFY) adds its entry
# here, e.g. "redis": {"PARLEY_LIVE_URL": "redis://127.0.0.1:6379/0"}, and is then run with --processes 2.
LIVE_MODES: dict[str, dict[str, str]] = {"embedded": {}}


@dataclass(frozen=True)
class Options:
    conversations: int
    rate: float
    duration: float
    processes: int
    live: str


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=200, help="active conversations (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="visitor messages per second (default 20)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of paced messages (default 10)")
    parser.add_argument("--processes", type=int, default=1, help="server processes (default 1)")
    parser.add_argument("--live", choices=sorted(LIVE_MODES), default="embedded", help="live fan-out mode")
    args = parser.parse_args()
    if not 1 <= args.conversations <= 2_000 or args.rate <= 0 or not 0 < args.duration <= 120:
        parser.error("--conversations 1..2000, --rate > 0, --duration 0..120")
    if not 1 <= args.processes <= 4:
        parser.error("--processes 1..4")
    if args.processes > 1 and args.live == "embedded":
        parser.error("several processes need a shared live fan-out (--live), not the in-process one")
    return Options(args.conversations, args.rate, args.duration, args.processes, args.live)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


# --- seed and serve --------------------------------------------------------------------------------------------


def seed(env: dict[str, str]) -> tuple[str, str, str, str]:
    """Migrates, creates the demo organisation, turns its agent's widget on; returns (org, agent, email, password)."""
    os.environ.update(env)
    from parley.channels.widget import service as widget
    from parley.channels.widget.schemas import WidgetSettingsIn
    from parley.demo import ensure_demo
    from parley.kit.context import Actor
    from parley.kit.db import unit_of_work
    from parley.kit.migrate import upgrade
    from parley.runtime import create_runtime
    from parley.settings import Settings
    from parley.tenancy import platform

    settings = Settings()
    upgrade(settings)

    async def run() -> tuple[str, str, str, str]:
        runtime = create_runtime(settings)
        try:
            login = await ensure_demo(runtime)
            async with unit_of_work(runtime.sessionmaker) as db:
                scope = await platform.system_scope(db, login.org_id, Actor.system())
                body = WidgetSettingsIn.model_validate({"allowed_origins": [ORIGIN]})
                await widget.do_update_widget(db, runtime, scope, login.agent_id, body)
            return login.org_id, login.agent_id, login.email, login.password
        finally:
            await runtime.close()

    return asyncio.run(run())


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    parley = Path(sys.executable).with_name("parley")
    command = [str(parley)] if parley.exists() else [sys.executable, "-m", "parley"]
    server_env = {**env, "PARLEY_PORT": str(port), "PARLEY_PUBLIC_URL": f"http://{HOST}:{port}"}
    server = subprocess.Popen([*command, "serve", "--no-migrate", "--port", str(port)], env=server_env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("parley serve did not start")


# --- staff and visitors ----------------------------------------------------------------------------------------


@dataclass
class Watch:
    """The staff member's open inbox: when each awaited conversation's event arrived."""

    waiting: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    events: int = 0
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)


async def watch_inbox(client: Any, org_id: str, watch: Watch) -> None:
    async with client.stream("GET", f"/app/o/{org_id}/inbox/events", timeout=None) as stream:
        stream.raise_for_status()
        async for line in stream.aiter_lines():
            if line == ": subscribed":
                watch.subscribed.set()
            elif line.startswith("data: "):
                arrived = time.perf_counter()
                watch.events += 1
                started = watch.waiting.pop(json.loads(line[6:])["conversation_id"], None)
                if started is not None:
                    watch.latencies.append((arrived - started) * 1000)


async def visitor_message(client: Any, agent_id: str, credentials: str) -> str:
    """Sends one message and reads the whole streamed reply; returns the conversation id."""
    headers = {"origin": ORIGIN, "x-parley-visitor": credentials}
    conversation_id = ""
    async with client.stream(
        "POST", f"/widget/v1/agents/{agent_id}/messages", json={"text": QUESTION}, headers=headers
    ) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: ") and not conversation_id:
                event = json.loads(line[6:])
                if event.get("type") == "conversation":
                    conversation_id = event["conversation_id"]
    return conversation_id


async def run_load(
    bases: list[str], org_id: str, agent_id: str, email: str, password: str, options: Options
) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    clients = [httpx.AsyncClient(base_url=b, timeout=30, limits=limits) for b in bases]
    staff = httpx.AsyncClient(base_url=bases[0], timeout=30)
    try:
        (await staff.post("/api/v1/auth/login", json={"email": email, "password": password})).raise_for_status()
        watch = Watch()
        watcher = asyncio.create_task(watch_inbox(staff, org_id, watch))
        await asyncio.wait_for(watch.subscribed.wait(), 10)

        visitors: list[tuple[Any, str]] = []
        for i in range(options.conversations):
            client = clients[i % len(clients)]
            body = (await client.post(f"/widget/v1/agents/{agent_id}/visitors", headers={"origin": ORIGIN})).json()
            visitors.append((client, f"{body['visitor_id']}:{body['visitor_secret']}"))
        gate = asyncio.Semaphore(4)  # a warm-up, not a load test: SQLite has one writer

        async def first(client: Any, credentials: str) -> str:
            async with gate:
                return await visitor_message(client, agent_id, credentials)

        conversation_ids = list(await asyncio.gather(*(first(c, v) for c, v in visitors)))
        await asyncio.sleep(1)  # the warm-up's events drain
        warmup_events = watch.events

        failures = 0
        tasks: set[asyncio.Task[None]] = set()

        async def send(index: int) -> None:
            nonlocal failures
            client, credentials = visitors[index]
            watch.waiting[conversation_ids[index]] = time.perf_counter()
            try:
                await visitor_message(client, agent_id, credentials)
            except Exception:
                failures += 1

        started, sent = time.perf_counter(), 0
        while (elapsed := time.perf_counter() - started) < options.duration:
            while sent < int(elapsed * options.rate) + 1:
                task = asyncio.create_task(send(sent % len(visitors)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.002)
        await asyncio.gather(*tasks)
        await asyncio.sleep(1)
        lost = len(watch.waiting)
        watcher.cancel()
        return {
            "sent": sent,
            "latencies": watch.latencies,
            "lost": lost,
            "failures": failures,
            "warmup_events": warmup_events,
            "conversations": len(set(conversation_ids)),
        }
    finally:
        await staff.aclose()
        for client in clients:
            await client.aclose()


# --- report ----------------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(options: Options, result: dict[str, Any], loadavg: str) -> bool:
    latencies = result["latencies"]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    print(
        f"\ninbox bench: {result['conversations']} active conversations, {options.processes} server process(es), "
        f"live fan-out {options.live}, SQLite, offline provider"
    )
    print(f"  {result['sent']} visitor messages at {options.rate:g}/s; {len(latencies)} seen in the inbox stream")
    print(
        f"  message → open inbox: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies, default=float('nan')):.1f} ms"
    )
    print(f"  lost events: {result['lost']}, failed sends: {result['failures']}")
    print(f"  load average during the run: {loadavg}")
    ok = p99 <= TARGET_P99_MS and not result["lost"] and not result["failures"]
    print(f"  p99 ≤ {TARGET_P99_MS:g} ms: {'OK' if ok else 'MISS'}")
    return ok


def main() -> int:
    options = parse_options()
    data_dir = Path(tempfile.mkdtemp(prefix="parley-inbox-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_HOST=HOST,
        PARLEY_LOG_LEVEL="WARNING",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        PARLEY_ARGON2_TIME_COST="1",
        PARLEY_ARGON2_MEMORY_KIB="1024",
        PARLEY_ARGON2_PARALLELISM="1",
        PARLEY_WIDGET_IP_BURST="1000000",
        PARLEY_WIDGET_IP_PER_MINUTE="1000000",
        PARLEY_WIDGET_VISITOR_BURST="1000",
        PARLEY_WIDGET_VISITOR_PER_MINUTE="100000",
        **LIVE_MODES[options.live],
    )
    servers: list[subprocess.Popen[bytes]] = []
    try:
        org_id, agent_id, email, password = seed(env)
        ports = [free_port() for _ in range(options.processes)]
        servers = [serve(env, port) for port in ports]
        bases = [f"http://{HOST}:{port}" for port in ports]
        result = asyncio.run(run_load(bases, org_id, agent_id, email, password, options))
        loadavg = Path("/proc/loadavg").read_text().strip()
        return 0 if report(options, result, loadavg) else 1
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
