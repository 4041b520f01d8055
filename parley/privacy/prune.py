"""Audit retention: remove audit rows older than the retention period, keeping every chain verifiable.

Pruning is the operator's job (`parley audit prune`), done as the schema owner: the app role may never delete
audit rows, and nothing here relaxes that. Per chain, in one transaction holding the chain's lock, the oldest
rows are removed up to the last one older than the cut-off (a prefix by `seq`, so the rest still links up; the
newest row always stays, so numbering carries on). The append-only trigger (and, on PostgreSQL, forced
row-level security, which would hide platform rows from a DELETE) is lifted for that transaction only, under
the table lock the change takes. The pruning then appends an `audit.pruned` event naming the last removed link
(`through_seq`, `through_hash`): verification starts at the oldest remaining row and demands that event, so
rows removed from the start any other way are reported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.clock import Clock
from parley.kit.context import Actor
from parley.kit.db import create_engine, make_sessionmaker, set_pg_setting, unit_of_work
from parley.kit.keys import PSEUDONYM_KEY_INFO
from parley.models import AuditEvent, Organization
from parley.privacy import audit
from parley.privacy.chain import chain_of, lock_key
from parley.privacy.verify import PRUNED_ACTION
from parley.settings import Settings

SQLITE_TRIGGERS = {
    "audit_events_no_update": "BEFORE UPDATE ON audit_events",
    "audit_events_no_delete": "BEFORE DELETE ON audit_events",
}


async def prune_audit(settings: Settings, clock: Clock, pseudonym_key: bytes, *, before: datetime) -> dict[str, int]:
    """Rows removed per chain (chains with nothing to remove are left out)."""
    engine = create_engine(settings.effective_owner_url, pool_size=1)
    sessionmaker = make_sessionmaker(engine, info={PSEUDONYM_KEY_INFO: pseudonym_key})
    removed: dict[str, int] = {}
    try:
        async with unit_of_work(sessionmaker, write=False) as db:
            org_ids: list[str | None] = [None, *await db.scalars(select(Organization.id))]
        for org_id in org_ids:
            async with unit_of_work(sessionmaker) as db:
                await set_pg_setting(db, *(("app.org_id", org_id) if org_id else ("app.platform", "on")))
                count = await _prune_chain(db, clock, org_id, before)
            if count:
                removed[chain_of(org_id)] = count
    finally:
        await engine.dispose()
    return removed


async def _prune_chain(db: AsyncSession, clock: Clock, org_id: str | None, before: datetime) -> int:
    chain_id = chain_of(org_id)
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(chain_id)})
    in_chain = AuditEvent.chain_id == chain_id
    first_kept = await db.scalar(select(func.min(AuditEvent.seq)).where(in_chain, AuditEvent.occurred_at >= before))
    oldest, newest = (
        await db.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq)).where(in_chain))
    ).one()
    if newest is None:
        return 0
    through = min(first_kept - 1 if first_kept is not None else newest, newest - 1)
    if through < oldest:
        return 0
    through_hash = await db.scalar(select(AuditEvent.hash).where(in_chain, AuditEvent.seq == through))
    await _append_only(db, postgres, lifted=True)
    result = await db.execute(delete(AuditEvent).where(in_chain, AuditEvent.seq <= through))
    await _append_only(db, postgres, lifted=False)
    await audit.record(
        db,
        clock,
        actor=Actor.system(),
        action=PRUNED_ACTION,
        org_id=org_id,
        details={"through_seq": through, "through_hash": through_hash, "before": before.isoformat()},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def _append_only(db: AsyncSession, postgres: bool, *, lifted: bool) -> None:
    """Lift (or restore) the append-only guard inside this transaction; nobody else ever sees it lifted."""
    if postgres:
        if lifted:
            await db.execute(text("ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY"))
            await db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            await db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
            await db.execute(text("ALTER TABLE audit_events FORCE ROW LEVEL SECURITY"))
        return
    for name, when in SQLITE_TRIGGERS.items():
        if lifted:
            await db.execute(text(f"DROP TRIGGER {name}"))
        else:
            await db.execute(
                text(f"CREATE TRIGGER {name} {when} BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
            )


async def anonymise_audit_ips(settings: Settings, *, before: datetime) -> int:
    """Audit rows older than `before` keep only the network part of their IP address (/24, /48). The raw address
    is outside the hash chain (its HMAC is chained), so this leaves every chain valid. Like pruning, it needs the
    schema owner: the app role may never change an audit row."""
    from parley.privacy.retention import anonymise_ip, is_anonymised, still_identifying

    engine = create_engine(settings.effective_owner_url, pool_size=1)
    sessionmaker = make_sessionmaker(engine)
    changed = 0
    try:
        async with unit_of_work(sessionmaker) as db:
            postgres = db.get_bind().dialect.name == "postgresql"
            rows = [
                (event_id, ip)
                for event_id, ip in await db.execute(
                    select(AuditEvent.id, AuditEvent.ip).where(
                        AuditEvent.occurred_at < before, still_identifying(AuditEvent.ip)
                    )
                )
                if ip and not is_anonymised(ip)
            ]
            if rows:
                await _append_only(db, postgres, lifted=True)
                for event_id, ip in rows:
                    await db.execute(update(AuditEvent).where(AuditEvent.id == event_id).values(ip=anonymise_ip(ip)))
                await _append_only(db, postgres, lifted=False)
                changed = len(rows)
    finally:
        await engine.dispose()
    return changed
