"""Widget benchmark: many concurrent WebSocket visitors on one `parley serve` (embedded mode, SQLite, offline
provider).

Method
------
1. Seed a temporary data directory in this process: migrate, the demo organisation with its agent and FAQ
   (ingested), and the agent's widget turned on for one origin. The rate limits are raised for the run (they
   would otherwise, rightly, stop a thousand visitors arriving from one address).
2. Start `parley serve --no-migrate` (one process, log level WARNING, no embedded worker) on 127.0.0.1 and
   wait for `/healthz`.
3. From a second process: create `--visitors` visitor ids (POST /visitors), warm the server up with a few
   turns on one socket, then report; this process reads the server's resident memory (baseline).
4. Open one WebSocket per visitor (Origin set, `hello` answered with `ready`), hold them idle for two
   seconds, report; this process reads the server's memory again: (RSS after - baseline) / connections.
5. Paced phase: `--rate` messages per second for `--duration` seconds, each from a visitor with nothing in
   flight; latency is from sending the message to the `done` event (the reply fully streamed and stored).
6. Saturation phase: `--inflight` messages always in flight for `--duration` seconds: the messages/s ceiling.
7. Check that every connection is still open, print figures and verdicts against the targets (1,000
   connections held, p99 ≤ 250 ms at 100 messages/s, ≤ 50 KB per idle connection). Exit status 1 on a miss
   or on errors.

Run: `.venv/bin/python bench/widget.py [--visitors 1000] [--rate 100] [--duration 10] [--inflight 16]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
ORIGIN = "https://bench.example"
QUESTION = "When is lunch served?"
TARGET_CONNECTIONS = 1_000
TARGET_P99_MS = 250.0
TARGET_KB_PER_CONNECTION = 50.0
OPEN_CONCURRENCY = 50


@dataclass(frozen=True)
class Options:
    visitors: int
    rate: float
    duration: float
    inflight: int


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--visitors", type=int, default=1_000, help="concurrent WebSocket visitors (default 1000)")
    parser.add_argument("--rate", type=float, default=100.0, help="paced messages per second (default 100)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--inflight", type=int, default=16, help="messages in flight when saturating (default 16)")
    args = parser.parse_args()
    if not 1 <= args.visitors <= 5_000 or args.rate <= 0 or args.duration <= 0 or args.inflight < 1:
        parser.error("--visitors 1..5000, --rate and --duration > 0, --inflight >= 1")
    return Options(args.visitors, args.rate, args.duration, args.inflight)


def raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# --- seed and serve --------------------------------------------------------------------------------------------


def seed(env: dict[str, str]) -> str:
    """Migrates, creates the demo organisation and agent, and turns the agent's widget on; returns the agent id."""
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

    async def run() -> str:
        runtime = create_runtime(settings)
        try:
            login = await ensure_demo(runtime)
            async with unit_of_work(runtime.sessionmaker) as db:
                scope = await platform.system_scope(db, login.org_id, Actor.system())
                body = WidgetSettingsIn.model_validate({"allowed_origins": [ORIGIN]})
                await widget.do_update_widget(db, runtime, scope, login.agent_id, body)
            return login.agent_id
        finally:
            await runtime.close()

    return asyncio.run(run())


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


# --- the visitors (second process) -----------------------------------------------------------------------------


class Visitor:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.pending: asyncio.Future[float] | None = None
        self.reader = asyncio.create_task(self.read())
        self.errors = 0

    async def read(self) -> None:
        async for raw in self.ws:
            event = json.loads(raw)
            if event["type"] == "done" and self.pending and not self.pending.done():
                self.pending.set_result(time.perf_counter())
            elif event["type"] == "error":
                self.errors += 1
                if self.pending and not self.pending.done():
                    self.pending.set_exception(RuntimeError(event.get("error")))

    async def ask(self) -> float:
        self.pending = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self.ws.send(json.dumps({"type": "message", "text": QUESTION}))
        finished = await asyncio.wait_for(self.pending, 30)
        self.pending = None
        return (finished - started) * 1000


async def _visitors(base: str, agent_id: str, count: int) -> list[str]:
    import httpx

    async with httpx.AsyncClient(base_url=base, headers={"origin": ORIGIN}, timeout=30) as client:
        credentials = []
        for _ in range(count):
            body = (await client.post(f"/widget/v1/agents/{agent_id}/visitors")).raise_for_status().json()
            credentials.append(f"{body['visitor_id']}:{body['visitor_secret']}")
        return credentials


async def _connect(url: str, credentials: str) -> Visitor:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    ws = await connect(url, origin=Origin(ORIGIN), proxy=None, ping_interval=None, compression=None)
    await ws.send(json.dumps({"type": "hello", "visitor": credentials}))
    ready = json.loads(await ws.recv())
    if ready["type"] != "ready":
        raise RuntimeError(f"hello refused: {ready}")
    return Visitor(ws)


async def _paced(visitors: list[Visitor], rate: float, duration: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    tasks: set[asyncio.Task[None]] = set()

    async def one(visitor: Visitor) -> None:
        nonlocal failures
        try:
            latencies.append(await visitor.ask())
        except Exception:
            failures += 1

    started = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - started) < duration:
        due = int(elapsed * rate) + 1
        while sent < due:
            idle = [v for v in random.sample(visitors, min(len(visitors), 20)) if v.pending is None]
            if idle:
                task = asyncio.create_task(one(idle[0]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                failures += 1
            sent += 1
        await asyncio.sleep(max(0.0, (sent / rate) - (time.perf_counter() - started)))
    await asyncio.gather(*tasks)
    return latencies, failures


async def _saturate(visitors: list[Visitor], inflight: int, duration: float) -> tuple[int, float, int]:
    done = 0
    failures = 0
    deadline = time.perf_counter() + duration
    queue = iter(visitors * 1000)

    async def lane() -> None:
        nonlocal done, failures
        while time.perf_counter() < deadline:
            try:
                await next(queue).ask()
                done += 1
            except Exception:
                failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(inflight)))
    return done, time.perf_counter() - started, failures


async def _load(base: str, agent_id: str, options: Options, pipe: Connection) -> dict[str, Any]:
    ws_url = base.replace("http", "ws", 1) + f"/widget/v1/agents/{agent_id}/ws"
    credentials = await _visitors(base, agent_id, options.visitors + 1)
    warm = await _connect(ws_url, credentials.pop())
    for _ in range(20):
        await warm.ask()
    await warm.ws.close()
    await asyncio.sleep(0.5)
    pipe.send("baseline")
    pipe.recv()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def open_one(c: str) -> Visitor:
        async with gate:
            return await _connect(ws_url, c)

    opened = time.perf_counter()
    visitors = list(await asyncio.gather(*(open_one(c) for c in credentials)))
    open_seconds = time.perf_counter() - opened
    await asyncio.sleep(2)
    pipe.send("held")
    pipe.recv()
    latencies, paced_failures = await _paced(visitors, options.rate, options.duration)
    saturated, seconds, saturated_failures = await _saturate(visitors, options.inflight, options.duration)
    still_open = sum(1 for v in visitors if v.ws.state.name == "OPEN")
    for visitor in visitors:
        await visitor.ws.close()
    return {
        "opened": len(visitors),
        "open_seconds": open_seconds,
        "still_open": still_open,
        "latencies": latencies,
        "paced_failures": paced_failures,
        "saturated": saturated,
        "saturated_seconds": seconds,
        "saturated_failures": saturated_failures,
        "errors": sum(v.errors for v in visitors),
    }


def load_process(base: str, agent_id: str, options: Options, pipe: Connection) -> None:
    raise_file_limit(options.visitors + 200)
    try:
        pipe.send(("result", asyncio.run(_load(base, agent_id, options, pipe))))
    except Exception as exc:
        pipe.send(("error", repr(exc)))


# --- report ----------------------------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(options: Options, result: dict[str, Any], baseline_kib: int, held_kib: int) -> bool:
    latencies = result["latencies"]
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    per_connection_kb = (held_kib - baseline_kib) * 1.024 / max(1, result["opened"])
    paced_rate = len(latencies) / options.duration
    ceiling = result["saturated"] / result["saturated_seconds"]
    checks = [
        ("connections held", f"{result['still_open']}/{options.visitors}", result["still_open"] >= TARGET_CONNECTIONS),
        ("reply latency p99 at paced rate", f"{p99:.1f} ms (p50 {p50:.1f} ms)", p99 <= TARGET_P99_MS),
        (
            "server memory per idle connection",
            f"{per_connection_kb:.1f} KB",
            per_connection_kb <= TARGET_KB_PER_CONNECTION,
        ),
    ]
    print(f"\nwidget bench: {options.visitors} WebSocket visitors, offline provider, SQLite, one server process")
    print(f"  opened {result['opened']} connections in {result['open_seconds']:.1f} s")
    print(f"  server RSS: {baseline_kib / 1024:.1f} MiB before, {held_kib / 1024:.1f} MiB with connections held")
    print(
        f"  paced: {paced_rate:.1f} messages/s answered (target {options.rate:g}/s), {result['paced_failures']} failed"
    )
    print(
        f"  saturated ({options.inflight} in flight): {ceiling:.1f} messages/s, {result['saturated_failures']} failed"
    )
    print(f"  error events received: {result['errors']}")
    ok = True
    for name, figure, passed in checks:
        print(f"  {name:<36} {figure:<28} {'OK' if passed else 'MISS'}")
        ok = ok and passed
    if paced_rate < options.rate * 0.95 or result["paced_failures"] or result["saturated_failures"] or result["errors"]:
        print("  the paced rate was not sustained or messages failed")
        ok = False
    return ok


def main() -> int:
    options = parse_options()
    raise_file_limit(options.visitors + 200)
    data_dir = Path(tempfile.mkdtemp(prefix="parley-widget-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(
        PARLEY_DATA_DIR=str(data_dir),
        PARLEY_HOST=HOST,
        PARLEY_PORT=str(port),
        PARLEY_PUBLIC_URL=f"http://{HOST}:{port}",
        PARLEY_LOG_LEVEL="WARNING",
        PARLEY_EMBEDDED_WORKER="false",
        PARLEY_MASTER_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        PARLEY_ARGON2_TIME_COST="1",
        PARLEY_ARGON2_MEMORY_KIB="1024",
        PARLEY_ARGON2_PARALLELISM="1",
        # One address, a thousand visitors: the limits are for the public internet, not for this bench.
        PARLEY_WIDGET_IP_BURST="1000000",
        PARLEY_WIDGET_IP_PER_MINUTE="1000000",
        PARLEY_WIDGET_VISITOR_BURST="1000",
        PARLEY_WIDGET_VISITOR_PER_MINUTE="100000",
    )
    server = None
    try:
        agent_id = seed(env)
        server = serve(env, port)
        parent, child = multiprocessing.Pipe()
        loader = multiprocessing.Process(target=load_process, args=(f"http://{HOST}:{port}", agent_id, options, child))
        loader.start()
        readings: dict[str, int] = {}
        while True:
            message = parent.recv()
            if isinstance(message, tuple):
                break
            readings[message] = rss_kib(server.pid)
            parent.send("ok")
        loader.join()
        kind, payload = message
        if kind == "error":
            print(f"load failed: {payload}")
            return 1
        return 0 if report(options, payload, readings["baseline"], readings["held"]) else 1
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
