"""Email channel benchmark: inbound emails parsed and accepted per second, and the time from accepting an email
to its reply being accepted by an SMTP server.

Method
------
1. Setup, through Parley's own services: a fresh database (SQLite in a temporary directory; PostgreSQL in a
   database `parley_bench_email` dropped and created, migrated as the owner and used through a non-superuser role
   so that row-level security applies), one organisation, a knowledge base with one FAQ document (ingested), one
   agent on the offline provider, one email channel (`kind=email`) sending through an aiosmtpd server on
   127.0.0.1 (in its own thread) with no burst window (`channel_burst_seconds=0`).
2. `--emails` raw emails are generated as mail clients write them: half plain text with quoted history and a
   signature, half HTML-only with a Gmail quote, from 50 senders, each with its own Message-ID.
3. Timed, each after a warm-up:
   - baseline: `parse_email` alone (MIME decoding, HTML to text, quote stripping), no database;
   - poll-style accept: parse in a worker thread, then record batches of 50 in ONE transaction (what an IMAP
     poll round does: `polling._save`) — emails/s;
   - webhook-style accept: one email per transaction (what the Postmark / SendGrid endpoint does) — emails/s;
   - reply latency, `--replies` times, each from a new sender: accept the email (its transaction), take the
     turn (`turns.take_turn`: contact, conversation, thread state, offline engine, reply + outbound row), deliver
     (`outbound.deliver`: claim, build the threaded reply, SMTP to 127.0.0.1, settle) — until the SMTP server has
     the message. p50/p99 ms, against the baseline of handing one built email to the same SMTP server alone.
4. Print figures, ratios and the load average (2 cores are shared with other work: figures move with it).

Run: `.venv/bin/python bench/email_channel.py [--backend sqlite|postgres|both] [--emails 2000] [--replies 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from aiosmtpd.controller import Controller
from benchdb import fresh_database, pg_reachable

from parley.agents import service as agents_service
from parley.agents.schemas import AgentIn
from parley.channels.email.ingest import accept_emails
from parley.channels.email.mime import ParsedEmail, parse_email
from parley.channels.email.outbound import Reply, build_reply
from parley.channels.messaging import connections, outbound, turns
from parley.channels.messaging.schemas import ChannelIn
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.knowledge import service as knowledge_service
from parley.knowledge.schemas import KnowledgeBaseIn
from parley.knowledge.tasks import ingest_pending
from parley.outbox.smtp import SmtpServer, send_message
from parley.runtime import Runtime, create_runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

ACTOR = Actor.system()
FAQ = b"# Opening hours\nThe kitchen opens at noon and closes at 10 pm. On Mondays the restaurant is closed.\n"
QUESTION = "When does the kitchen open?"
BATCH = 50


class _Sink:
    def __init__(self) -> None:
        self.count = 0
        self.arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.arrived:
            self.count += 1
            self.arrived.notify_all()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def raw_email(index: int, sender: str, *, html: bool) -> bytes:
    message = EmailMessage()
    message["From"] = f"Guest {index} <{sender}>"
    message["To"] = "hello@bistro.test"
    message["Subject"] = f"Question {index}"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<bench-{index}-{os.urandom(4).hex()}@example.org>"
    if html:
        message.set_content(
            f"<html><head><style>p{{color:red}}</style></head><body><p>{QUESTION} <b>(#{index})</b></p>"
            "<script>x()</script><div class='gmail_quote'>On Mon, Bistro wrote:<blockquote>old</blockquote></div>"
            "</body></html>",
            subtype="html",
        )
    else:
        message.set_content(
            f"{QUESTION} (#{index})\n\nOn Mon, 7 Dec 2026, Bistro <hello@bistro.test> wrote:\n"
            "> old\n> text\n\n-- \nGuest"
        )
    return bytes(message)


async def setup(runtime: Runtime, smtp_port: int) -> tuple[OrgScope, Any]:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.create_organization(db, runtime, name="Email Bench Bistro", actor=ACTOR)
        kb = await knowledge_service.do_create_knowledge_base(db, runtime, scope, KnowledgeBaseIn(name="FAQ"))
        await knowledge_service.do_add_file(
            db, runtime, scope, kb.id, filename="faq.md", declared_type="text/markdown", data=FAQ, title="FAQ"
        )
    while sum((await ingest_pending(runtime)).values()):
        pass
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        agent = await agents_service.do_create_agent(
            db, runtime, scope, AgentIn(name="Bistro helper", knowledge_base_ids=[kb.id])
        )
        config = {
            "address": "hello@bistro.test",
            "inbound_domain": "in.bistro.test",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_security": "none",
        }
        created = await connections.do_create(
            db, runtime, scope, ChannelIn(kind="email", agent_id=agent.id, name="Mailbox", config=config)
        )
    live = await connections.live_connection(runtime, created.id)
    assert live is not None
    return scope, live


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run(settings: Settings, emails: int, replies: int) -> dict[str, float]:
    sink = _Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    runtime = create_runtime(settings)
    try:
        scope, connection = await setup(runtime, port)
        raws = [raw_email(i, f"guest{i % 50}@example.org", html=i % 2 == 1) for i in range(emails)]
        for raw in raws[:50]:
            parse_email(raw)  # warm-up

        started = time.perf_counter()
        parsed = [parse_email(raw) for raw in raws]
        parse_rate = emails / (time.perf_counter() - started)

        half = emails // 2
        started = time.perf_counter()
        for index in range(0, half, BATCH):
            batch = await anyio.to_thread.run_sync(lambda b=raws[index : index + BATCH]: [parse_email(r) for r in b])
            await accept_emails(runtime, connection, batch)
        poll_rate = half / (time.perf_counter() - started)

        started = time.perf_counter()
        for raw in raws[half:]:
            await accept_emails(runtime, connection, [parse_email(raw)])
        webhook_rate = (emails - half) / (time.perf_counter() - started)
        del parsed

        latencies = await _reply_latencies(runtime, scope, connection, sink, replies)
        baseline = await _smtp_alone(port, sink, replies)
    finally:
        await runtime.close()
        controller.stop()
    return {
        "parse_rate": parse_rate,
        "poll_rate": poll_rate,
        "webhook_rate": webhook_rate,
        "reply_p50": percentile(latencies, 0.5),
        "reply_p99": percentile(latencies, 0.99),
        "smtp_p50": percentile(baseline, 0.5),
        "smtp_p99": percentile(baseline, 0.99),
    }


async def _reply_latencies(
    runtime: Runtime, scope: OrgScope, connection: Any, sink: _Sink, replies: int
) -> list[float]:
    system_scope = await turns.scope_for(runtime, scope.org_id)
    latencies: list[float] = []
    for index in range(replies + 5):
        sender = f"new{index}@example.org"
        parsed: ParsedEmail = parse_email(raw_email(100_000 + index, sender, html=False))
        before = sink.count
        started = time.perf_counter()
        await accept_emails(runtime, connection, [parsed])
        await turns.take_turn(runtime, system_scope, connection.id, sender)
        await outbound.deliver(runtime, system_scope, {})
        await anyio.to_thread.run_sync(_wait_for, sink, before + 1)
        if index >= 5:  # the first few warm the engine's caches
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _wait_for(sink: _Sink, count: int) -> None:
    with sink.arrived:
        if not sink.arrived.wait_for(lambda: sink.count >= count, timeout=10):
            raise RuntimeError("the reply never reached the SMTP server")


async def _smtp_alone(port: int, sink: _Sink, times: int) -> list[float]:
    server = SmtpServer("127.0.0.1", port, None, None, tls=False, starttls=False, timeout=10)
    samples: list[float] = []
    for index in range(times):
        reply = Reply(f"cob_bench{index}", "hello@bistro.test", None, "guest@example.org", "Re: x", "Noon.", None)
        started = time.perf_counter()
        await send_message(build_reply(reply, datetime.now(UTC)), server)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(backend: str, figures: dict[str, float], emails: int, replies: int) -> None:
    print(f"\n== {backend}: {emails} inbound emails, {replies} replies ==")
    print(f"  baseline parse only            {figures['parse_rate']:>9.0f} emails/s")
    print(
        f"  poll-style accept (50/txn)     {figures['poll_rate']:>9.0f} emails/s"
        f"  ({figures['poll_rate'] / figures['parse_rate']:.2f}x of parse only)"
    )
    print(
        f"  webhook-style accept (1/txn)   {figures['webhook_rate']:>9.0f} emails/s"
        f"  ({figures['webhook_rate'] / figures['parse_rate']:.2f}x of parse only)"
    )
    print(f"  baseline SMTP send alone       p50 {figures['smtp_p50']:7.2f} ms   p99 {figures['smtp_p99']:7.2f} ms")
    print(
        f"  accept -> reply at SMTP server p50 {figures['reply_p50']:7.2f} ms   p99 {figures['reply_p99']:7.2f} ms"
        f"  ({figures['reply_p50'] / figures['smtp_p50']:.1f}x the bare send)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument(
        "--pg-admin-url", default=os.environ.get("PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432")
    )
    args = parser.parse_args()
    master_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    overrides = {"channel_burst_seconds": 0.0, "channel_dispatch_inline": False}
    for backend in backends:
        if backend == "postgres" and not asyncio.run(pg_reachable(args.pg_admin_url)):
            print(f"\n== postgres: not reachable at {args.pg_admin_url}, skipped ==")
            continue
        with fresh_database(backend, args.pg_admin_url, "parley_bench_email", master_key, **overrides) as settings:  # type: ignore[arg-type]
            figures = asyncio.run(run(settings, args.emails, args.replies))
        report(backend, figures, args.emails, args.replies)
    print(f"\nloadavg: {Path('/proc/loadavg').read_text().strip()}  (2 cores shared with other work)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
