"""Tenant-scoped SQL for agents and provider credentials."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Agent, AgentKnowledgeBase, KnowledgeBase, ProviderCredential
from parley.tenancy.scope import OrgScope


async def agents(db: AsyncSession, scope: OrgScope) -> list[Agent]:
    return list(await db.scalars(select(Agent).where(Agent.org_id == scope.org_id).order_by(Agent.created_at)))


async def agent(db: AsyncSession, scope: OrgScope, agent_id: str) -> Agent | None:
    result: Agent | None = await db.scalar(select(Agent).where(Agent.org_id == scope.org_id, Agent.id == agent_id))
    return result


async def knowledge_base_ids(db: AsyncSession, scope: OrgScope, agent_ids: list[str]) -> dict[str, list[str]]:
    rows = await db.execute(
        select(AgentKnowledgeBase.agent_id, AgentKnowledgeBase.knowledge_base_id)
        .where(AgentKnowledgeBase.org_id == scope.org_id, AgentKnowledgeBase.agent_id.in_(agent_ids))
        .order_by(AgentKnowledgeBase.id)
    )
    linked: dict[str, list[str]] = {agent_id: [] for agent_id in agent_ids}
    for agent_id, kb_id in rows:
        linked[agent_id].append(kb_id)
    return linked


async def existing_knowledge_bases(db: AsyncSession, scope: OrgScope, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    found = await db.scalars(
        select(KnowledgeBase.id).where(KnowledgeBase.org_id == scope.org_id, KnowledgeBase.id.in_(ids))
    )
    return set(found)


async def unlink_knowledge_bases(db: AsyncSession, scope: OrgScope, agent_id: str) -> None:
    await db.execute(
        delete(AgentKnowledgeBase).where(
            AgentKnowledgeBase.org_id == scope.org_id, AgentKnowledgeBase.agent_id == agent_id
        )
    )


async def credentials(db: AsyncSession, scope: OrgScope) -> list[ProviderCredential]:
    return list(
        await db.scalars(
            select(ProviderCredential)
            .where(ProviderCredential.org_id == scope.org_id)
            .order_by(ProviderCredential.created_at)
        )
    )


async def credential(db: AsyncSession, scope: OrgScope, credential_id: str) -> ProviderCredential | None:
    result: ProviderCredential | None = await db.scalar(
        select(ProviderCredential).where(
            ProviderCredential.org_id == scope.org_id, ProviderCredential.id == credential_id
        )
    )
    return result
