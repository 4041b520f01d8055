"""Agents, their provider credentials, and trying an agent out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from parley.agents import repository as repo
from parley.agents import service
from parley.agents.schemas import (
    AgentIn,
    AgentOut,
    AgentPatch,
    CredentialCheckIn,
    CredentialCheckOut,
    CredentialIn,
    CredentialOut,
    ReplyOut,
    TurnIn,
)
from parley.auth.dependencies import Db, RuntimeDep, reads_only, require
from parley.channels.widget.service import embed_snippet
from parley.conversations import engine
from parley.models import Agent
from parley.settings import Settings
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["agents"])

ReadAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_READ))]
TestAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_TEST))]
ManageAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_MANAGE))]
ManageCredentials = Annotated[OrgScope, Depends(require(Permission.CREDENTIALS_MANAGE))]


async def _out(db: Db, scope: OrgScope, agents: list[Agent], settings: Settings) -> list[AgentOut]:
    linked = await repo.knowledge_base_ids(db, scope, [a.id for a in agents])
    return [
        AgentOut.model_validate(
            {
                **{c: getattr(a, c) for c in AgentOut.model_fields if hasattr(a, c)},
                "knowledge_base_ids": linked[a.id],
                "embed_snippet": embed_snippet(settings, a.id),
            }
        )
        for a in agents
    ]


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(scope: ReadAgents, db: Db, runtime: RuntimeDep) -> list[AgentOut]:
    return await _out(db, scope, await repo.agents(db, scope), runtime.settings)


@router.post("/agents", response_model=AgentOut, status_code=status.HTTP_201_CREATED)
async def create_agent(body: AgentIn, scope: ManageAgents, db: Db, runtime: RuntimeDep) -> AgentOut:
    return (await _out(db, scope, [await service.do_create_agent(db, runtime, scope, body)], runtime.settings))[0]


@router.get("/agents/{agent_id}", response_model=AgentOut)
async def get_agent(agent_id: str, scope: ReadAgents, db: Db, runtime: RuntimeDep) -> AgentOut:
    return (await _out(db, scope, [await service.access_agent(db, scope, agent_id)], runtime.settings))[0]


@router.patch("/agents/{agent_id}", response_model=AgentOut)
async def update_agent(agent_id: str, body: AgentPatch, scope: ManageAgents, db: Db, runtime: RuntimeDep) -> AgentOut:
    agent = await service.do_update_agent(db, runtime, scope, agent_id, body)
    return (await _out(db, scope, [agent], runtime.settings))[0]


@router.delete("/agents/{agent_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_agent(agent_id: str, scope: ManageAgents, db: Db, runtime: RuntimeDep) -> Response:
    await service.do_delete_agent(db, runtime, scope, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/agents/{agent_id}/test", response_model=ReplyOut, dependencies=[Depends(reads_only)])
async def test_agent(agent_id: str, body: TurnIn, scope: TestAgents, db: Db, runtime: RuntimeDep) -> ReplyOut:
    """Try the agent: one turn with the given history, nothing stored, no customer conversation created."""
    agent = await service.access_agent(db, scope, agent_id)
    reply = await engine.try_agent(runtime, scope, agent, body.message, [(h.role, h.content) for h in body.history])
    return reply.out()


@router.get("/provider-credentials", response_model=list[CredentialOut])
async def list_credentials(scope: ManageCredentials, db: Db) -> object:
    return await repo.credentials(db, scope)


@router.post("/provider-credentials", response_model=CredentialOut, status_code=status.HTTP_201_CREATED)
async def create_credential(body: CredentialIn, scope: ManageCredentials, db: Db, runtime: RuntimeDep) -> object:
    return await service.do_create_credential(db, runtime, scope, body)


@router.delete("/provider-credentials/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(credential_id: str, scope: ManageCredentials, db: Db, runtime: RuntimeDep) -> Response:
    await service.do_delete_credential(db, runtime, scope, credential_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/provider-credentials/{credential_id}/check", response_model=CredentialCheckOut)
async def check_credential(
    credential_id: str, body: CredentialCheckIn, scope: ManageCredentials, db: Db, runtime: RuntimeDep
) -> CredentialCheckOut:
    """Test the connection: a cheap call to the provider with this key."""
    error = await engine.check_credential(db, runtime, scope, credential_id, body.model)
    return CredentialCheckOut(ok=error is None, error=error)
