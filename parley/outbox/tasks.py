"""Reconciler `outbox.deliver`: purge what has been kept long enough, then send what is due (see the package
docstring for the design). Work runs per tenant, plus once for the platform's own emails, each in transactions
that set the tenant, as PostgreSQL's row-level security demands."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.models import Organization
from parley.outbox import repository as repo
from parley.outbox.smtp import Email, SendFailed, send
from parley.runtime import Runtime
from parley.settings import Settings

log = logging.getLogger("parley.outbox")

BATCH = 10
BATCHES_PER_RUN = 20  # per tenant and round, so one busy tenant does not hold up the others for long
LEASE = timedelta(minutes=5)
# A send is not started when less than this remains of the lease: it must settle before another worker may claim.
NOT_SENT_WITHIN = timedelta(seconds=90)
NO_SMTP = "waiting: no SMTP server is configured (set PARLEY_SMTP_HOST); the email is sent once one is"


async def deliver_outbox(runtime: Runtime) -> dict[str, int]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids: list[str | None] = [None, *await db.scalars(select(Organization.id))]
    counts = {"sent": 0, "retry": 0, "failed": 0, "purged": 0, "waiting": 0}
    for org_id in org_ids:
        await _reconcile(runtime, org_id, counts)
    if counts["waiting"]:
        log.warning("emails are waiting in the outbox: no SMTP server is configured", extra=counts)
    return counts


async def _reconcile(runtime: Runtime, org_id: str | None, counts: dict[str, int]) -> None:
    settings = runtime.settings
    now = runtime.clock.now()
    cutoff = now - timedelta(days=settings.outbox_retention_days)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await repo.enter(db, org_id)
        outlook = await repo.outlook(db, org_id, now=now, purge_before=cutoff, note=NO_SMTP)
    if outlook.purgeable:
        async with unit_of_work(runtime.sessionmaker) as db:
            await repo.enter(db, org_id)
            counts["purged"] += await repo.purge_settled(db, org_id, before=cutoff)
    if not settings.smtp_host:
        counts["waiting"] += outlook.pending
        if outlook.unnoted:
            async with unit_of_work(runtime.sessionmaker) as db:
                await repo.enter(db, org_id)
                await repo.note_waiting(db, org_id, NO_SMTP)
        return
    if not outlook.due:
        return
    for _ in range(BATCHES_PER_RUN):
        if not await _deliver_batch(runtime, org_id, counts):
            return


async def _deliver_batch(runtime: Runtime, org_id: str | None, counts: dict[str, int]) -> bool:
    """Claim, send and settle one batch; False when nothing was due."""
    token = new_id("clm")
    now = runtime.clock.now()
    lease_until = now + LEASE
    async with unit_of_work(runtime.sessionmaker) as db:
        await repo.enter(db, org_id)
        claimed = await repo.claim_due(db, org_id, now=now, lease_until=lease_until, token=token, limit=BATCH)
        batch = [(Email(m.id, m.to_address, m.subject, m.body_text), m.attempts) for m in claimed]
    for email, attempts in batch:
        if runtime.clock.now() > lease_until - NOT_SENT_WITHIN:
            break  # the rest of the lease runs out; the rows are offered again then (nothing sent twice)
        outcome = await _send_one(runtime.settings, runtime.clock.now(), email, attempts)
        async with unit_of_work(runtime.sessionmaker) as db:
            await repo.enter(db, org_id)
            if await repo.settle(db, email.id, token, _settlement(runtime, outcome, attempts)):
                counts[outcome[0]] += 1
            else:  # deleted meanwhile (its organisation), or our lease ran out and another claim holds it
                log.warning("outbox row no longer held by this claim", extra={"outbox_id": email.id})
    return len(batch) == BATCH


_Outcome = tuple[str, str | None]  # ("sent" | "retry" | "failed", reason)


async def _send_one(settings: Settings, now: datetime, email: Email, attempts: int) -> _Outcome:
    try:
        await send(email, settings, now)
    except SendFailed as exc:
        final = exc.permanent or attempts >= settings.outbox_max_attempts
        log.warning(
            "email not sent",
            extra={"outbox_id": email.id, "attempt": attempts, "final": final, "reason": exc.reason},
        )
        return ("failed" if final else "retry"), exc.reason
    return "sent", None


def _settlement(runtime: Runtime, outcome: _Outcome, attempts: int) -> dict[str, object]:
    kind, reason = outcome
    now = runtime.clock.now()
    if kind == "sent":
        return {"status": "sent", "settled_at": now, "last_error": None}
    if kind == "failed":
        return {"status": "failed", "settled_at": now, "last_error": reason}
    return {"last_error": reason, "next_attempt_at": now + backoff(runtime.settings, attempts)}


def backoff(settings: Settings, attempts: int) -> timedelta:
    """Wait before the next try after `attempts` tries: base, twice that, four times, and so on, capped."""
    seconds = settings.outbox_backoff_base_seconds * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.outbox_backoff_max_seconds))
