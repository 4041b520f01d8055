"""Live fan-out benchmark: publish → deliver latency between two processes, per backend.

Method
------
1. For each backend (`inprocess`, `redis`, `postgres`): a subscriber process (this script with `--role
   subscriber`) builds the hub as `parley serve` would (same sealing of events under a key derived from the
   master key), subscribes to `--conversations` keys (one per open conversation, as widget sockets do) and
   says it is ready.
2. This process builds its own hub and publishes `--rate` events per second for `--duration` seconds, each to
   a random one of those keys: a staff message event of ~300 characters carrying its send time.
3. The subscriber takes each event off its queue and records now - send time (both processes read the same
   system clock), then prints its latencies when told to stop.
4. `inprocess` cannot cross processes (that is why the others exist): its figure is publisher and subscriber in
   one process, the floor the others are compared to.

Prints p50/p99/max per backend, delivered/published, and the ratio to the in-process p50/p99, with the load
average (the machine is shared). Targets: every event delivered, p99 ≤ 50 ms at 200 events/s.

Run: `.venv/bin/python bench/live.py [--conversations 200] [--rate 200] [--duration 10]
[--backends inprocess,redis,postgres] [--redis-url redis://127.0.0.1:6379/0]
[--postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from parley.conversations.live import InProcessHub, LiveHub
from parley.conversations.live_postgres import PostgresHub
from parley.conversations.live_redis import RedisHub
from parley.conversations.live_wire import Sealer
from parley.kit.keys import MasterKeys

MASTER = MasterKeys(current=b"b" * 32)
TEXT = "Hi, this is Sam from the bistro. " * 9  # ~300 characters, a typical staff message
P99_TARGET_MS = 50.0


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--backends", default="inprocess,redis,postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--role", choices=["publisher", "subscriber"], default="publisher")
    parser.add_argument("--backend", default="redis")
    parser.add_argument("--prefix", default="")
    parsed = parser.parse_args()
    parsed.conversations = max(1, min(parsed.conversations, 5_000))
    parsed.duration = max(1.0, min(parsed.duration, 60.0))  # bounded: the machine is shared
    parsed.rate = max(1.0, min(parsed.rate, 5_000.0))
    return parsed


def make_hub(opts: argparse.Namespace, backend: str, prefix: str) -> LiveHub:
    if backend == "redis":
        return RedisHub(opts.redis_url, Sealer(MASTER), prefix, client_name="parley-bench")
    if backend == "postgres":
        return PostgresHub(opts.postgres_url, Sealer(MASTER), prefix, application_name="parley-bench")
    return InProcessHub()


def keys(count: int) -> list[str]:
    return [f"cnv_bench{n:05d}" for n in range(count)]


async def consume(queue: asyncio.Queue[dict[str, Any]], latencies: list[float], stop: asyncio.Event) -> None:
    while True:
        event = await queue.get()
        if event.get("type") == "stop":
            stop.set()
        elif event.get("type") == "message":
            latencies.append((time.time() - event["sent_at"]) * 1000)


async def subscribe_all(hub: LiveHub, stack: AsyncExitStack, opts: argparse.Namespace) -> tuple[list[float], Any]:
    latencies: list[float] = []
    stop = asyncio.Event()
    for key in [*keys(opts.conversations), "bench-control"]:
        queue = await stack.enter_async_context(hub.subscribe(key))
        task = asyncio.create_task(consume(queue, latencies, stop))
        stack.callback(task.cancel)
    return latencies, stop


async def publish_paced(hub: LiveHub, opts: argparse.Namespace) -> int:
    targets = keys(opts.conversations)
    interval = 1.0 / opts.rate
    count = int(opts.rate * opts.duration)
    started = time.perf_counter()
    for n in range(count):
        delay = started + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        event = {"type": "message", "message": {"role": "staff", "text": TEXT}, "sent_at": time.time()}
        await hub.publish(random.choice(targets), event, org_id="org_bench")
    return count


async def subscriber(opts: argparse.Namespace) -> None:
    hub = make_hub(opts, opts.backend, opts.prefix)
    await hub.start()
    async with AsyncExitStack() as stack:
        latencies, stop = await subscribe_all(hub, stack, opts)
        print(json.dumps({"ready": hub.status}), flush=True)
        await asyncio.wait_for(stop.wait(), opts.duration + 60)
        await asyncio.sleep(0.2)
    await hub.close()
    print(json.dumps({"latencies": latencies}), flush=True)


async def run_backend(opts: argparse.Namespace, backend: str) -> tuple[int, list[float]]:
    prefix = f"parley-bench:{uuid.uuid4().hex[:8]}:"
    hub = make_hub(opts, backend, prefix)
    await hub.start()
    if hub.status != "ok":
        raise RuntimeError(f"{backend}: {hub.status}")
    try:
        if backend == "inprocess":
            async with AsyncExitStack() as stack:
                latencies, stop = await subscribe_all(hub, stack, opts)
                sent = await publish_paced(hub, opts)
                await hub.publish("bench-control", {"type": "stop"}, org_id="org_bench")
                await asyncio.wait_for(stop.wait(), 30)
            return sent, latencies
        command = [sys.executable, __file__, "--role", "subscriber", "--backend", backend, "--prefix", prefix]
        command += ["--conversations", str(opts.conversations), "--duration", str(opts.duration)]
        command += ["--redis-url", opts.redis_url, "--postgres-url", opts.postgres_url]
        child = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
        assert child.stdout is not None
        try:
            ready = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
            if ready.get("ready") != "ok":
                raise RuntimeError(f"{backend} subscriber: {ready}")
            sent = await publish_paced(hub, opts)
            await asyncio.sleep(0.5)  # the last events in flight
            await hub.publish("bench-control", {"type": "stop"}, org_id="org_bench")
            result = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
            await child.wait()
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
        return sent, result["latencies"]
    finally:
        await hub.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def publisher(opts: argparse.Namespace) -> int:
    print(
        f"live bench: {opts.conversations} subscribed conversations, {opts.rate:.0f} events/s for "
        f"{opts.duration:.0f} s, sealed events of ~{len(TEXT)} characters, subscriber in another process"
    )
    figures: dict[str, tuple[float, float]] = {}
    ok = True
    for backend in opts.backends.split(","):
        sent, latencies = await run_backend(opts, backend)
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        figures[backend] = (p50, p99)
        base = figures.get("inprocess")
        ratio = f"  ({p50 / base[0]:.1f}x / {p99 / base[1]:.1f}x in-process)" if base and backend != "inprocess" else ""
        where = "one process (floor)" if backend == "inprocess" else "two processes"
        passed = len(latencies) == sent and p99 <= P99_TARGET_MS
        ok = ok and passed
        print(
            f"  {backend:<10} {where:<20} delivered {len(latencies)}/{sent}  p50 {p50:.2f} ms  p99 {p99:.2f} ms  "
            f"max {max(latencies, default=float('nan')):.2f} ms{ratio}  {'OK' if passed else 'MISS'}"
        )
    print("  loadavg: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0 if ok else 1


def main() -> int:
    opts = options()
    if opts.role == "subscriber":
        asyncio.run(subscriber(opts))
        return 0
    return asyncio.run(publisher(opts))


if __name__ == "__main__":
    sys.exit(main())
