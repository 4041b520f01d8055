"""Messaging-channel benchmark: WhatsApp webhooks accepted per second, and webhook → reply handed to the provider.

Method
------
1. A fresh database (SQLite in a temporary directory, or `--database postgres`: a throw-away database used
   through a non-superuser role, so row-level security applies) with one organisation, an offline agent and a
   WhatsApp connection. A fake Graph API (tests/fakes/graph_server.py) runs in this process on 127.0.0.1 and
   notes when each reply reaches it.
2. **Accept throughput.** `parley serve` (one process, log level WARNING, no embedded worker) with in-process
   dispatch OFF, so only the accept path runs: signature check, one INSERT per message, 200. A child process
   drives it over `--connections` keep-alive HTTP/1.1 connections with `--requests` signed notifications (one
   message each, `--senders` distinct people), bounded in count and time. Afterwards the rows in
   `channel_inbound` are counted: every 200 must be a durable row.
3. **Webhook → reply latency.** The server restarted with in-process dispatch ON and a burst window of 0 s
   (the default 2 s window would dominate: a burst is waited for on purpose). Webhooks are paced at `--rate`
   per second for `--duration` seconds, each from a new person; the latency of each is from the moment the
   request is sent to the moment the fake Graph API receives the reply (signature check, durable write, turn
   with the offline provider, reply stored with its outbox row, send). Requests still unanswered 10 s after
   the last one count as lost. `WARMUP` webhooks from other people go first, unmeasured: a fresh process's first
   turns load the agent, the knowledge index and the HTTP client.
4. Print figures, the targets (≥ 500 accepted/s; p99 ≤ 300 ms) and the load average, since the CPUs are shared.

Run: `.venv/bin/python bench/channels.py [--database sqlite|postgres] [--requests 3000] [--rate 20]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the fake Graph API lives in tests/fakes

from benchdb import fresh_database, pg_reachable
from starlette.requests import Request
from starlette.responses import Response

from parley.settings import Settings
from tests.fakes.graph_server import ACCESS_TOKEN, FakeGraph

HOST = "127.0.0.1"
MASTER_KEY = base64.urlsafe_b64encode(b"channels-bench-master-key-32byt!").decode()
APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
PG_DATABASE = "parley_bench_channels"
TARGET_RATE = 500.0
TARGET_P99_MS = 300.0
WARMUP = 10  # webhooks sent and answered before the latency phase, not measured


@dataclass(frozen=True)
class Options:
    database: str
    requests: int
    connections: int
    senders: int
    rate: float
    duration: float
    admin_url: str


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=3000, help="webhooks for the throughput phase")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections (throughput)")
    parser.add_argument("--senders", type=int, default=200, help="distinct people writing (throughput)")
    parser.add_argument("--rate", type=float, default=20.0, help="paced webhooks per second (latency)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the latency phase")
    parser.add_argument("--postgres-admin-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    a = parser.parse_args()
    if not (1 <= a.requests <= 50_000 and 1 <= a.connections <= 256 and a.rate > 0 and 0 < a.duration <= 120):
        parser.error("--requests 1..50000, --connections 1..256, --rate > 0, --duration 0..120")
    return Options(a.database, a.requests, a.connections, a.senders, a.rate, a.duration, a.postgres_admin_url)


class TimedGraph(FakeGraph):
    """The fake Graph API, noting when the reply to each WhatsApp id arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}

    async def messages(self, request: Request) -> Response:
        response = await super().messages(request)
        to = (self.requests[-1].body or {}).get("to")
        if response.status_code == 200 and to:
            self.arrived.setdefault(str(to), time.monotonic())
        return response


# --- setup -------------------------------------------------------------------------------------------------------


def seed(settings: Settings) -> tuple[str, str]:
    """One organisation, an offline agent and its WhatsApp connection; returns (org id, connection id)."""
    from parley.agents import service as agents_service
    from parley.agents.schemas import AgentIn
    from parley.channels.messaging import connections
    from parley.channels.messaging.schemas import ChannelIn
    from parley.kit.context import Actor
    from parley.kit.db import unit_of_work
    from parley.runtime import create_runtime
    from parley.tenancy import platform

    async def run() -> tuple[str, str]:
        runtime = create_runtime(settings)
        try:
            async with unit_of_work(runtime.sessionmaker) as db:
                scope = await platform.create_organization(db, runtime, name="Bench", actor=Actor.system())
                agent = await agents_service.do_create_agent(db, runtime, scope, AgentIn(name="Helper"))
                channel = await connections.do_create(
                    db,
                    runtime,
                    scope,
                    ChannelIn(
                        kind="whatsapp",
                        agent_id=agent.id,
                        name="WhatsApp",
                        config={"phone_number_id": PHONE_NUMBER_ID},
                        secrets={"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET, "verify_token": "v"},
                    ),
                )
            return scope.org_id, channel.id
        finally:
            await runtime.close()

    return asyncio.run(run())


def server_env(settings: Settings, graph_url: str, *, inline: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(settings.data_dir),
        PARLEY_DATABASE_URL=settings.effective_database_url,
        PARLEY_MASTER_KEY=MASTER_KEY,
        PARLEY_LOG_LEVEL="WARNING",
        PARLEY_LOG_JSON="false",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_ENVIRONMENT="test",
        PARLEY_WHATSAPP_GRAPH_URL=graph_url,
        PARLEY_CHANNEL_DISPATCH_INLINE="true" if inline else "false",
        PARLEY_CHANNEL_BURST_SECONDS="0",
        PARLEY_DATABASE_POOL_SIZE="10",
    )
    if settings.database_owner_url:
        env["PARLEY_DATABASE_OWNER_URL"] = settings.database_owner_url
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    parley = Path(sys.executable).with_name("parley")
    command = [str(parley)] if parley.exists() else [sys.executable, "-m", "parley"]
    server = subprocess.Popen([*command, "serve", "--no-migrate", "--port", str(port)], env=env)
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


def stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


# --- requests ----------------------------------------------------------------------------------------------------


def webhook_request(port: int, connection_id: str, wamid: str, wa_id: str, text: str) -> bytes:
    """A complete HTTP/1.1 request, signed exactly as Meta signs (HMAC-SHA256 of the raw body)."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
                            "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(int(time.time())),
                                    "type": "text",
                                    "text": {"body": text},
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    head = (
        f"POST /webhooks/whatsapp/{connection_id} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nX-Hub-Signature-256: {signature}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return int(status_line.split()[1]) if status_line else 0


async def _saturate(port: int, requests: list[bytes], connections: int) -> tuple[int, int, float]:
    queue = list(reversed(requests))
    ok = failed = 0

    async def worker() -> None:
        nonlocal ok, failed
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while queue:
                status = await _exchange(reader, writer, queue.pop())
                ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(connections))), timeout=300)
    return ok, failed, time.monotonic() - started


def saturate_process(port: int, requests: list[bytes], connections: int, pipe: Connection) -> None:
    pipe.send(asyncio.run(_saturate(port, requests, connections)))


async def _paced(
    port: int, connection_id: str, rate: float, duration: float, *, prefix: str = "4479"
) -> dict[str, float]:
    """Sends one webhook from a new person every 1/rate s; returns wa_id → monotonic time sent."""
    sent: dict[str, float] = {}
    count = int(rate * duration)
    started = time.monotonic()

    async def one(n: int) -> None:
        wa_id = f"{prefix}{n:08d}"
        request = webhook_request(port, connection_id, f"wamid.{prefix}.{n}", wa_id, "When are you open?")
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            sent[wa_id] = time.monotonic()
            await _exchange(reader, writer, request)
        finally:
            writer.close()

    tasks = []
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    return sent


async def count_inbound(settings: Settings, org_id: str) -> int:
    from sqlalchemy import func, select

    from parley.kit.db import set_pg_setting, unit_of_work
    from parley.models import ChannelInbound
    from parley.runtime import create_runtime

    runtime = create_runtime(settings)
    try:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            return int(await db.scalar(select(func.count()).select_from(ChannelInbound)) or 0)
    finally:
        await runtime.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def run(options: Options, settings: Settings) -> bool:
    org_id, connection_id = seed(settings)
    with TimedGraph() as graph:
        port = free_port()
        server = serve(server_env(settings, graph.base_url, inline=False), port)
        try:
            requests = [
                webhook_request(port, connection_id, f"wamid.T{n}", f"3161{n % options.senders:07d}", f"message {n}")
                for n in range(options.requests)
            ]
            parent, child = multiprocessing.Pipe()
            load = multiprocessing.Process(target=saturate_process, args=(port, requests, options.connections, child))
            load.start()
            ok, failed, elapsed = parent.recv()
            load.join()
        finally:
            stop(server)
        durable = asyncio.run(count_inbound(settings, org_id))
        rate = ok / elapsed
        print(
            f"\n[{options.database}] accept path: {ok} webhooks in {elapsed:.2f} s = {rate:.0f}/s accepted "
            f"({failed} failed; {durable} rows in channel_inbound) over {options.connections} connections"
        )

        port = free_port()
        server = serve(server_env(settings, graph.base_url, inline=True), port)
        try:
            # Warm-up, not measured: a fresh process's first turns load the agent, the knowledge index and the
            # provider's HTTP client; production servers are warm. Distinct people, so nothing is shared.
            warm = asyncio.run(_paced(port, connection_id, options.rate, WARMUP / options.rate, prefix="4478"))
            deadline = time.monotonic() + 10
            while not set(warm) <= set(graph.arrived) and time.monotonic() < deadline:
                time.sleep(0.05)
            sent = asyncio.run(_paced(port, connection_id, options.rate, options.duration))
            deadline = time.monotonic() + 10
            while not set(sent) <= set(graph.arrived) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop(server)
        latencies = [(graph.arrived[w] - t) * 1000 for w, t in sent.items() if w in graph.arrived]
        lost = len(sent) - len(latencies)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        print(
            f"[{options.database}] webhook → reply at the provider: {len(latencies)} at {options.rate:g}/s, "
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies or [0]):.0f} ms, {lost} lost"
        )
    load_average = Path("/proc/loadavg").read_text().split()[:3]
    print(f"targets: ≥ {TARGET_RATE:.0f} accepted/s, p99 ≤ {TARGET_P99_MS:.0f} ms; loadavg {' '.join(load_average)}")
    return ok == options.requests and durable == options.requests and lost == 0


def main() -> int:
    options = parse_options()
    if options.database == "postgres" and not asyncio.run(pg_reachable(options.admin_url)):
        print(f"postgres: not reachable at {options.admin_url}", file=sys.stderr)
        return 1
    with fresh_database(options.database, options.admin_url, PG_DATABASE, MASTER_KEY) as settings:  # type: ignore[arg-type]
        return 0 if run(options, settings) else 1


if __name__ == "__main__":
    sys.exit(main())
