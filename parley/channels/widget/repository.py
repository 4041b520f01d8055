"""SQL for the widget: its settings (found by agent id before the tenant is known)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import set_pg_setting
from parley.models import AgentWidget, Organization
from parley.tenancy.scope import OrgScope


async def widget_by_agent_id(db: AsyncSession, agent_id: str) -> AgentWidget | None:
    """The one cross-tenant read: a visitor's browser knows only the agent id. On PostgreSQL the lookup policy
    shows this table's row for exactly that agent id, read-only."""
    await set_pg_setting(db, "app.widget_agent_id", agent_id)
    result: AgentWidget | None = await db.scalar(select(AgentWidget).where(AgentWidget.agent_id == agent_id))
    return result


async def widget(db: AsyncSession, scope: OrgScope, agent_id: str) -> AgentWidget | None:
    result: AgentWidget | None = await db.scalar(
        select(AgentWidget).where(AgentWidget.org_id == scope.org_id, AgentWidget.agent_id == agent_id)
    )
    return result


async def organization_name(db: AsyncSession, scope: OrgScope) -> str:
    name: str | None = await db.scalar(select(Organization.name).where(Organization.id == scope.org_id))
    assert name is not None
    return name
