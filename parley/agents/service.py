"""Agents and the provider credentials they use. Credentials are sealed under the organisation's key."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import repository as repo
from parley.agents.schemas import AgentIn, AgentPatch, CredentialIn
from parley.kit.errors import InvalidField, NotFound
from parley.kit.ids import new_id
from parley.models import Agent, AgentKnowledgeBase, ProviderCredential
from parley.privacy import audit
from parley.privacy.keys import org_cipher
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

# Agent fields whose changes are recorded in the audit log (settings changes); free text is summarised.
AUDITED_FIELDS = ("provider", "model", "credential_id", "retention_days", "redact_pii", "confidence_threshold")


def credential_record(credential_id: str) -> str:
    return f"provider_credential:{credential_id}:api_key"


async def access_agent(db: AsyncSession, scope: OrgScope, agent_id: str) -> Agent:
    agent = await repo.agent(db, scope, agent_id)
    if agent is None:
        raise NotFound("agent not found")
    return agent


async def access_credential(db: AsyncSession, scope: OrgScope, credential_id: str) -> ProviderCredential:
    credential = await repo.credential(db, scope, credential_id)
    if credential is None:
        raise NotFound("credential not found")
    return credential


async def _check_provider(
    db: AsyncSession, scope: OrgScope, provider: str, model: str, credential_id: str | None
) -> None:
    if provider == "offline":
        return
    if not model:
        raise InvalidField("body.model", f"the {provider} provider needs a model name")
    if not credential_id:
        raise InvalidField("body.credential_id", f"the {provider} provider needs a credential")
    credential = await repo.credential(db, scope, credential_id)
    if credential is None:
        raise InvalidField("body.credential_id", "no such credential in this organisation")
    if credential.provider != provider:
        raise InvalidField("body.credential_id", f"this credential is for {credential.provider}, not {provider}")


async def _link_knowledge_bases(db: AsyncSession, scope: OrgScope, agent_id: str, kb_ids: list[str]) -> None:
    unique = list(dict.fromkeys(kb_ids))
    missing = set(unique) - await repo.existing_knowledge_bases(db, scope, unique)
    if missing:
        raise InvalidField("body.knowledge_base_ids", f"no such knowledge base: {', '.join(sorted(missing))}")
    await repo.unlink_knowledge_bases(db, scope, agent_id)
    for kb_id in unique:
        db.add(AgentKnowledgeBase(id=new_id("akb"), org_id=scope.org_id, agent_id=agent_id, knowledge_base_id=kb_id))
    await db.flush()


async def do_create_agent(db: AsyncSession, runtime: Runtime, scope: OrgScope, body: AgentIn) -> Agent:
    await _check_provider(db, scope, body.provider, body.model, body.credential_id)
    now = runtime.clock.now()
    values = body.model_dump(exclude={"knowledge_base_ids", "parameters"})
    agent = Agent(
        id=new_id("agt"),
        org_id=scope.org_id,
        created_at=now,
        updated_at=now,
        parameters=body.parameters.model_dump(exclude_none=True),
        **values,
    )
    db.add(agent)
    await db.flush()
    await _link_knowledge_bases(db, scope, agent.id, body.knowledge_base_ids)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "agent.created",
        target_type="agent",
        target_id=agent.id,
        details={f: getattr(agent, f) for f in AUDITED_FIELDS},
    )
    return agent


async def do_update_agent(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str, body: AgentPatch
) -> Agent:
    agent = await access_agent(db, scope, agent_id)
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    kb_ids = changes.pop("knowledge_base_ids", None)
    if "parameters" in changes:
        changes["parameters"] = body.parameters.model_dump(exclude_none=True) if body.parameters else {}
    await _check_provider(
        db,
        scope,
        changes.get("provider", agent.provider),
        changes.get("model", agent.model),
        changes.get("credential_id", agent.credential_id),
    )
    before = {f: getattr(agent, f) for f in AUDITED_FIELDS}
    for field, value in changes.items():
        setattr(agent, field, value)
    if kb_ids is not None:
        await _link_knowledge_bases(db, scope, agent.id, kb_ids)
    agent.updated_at = runtime.clock.now()
    changed = {
        f: {"from": before[f], "to": getattr(agent, f)} for f in AUDITED_FIELDS if before[f] != getattr(agent, f)
    }
    other = sorted(set(changes) - set(AUDITED_FIELDS)) + (["knowledge_base_ids"] if kb_ids is not None else [])
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "agent.updated",
        target_type="agent",
        target_id=agent.id,
        details={"changed": changed, "fields": other},
    )
    return agent


async def do_delete_agent(db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str) -> None:
    agent = await access_agent(db, scope, agent_id)
    await db.delete(agent)
    await audit.record_in_scope(
        db, runtime.clock, scope, "agent.deleted", target_type="agent", target_id=agent_id, details={"name": agent.name}
    )


async def do_create_credential(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, body: CredentialIn
) -> ProviderCredential:
    api_key = body.api_key.get_secret_value()
    credential_id = new_id("cred")
    cipher = await org_cipher(runtime, scope)
    credential = ProviderCredential(
        id=credential_id,
        org_id=scope.org_id,
        name=body.name,
        provider=body.provider,
        base_url=str(body.base_url).rstrip("/") if body.base_url else None,
        api_key_sealed=cipher.encrypt_text(api_key, record=credential_record(credential_id)),
        api_key_hint=api_key[-4:],
        created_at=runtime.clock.now(),
    )
    db.add(credential)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "credential.created",
        target_type="credential",
        target_id=credential.id,
        details={"provider": body.provider},
    )
    return credential


async def api_key_of(db: AsyncSession, runtime: Runtime, scope: OrgScope, credential: ProviderCredential) -> str:
    cipher = await org_cipher(runtime, scope)
    return cipher.decrypt_text(credential.api_key_sealed, record=credential_record(credential.id))


async def do_delete_credential(db: AsyncSession, runtime: Runtime, scope: OrgScope, credential_id: str) -> None:
    credential = await access_credential(db, scope, credential_id)
    await db.delete(credential)
    await audit.record_in_scope(
        db, runtime.clock, scope, "credential.deleted", target_type="credential", target_id=credential_id
    )
