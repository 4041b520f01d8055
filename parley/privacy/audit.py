"""The audit log: `record_*` adds a row in the caller's transaction, so an action and its audit row commit or
roll back together. Reads go through `list_events`, scoped to one organisation.

Each row is appended to its chain (`privacy.chain`) under a per-chain lock, so concurrent writers build one
valid chain: on PostgreSQL a transaction-level advisory lock on the chain; on SQLite the database's single
write lock, which is why recording needs a write transaction (`unit_of_work(write=True)`, or the
`audited_read` route dependency for a GET). A read transaction that starts writing later cannot be trusted
there: its snapshot may predate another writer's commit, and the upgrade to a writer then fails
(SQLITE_BUSY). Recording in one is refused outright, so the mistake shows in every test run, not only under
load.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.clock import Clock
from parley.kit.context import Actor
from parley.kit.db import in_write_transaction, platform_rows_visible, set_pg_setting
from parley.kit.ids import new_id
from parley.kit.keys import PSEUDONYM_KEY_INFO
from parley.models import AuditEvent
from parley.privacy.chain import GENESIS, PLATFORM_CHAIN, chain_of, ip_pseudonym, link_hash, lock_key, normalised_json
from parley.tenancy.scope import OrgScope


class AuditOutsideWriteTransaction(RuntimeError):
    pass


async def record(
    session: AsyncSession,
    clock: Clock,
    *,
    actor: Actor,
    action: str,
    org_id: str | None,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the organisation's chain (the platform's when `org_id` is None). `details` carry ids
    and settings, never personal data: they are part of the chain and can never be erased."""
    connection = await session.connection()
    if not in_write_transaction(connection):
        raise AuditOutsideWriteTransaction(
            f"audit event {action!r} recorded in a read transaction; open it with unit_of_work(write=True), "
            "or give the route `dependencies=[Depends(audited_read)]`"
        )
    ip = actor.request.ip
    event = AuditEvent(
        id=new_id("aud"),
        org_id=org_id,
        chain_id=chain_of(org_id),
        occurred_at=clock.now(),
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        request_id=actor.request.request_id,
        ip=ip,
        ip_hmac=ip_pseudonym(_pseudonym_key(session), ip) if ip else None,
        # Dates, enums and the like become their JSON form, so any detail a caller passes can be stored, and
        # the hash covers exactly what reads back.
        details=normalised_json(to_jsonable_python(details or {})),
    )
    seq, prev_hash = await _lock_chain_head(session, event.chain_id)
    event.seq, event.prev_hash = seq + 1, prev_hash
    event.hash = link_hash(prev_hash, event)
    session.add(event)
    await session.flush()
    return event


def _pseudonym_key(session: AsyncSession) -> bytes:
    key = session.info.get(PSEUDONYM_KEY_INFO)
    if not isinstance(key, bytes):
        raise RuntimeError("this session has no pseudonym key; open it from runtime.sessionmaker")
    return key


async def _lock_chain_head(session: AsyncSession, chain_id: str) -> tuple[int, str]:
    """The chain's last (seq, hash), held until the transaction ends so that nobody appends in between."""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(chain_id)})
    query = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.chain_id == chain_id)
    query = query.order_by(AuditEvent.seq.desc()).limit(1)
    if chain_id == PLATFORM_CHAIN:
        async with platform_rows_visible(session):
            head = (await session.execute(query)).first()
    else:
        head = (await session.execute(query)).first()
    return (head.seq, head.hash) if head else (0, GENESIS)


async def record_in_scope(
    session: AsyncSession,
    clock: Clock,
    scope: OrgScope,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return await record(
        session,
        clock,
        actor=scope.actor,
        action=action,
        org_id=scope.org_id,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )


async def list_events(
    session: AsyncSession,
    scope: OrgScope,
    *,
    limit: int,
    before: str | None = None,
    action: str | None = None,
) -> list[AuditEvent]:
    """Newest first. Ids are time-ordered, so `before=<id>` pages backwards in time."""
    query = select(AuditEvent).where(AuditEvent.org_id == scope.org_id)
    if before:
        query = query.where(AuditEvent.id < before)
    if action:
        query = query.where(AuditEvent.action == action)
    result = await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))
    return list(result)


async def list_platform_events(session: AsyncSession, *, limit: int, before: str | None = None) -> list[AuditEvent]:
    """Events outside any organisation (sign-ins, accounts), for the platform super-admin only."""
    await set_pg_setting(session, "app.platform", "on")
    query = select(AuditEvent).where(AuditEvent.org_id.is_(None))
    if before:
        query = query.where(AuditEvent.id < before)
    return list(await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
