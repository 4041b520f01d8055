"""Background work as reconcilers: each looks at rows, does what they call for, and can run again safely.

A reconciler is an async function of the runtime that returns counts of what it did. The scheduler runs every
registered reconciler each interval, in `parley worker` (scaled) or inside `parley serve` (embedded). A
failing reconciler is logged and retried next round; it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from parley.runtime import Runtime

log = logging.getLogger("parley.worker")

ReconcileFn = Callable[[Runtime], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class Reconciler:
    name: str
    run: ReconcileFn


def registered() -> list[Reconciler]:
    # Imported here so that the kit does not depend on domains at import time.
    from parley.auth.tasks import purge_expired_credentials
    from parley.channels.email.polling import poll_mailboxes  # email channel
    from parley.channels.messaging.tasks import deliver_channels, process_inbound  # messaging channels
    from parley.consent.subprocessors import reconcile_subprocessors
    from parley.conversations.tasks import answer_unhandled
    from parley.knowledge.tasks import ingest_pending
    from parley.knowledge.vectors import embed_missing  # search: dense embeddings
    from parley.outbox.tasks import deliver_outbox
    from parley.privacy.tasks import delete_due_accounts, enforce_retention
    from parley.rights.tasks import delete_expired_exports, flag_deadlines  # data-subject requests

    return [
        Reconciler("auth.purge_expired_credentials", purge_expired_credentials),
        Reconciler("knowledge.ingest_pending", ingest_pending),
        Reconciler("knowledge.embed_missing", embed_missing),  # search: dense embeddings
        Reconciler("conversations.answer_unhandled", answer_unhandled),
        Reconciler("privacy.enforce_retention", enforce_retention),
        Reconciler("privacy.delete_due_accounts", delete_due_accounts),
        Reconciler("rights.flag_deadlines", flag_deadlines),
        Reconciler("rights.delete_expired_exports", delete_expired_exports),
        Reconciler("consent.subprocessor_changes", reconcile_subprocessors),  # before delivery: same round
        Reconciler("outbox.deliver", deliver_outbox),
        Reconciler("email.poll_mailboxes", poll_mailboxes),  # email channel
        Reconciler("channels.process_inbound", process_inbound),  # messaging channels
        Reconciler("channels.deliver", deliver_channels),  # messaging channels
    ]


async def run_once(runtime: Runtime, reconcilers: list[Reconciler] | None = None) -> dict[str, dict[str, int]]:
    results: dict[str, dict[str, int]] = {}
    for reconciler in reconcilers or registered():
        try:
            results[reconciler.name] = await reconciler.run(runtime)
        except Exception:  # one broken reconciler must not stop the others
            log.exception("reconciler failed", extra={"reconciler": reconciler.name})
            continue
        if any(results[reconciler.name].values()):
            log.info("reconciled", extra={"reconciler": reconciler.name, **results[reconciler.name]})
    return results


async def run_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    interval = runtime.settings.reconcile_interval_seconds
    while not stop.is_set():
        await run_once(runtime)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
