"""SQL for the outbox. `org_id=None` means the platform's own emails (a chain of work outside any tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import set_pg_setting
from parley.models import OutboxMessage
from parley.tenancy.scope import OrgScope


async def enter(db: AsyncSession, org_id: str | None) -> None:
    """Set the transaction's tenant (or the platform) for PostgreSQL's row-level security."""
    if org_id is None:
        await set_pg_setting(db, "app.platform", "on")
    else:
        await set_pg_setting(db, "app.org_id", org_id)


def _owned_by(org_id: str | None) -> ColumnElement[bool]:
    return OutboxMessage.org_id.is_(None) if org_id is None else OutboxMessage.org_id == org_id


def _due(org_id: str | None, now: datetime) -> list[ColumnElement[bool]]:
    return [
        _owned_by(org_id),
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
    ]


@dataclass(frozen=True)
class Outlook:
    """What a tenant's outbox needs, read first so that an idle outbox costs no write transaction."""

    pending: int
    unnoted: int  # pending rows that do not yet say why they wait
    due: bool
    purgeable: bool


async def outlook(db: AsyncSession, org_id: str | None, *, now: datetime, purge_before: datetime, note: str) -> Outlook:
    pending = [_owned_by(org_id), OutboxMessage.status == "pending"]
    count = select(func.count()).select_from(OutboxMessage)
    unnoted = or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != note)
    row = (
        await db.execute(
            select(
                count.where(*pending).scalar_subquery(),
                count.where(*pending, unnoted).scalar_subquery(),
                exists().where(*_due(org_id, now)),
                exists().where(*_settled_before(org_id, purge_before)),
            )
        )
    ).one()
    return Outlook(pending=int(row[0]), unnoted=int(row[1]), due=bool(row[2]), purgeable=bool(row[3]))


def _settled_before(org_id: str | None, before: datetime) -> list[ColumnElement[bool]]:
    return [_owned_by(org_id), OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.settled_at < before]


async def claim_due(
    db: AsyncSession, org_id: str | None, *, now: datetime, lease_until: datetime, token: str, limit: int
) -> list[OutboxMessage]:
    """Take a lease on up to `limit` due rows; each claim counts as an attempt (a row that crashes every worker
    that sends it still reaches its last attempt)."""
    query = (
        select(OutboxMessage)
        .where(*_due(org_id, now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(await db.scalars(query))
    for message in claimed:
        message.claimed_until, message.claim_token = lease_until, token
        message.attempts += 1
    await db.flush()
    return claimed


async def settle(db: AsyncSession, message_id: str, token: str, values: dict[str, Any]) -> bool:
    """Apply an outcome, if the claim that sent the row still holds it. False: the row is gone or re-claimed."""
    result = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(claimed_until=None, claim_token=None, **values)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def note_waiting(db: AsyncSession, org_id: str | None, note: str) -> None:
    """Say on each pending row why it is waiting."""
    await db.execute(
        update(OutboxMessage)
        .where(
            _owned_by(org_id),
            OutboxMessage.status == "pending",
            or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != note),
        )
        .values(last_error=note)
    )


async def purge_settled(db: AsyncSession, org_id: str | None, *, before: datetime) -> int:
    result = await db.execute(delete(OutboxMessage).where(*_settled_before(org_id, before)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def list_messages(
    db: AsyncSession, scope: OrgScope, *, limit: int, before: str | None = None, status: str | None = None
) -> list[OutboxMessage]:
    """Newest first; ids are time-ordered, so `before=<id>` pages backwards."""
    query = select(OutboxMessage).where(OutboxMessage.org_id == scope.org_id)
    if before:
        query = query.where(OutboxMessage.id < before)
    if status:
        query = query.where(OutboxMessage.status == status)
    return list(await db.scalars(query.order_by(OutboxMessage.id.desc()).limit(limit)))
