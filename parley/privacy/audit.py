"""The audit log: `record_*` adds a row in the caller's transaction, so an action and its audit row commit or
roll back together. Reads go through `list_events`, scoped to one organisation."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.clock import Clock
from parley.kit.context import Actor
from parley.kit.db import set_pg_setting
from parley.kit.ids import new_id
from parley.models import AuditEvent
from parley.tenancy.scope import OrgScope


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
    event = AuditEvent(
        id=new_id("aud"),
        org_id=org_id,
        occurred_at=clock.now(),
        actor_type=actor.type,
        actor_id=actor.id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        request_id=actor.request.request_id,
        ip=actor.request.ip,
        # Dates, enums and the like become their JSON form, so any detail a caller passes can be stored.
        details=to_jsonable_python(details or {}),
    )
    session.add(event)
    await session.flush()
    return event


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
