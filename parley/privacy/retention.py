"""Retention that deletes on time: the periods, and the sweeps that enforce them.

| what                                   | kept                                                              |
|----------------------------------------|-------------------------------------------------------------------|
| conversations, messages                | the organisation's period after the last message (default 12     |
|                                        | months, shorter if the business chooses; an agent may be shorter) |
| contacts (people)                      | until their last conversation is gone; then erased, key destroyed |
| IP addresses (staff sessions, widget   | 30 days, then truncated to /24 (IPv4) or /48 (IPv6)               |
| visitors)                              |                                                                   |
| usage aggregates (no personal data)    | 24 months                                                         |

Sweeps work organisation by organisation (the tenant set for PostgreSQL's row-level security), in batches that
each commit on their own, so a crash loses at most the batch in flight and the next run carries on. They are
idempotent and safe with several workers: on PostgreSQL a batch is claimed with `FOR UPDATE SKIP LOCKED`, and
deleting what another worker already deleted deletes nothing. Every run that removed something writes one audit
row per organisation saying what. `dry_run` counts what would go and changes nothing.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from parley.consent.proof import pseudonymise_contacts as pseudonymise_consent_proof
from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.models import Agent, Contact, Conversation, Message, Organization, UsageDaily, UserSession
from parley.privacy import audit
from parley.runtime import Runtime

log = logging.getLogger(__name__)

IP_KEPT = timedelta(days=30)
USAGE_KEPT = timedelta(days=730)
BATCH = 500  # people per batch
# Conversations per atomic batch: with their messages, about 25,000 rows in a typical batch; larger batches
# spend less per row on claiming and committing, smaller ones hold their locks for less time.
CONVERSATION_BATCH = 1_000
MAX_RETENTION_DAYS = 365  # the default is also the longest: a business may only choose shorter

RETENTION_CLASSES: dict[str, str] = {
    "conversation": "the organisation's conversation retention period after the last message "
    f"(default and maximum {MAX_RETENTION_DAYS} days; an agent may set a shorter one)",
    "account": "as long as the account exists; removed when it is deleted (30-day grace)",
    "session": "until the browser session expires or the person signs out",
    "security": "as long as the security control needs it (sign-in throttles: their window)",
    "audit": "the audit log's retention period",
    "billing": "7 years (legal obligation), pseudonymised",
    "operational": "not personal data",
    "outbox": "sent and failed e-mails: PARLEY_OUTBOX_RETENTION_DAYS (default 30) after they settle",
}


@dataclass
class SweepCounts:
    conversations: int = 0
    messages: int = 0
    contacts: int = 0
    ip_addresses: int = 0
    usage_rows: int = 0

    def add(self, other: SweepCounts) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))

    @property
    def anything(self) -> bool:
        return any(vars(self).values())


@dataclass
class SweepReport:
    dry_run: bool
    totals: SweepCounts = field(default_factory=SweepCounts)
    by_org: dict[str, SweepCounts] = field(default_factory=dict)


def anonymise_ip(value: str) -> str | None:
    """IPv4 to its /24, IPv6 to its /48; anything unparseable is removed."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def is_anonymised(value: str) -> bool:
    return anonymise_ip(value) == value


def still_identifying(column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
    """SQL for "holds an address not yet truncated": a /24 network address ends in `.0` and a /48 one in `::`,
    so rows already anonymised are not read again by every sweep."""
    return column.is_not(None) & column.not_like("%.0") & column.not_like("%::")


async def sweep(runtime: Runtime, *, dry_run: bool = False) -> SweepReport:
    """Every retention rule for every organisation (and the global tables)."""
    now = runtime.clock.now()
    report = SweepReport(dry_run=dry_run)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        orgs = list(
            await db.execute(
                select(Organization.id, Organization.conversation_retention_days).where(
                    Organization.deleted_at.is_(None)
                )
            )
        )
    for org_id, retention_days in orgs:
        counts = await _sweep_org(runtime, org_id, retention_days, now, dry_run=dry_run)
        if counts.anything:
            report.by_org[org_id] = counts
            report.totals.add(counts)
            if not dry_run:
                async with unit_of_work(runtime.sessionmaker) as db:
                    await set_pg_setting(db, "app.org_id", org_id)
                    await audit.record(
                        db,
                        runtime.clock,
                        actor=Actor.system(),
                        action="retention.swept",
                        org_id=org_id,
                        details=counts.as_dict(),
                    )
    report.totals.ip_addresses += await _anonymise_session_ips(runtime, now - IP_KEPT, dry_run=dry_run)
    report.totals.ip_addresses += await _anonymise_audit_ips(runtime, now - IP_KEPT, dry_run=dry_run)
    if report.totals.anything and not dry_run:
        await runtime.scrub_deleted()
    return report


async def _sweep_org(
    runtime: Runtime, org_id: str, retention_days: int, now: datetime, *, dry_run: bool
) -> SweepCounts:
    counts = SweepCounts()
    for cutoff, agent_ids in await _cutoffs(runtime, org_id, retention_days, now):
        found = _expired(org_id, cutoff, agent_ids)
        if dry_run:
            conversations, messages = await _count(runtime, org_id, found)
            counts.conversations += conversations
            counts.messages += messages
            continue
        while True:
            conversations, messages = await _delete_batch(runtime, org_id, found)
            counts.conversations += conversations
            counts.messages += messages
            if conversations < CONVERSATION_BATCH:
                break
    counts.ip_addresses += await _anonymise_visitor_ips(runtime, org_id, now - IP_KEPT, dry_run=dry_run)
    contact_cutoff = now - timedelta(days=retention_days)
    counts.contacts += await _erase_forgotten_contacts(runtime, org_id, contact_cutoff, dry_run=dry_run)
    counts.usage_rows += await _delete_old_usage(runtime, org_id, (now - USAGE_KEPT).date(), dry_run=dry_run)
    return counts


async def _cutoffs(
    runtime: Runtime, org_id: str, retention_days: int, now: datetime
) -> list[tuple[datetime, list[str] | None]]:
    """(cutoff, agent ids) per distinct effective period; `None` stands for "every other conversation" (the
    organisation's period, including conversations whose agent was deleted)."""
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        overrides = list(
            await db.execute(
                select(Agent.id, Agent.retention_days).where(
                    Agent.org_id == org_id,
                    Agent.retention_days.is_not(None),
                    Agent.retention_days < retention_days,
                )
            )
        )
    by_days: dict[int, list[str]] = {}
    for agent_id, days in overrides:
        by_days.setdefault(int(days or retention_days), []).append(agent_id)
    cutoffs: list[tuple[datetime, list[str] | None]] = [
        (now - timedelta(days=days), ids) for days, ids in sorted(by_days.items())
    ]
    cutoffs.append((now - timedelta(days=retention_days), None))
    return cutoffs


def _expired(org_id: str, cutoff: datetime, agent_ids: list[str] | None) -> Select[Any]:
    query = select(Conversation.id).where(Conversation.org_id == org_id, Conversation.last_message_at < cutoff)
    if agent_ids is not None:
        query = query.where(Conversation.agent_id.in_(agent_ids))
    return query


async def _count(runtime: Runtime, org_id: str, expired: Select[Any]) -> tuple[int, int]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        ids = expired.subquery()
        conversations = await db.scalar(select(func.count()).select_from(ids))
        messages = await db.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id.in_(select(ids.c.id)))
        )
    return int(conversations or 0), int(messages or 0)


async def _delete_batch(runtime: Runtime, org_id: str, expired: Select[Any]) -> tuple[int, int]:
    """One atomic batch: up to CONVERSATION_BATCH expired conversations and all their messages."""
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        claim = expired.order_by(Conversation.last_message_at).limit(CONVERSATION_BATCH)
        if _postgres(db):
            claim = claim.with_for_update(skip_locked=True)
        ids = list(await db.scalars(claim))
        if not ids:
            return 0, 0
        messages = await delete_messages(db, Message.conversation_id.in_(ids))
        await db.execute(delete(Conversation).where(Conversation.id.in_(ids)))
    return len(ids), messages


async def _erase_forgotten_contacts(runtime: Runtime, org_id: str, cutoff: datetime, *, dry_run: bool) -> int:
    """People with no conversation left, known for longer than the retention period: their key is destroyed
    first (so nothing sealed for them can be read again, backups included), then their rows go."""
    query = select(Contact.id).where(
        Contact.org_id == org_id,
        Contact.created_at < cutoff,
        ~exists().where(Conversation.contact_id == Contact.id),
    )
    erased = 0
    while True:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            ids = list(await db.scalars(query.limit(BATCH)))
        if dry_run or not ids:
            return len(ids) if dry_run else erased
        await runtime.keystore.destroy_subjects(org_id, ids)
        async with unit_of_work(runtime.sessionmaker) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            # Re-checked in the deleting transaction: a conversation may have started since the read.
            result = await db.execute(delete(Contact).where(Contact.id.in_(ids), query.whereclause))  # type: ignore[arg-type]
            erased += int(result.rowcount or 0)  # type: ignore[attr-defined]
            await pseudonymise_consent_proof(db, runtime, org_id, ids)  # consent branch: kept as pseudonymised proof
        if len(ids) < BATCH:
            return erased


async def _delete_old_usage(runtime: Runtime, org_id: str, before: Any, *, dry_run: bool) -> int:
    condition = (UsageDaily.org_id == org_id) & (UsageDaily.day < before)
    if dry_run:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            return int(await db.scalar(select(func.count()).select_from(UsageDaily).where(condition)) or 0)
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        return int((await db.execute(delete(UsageDaily).where(condition))).rowcount or 0)  # type: ignore[attr-defined]


async def _anonymise_visitor_ips(runtime: Runtime, org_id: str, cutoff: datetime, *, dry_run: bool) -> int:
    """Widget visitors' IP addresses, stored with their conversation, keep only the network part after 30 days."""
    async with unit_of_work(runtime.sessionmaker, write=not dry_run) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        rows = list(
            await db.execute(
                select(Conversation.id, Conversation.visitor_ip).where(
                    Conversation.org_id == org_id,
                    Conversation.created_at < cutoff,
                    still_identifying(Conversation.visitor_ip),
                )
            )
        )
        changed = [(cid, anonymise_ip(ip)) for cid, ip in rows if ip and not is_anonymised(ip)]
        if not dry_run:
            for conversation_id, truncated in changed:
                await db.execute(
                    update(Conversation).where(Conversation.id == conversation_id).values(visitor_ip=truncated)
                )
    return len(changed)


async def _anonymise_audit_ips(runtime: Runtime, cutoff: datetime, *, dry_run: bool) -> int:
    """Audit rows can only be changed by the schema owner. Embedded (SQLite) the process is the owner; a scaled
    worker is when it has PARLEY_DATABASE_OWNER_URL, and otherwise `parley audit prune` (as the owner) does it."""
    settings = runtime.settings
    if dry_run or not (settings.is_sqlite or settings.database_owner_url):
        return 0
    from parley.privacy.prune import anonymise_audit_ips

    try:
        return await anonymise_audit_ips(settings, before=cutoff)
    except Exception:  # a worker without owner rights: logged, and the next run (or audit prune) retries
        log.warning("could not anonymise audit IP addresses; run `parley audit prune` as the owner", exc_info=True)
        return 0


async def _anonymise_session_ips(runtime: Runtime, cutoff: datetime, *, dry_run: bool) -> int:
    """Staff browser sessions older than 30 days keep only the network part of their IP address."""
    async with unit_of_work(runtime.sessionmaker, write=dry_run is False) as db:
        rows = list(
            await db.execute(
                select(UserSession.id, UserSession.ip).where(
                    UserSession.created_at < cutoff, still_identifying(UserSession.ip)
                )
            )
        )
        changed = [(sid, anonymise_ip(ip)) for sid, ip in rows if ip and not is_anonymised(ip)]
        if not dry_run:
            for session_id, truncated in changed:
                await db.execute(update(UserSession).where(UserSession.id == session_id).values(ip=truncated))
    return len(changed)


async def delete_messages(db: AsyncSession, condition: ColumnElement[bool]) -> int:
    """Replies first, then what they answer: a reply is deleted with the message it answers (ON DELETE CASCADE),
    which would hide it from the row count if the two went in one statement."""
    replies = await db.execute(delete(Message).where(condition, Message.reply_to_id.is_not(None)))
    others = await db.execute(delete(Message).where(condition))
    return int(replies.rowcount or 0) + int(others.rowcount or 0)  # type: ignore[attr-defined]


def _postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"
