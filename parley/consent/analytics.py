"""Widget analytics, counted only for visitors whose current analytics choice is a grant: daily totals per agent
and metric, no identifier, added to with an atomic upsert (concurrent turns never lose a count)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent.service import allows
from parley.kit.ids import new_id
from parley.models import WidgetAnalyticsDaily
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

METRICS = ("messages", "conversations")


async def count_if_consented(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, agent_id: str, contact_id: str, metric: str
) -> bool:
    """Adds one to today's `metric` when the contact allows analytics. Returns whether it counted."""
    if not await allows(db, scope, contact_id, "analytics"):
        return False
    values = {
        "id": new_id("wan"),
        "org_id": scope.org_id,
        "agent_id": agent_id,
        "day": runtime.clock.now().date(),
        "metric": metric,
        "count": 1,
    }
    insert = (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(WidgetAnalyticsDaily)
    await db.execute(
        insert.values(**values).on_conflict_do_update(
            index_elements=["org_id", "agent_id", "day", "metric"],
            set_={"count": WidgetAnalyticsDaily.count + 1},
        )
    )
    return True


async def daily(db: AsyncSession, scope: OrgScope, agent_id: str) -> list[tuple[date, str, int]]:
    rows = await db.execute(
        select(WidgetAnalyticsDaily.day, WidgetAnalyticsDaily.metric, WidgetAnalyticsDaily.count)
        .where(WidgetAnalyticsDaily.org_id == scope.org_id, WidgetAnalyticsDaily.agent_id == agent_id)
        .order_by(WidgetAnalyticsDaily.day, WidgetAnalyticsDaily.metric)
    )
    return [(d, m, int(c)) for d, m, c in rows]
