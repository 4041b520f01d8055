"""Demo data for `make run`: one organisation, its owner, and an agent with a small knowledge base, created once.

The owner's password is random, kept in `<data dir>/demo-login.txt` (mode 0600) so that every start can
print it; it is a local demo credential, never a default in production.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import service as agents
from parley.agents.schemas import AgentIn
from parley.auth import repository as auth_repo
from parley.auth import service as auth_service
from parley.kit.context import Actor, RequestInfo
from parley.kit.db import unit_of_work
from parley.knowledge import service as knowledge
from parley.knowledge.schemas import KnowledgeBaseIn
from parley.knowledge.tasks import ingest_pending
from parley.models import Agent, Organization
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.permissions import Role
from parley.tenancy.scope import OrgScope

DEMO_EMAIL = "demo@example.com"
DEMO_ORG = "Demo Bistro"
LOGIN_FILE = "demo-login.txt"


DEMO_AGENT = "Bistro assistant"
DEMO_DOCUMENT = "demo-bistro-faq.md"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    org_id: str
    agent_id: str


def _password(runtime: Runtime) -> str:
    path = runtime.settings.data_dir / LOGIN_FILE
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password


async def ensure_demo(runtime: Runtime) -> DemoLogin:
    actor = Actor("system", None, RequestInfo(request_id="demo"))
    password = _password(runtime)
    async with unit_of_work(runtime.sessionmaker) as db:
        user = await auth_repo.user_by_email(db, DEMO_EMAIL)
        if user is None:
            user = await auth_service.create_user(
                db, runtime, email=DEMO_EMAIL, name="Demo Owner", password=password, actor=actor
            )
        org_id = await db.scalar(select(Organization.id).where(Organization.name == DEMO_ORG))
        if org_id is None:
            scope = await platform.create_organization(db, runtime, name=DEMO_ORG, actor=actor)
            await platform.add_member(db, runtime, scope, user, Role.OWNER)
        else:
            scope = await platform.system_scope(db, org_id, actor)
        agent_id = await _ensure_agent(db, runtime, scope)
    await ingest_pending(runtime)  # the demo agent can answer from its knowledge base at once
    return DemoLogin(DEMO_EMAIL, password, scope.org_id, agent_id)


async def _ensure_agent(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> str:
    """A demo agent with a small knowledge base (the bistro's FAQ), answering offline."""
    existing = await db.scalar(select(Agent.id).where(Agent.org_id == scope.org_id, Agent.name == DEMO_AGENT))
    if existing is not None:
        return existing
    kb = await knowledge.do_create_knowledge_base(
        db, runtime, scope, KnowledgeBaseIn(name="Demo Bistro FAQ", description="What guests ask us most.")
    )
    data = (files("parley") / "demo_data" / DEMO_DOCUMENT).read_bytes()
    await knowledge.do_add_file(
        db,
        runtime,
        scope,
        kb.id,
        filename=DEMO_DOCUMENT,
        declared_type="text/markdown",
        data=data,
        title="Demo Bistro FAQ",
    )
    agent = await agents.do_create_agent(
        db,
        runtime,
        scope,
        AgentIn(
            name=DEMO_AGENT,
            instructions="You are the friendly assistant of Demo Bistro. Answer briefly, only from the FAQ.",
            greeting="Hello! I can help with opening hours, bookings, the menu and directions.",
            languages=["en", "fr", "ar"],
            knowledge_base_ids=[kb.id],
            fallback_reply="I'm not sure about that; I've asked a member of the team to get back to you.",
        ),
    )
    return agent.id
