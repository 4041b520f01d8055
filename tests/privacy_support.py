"""Shared set-up for the privacy tests: a real conversation with a person, through the engine."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from parley.conversations import service
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.models import Agent
from parley.privacy.keystore import OrgKeyRow, SubjectKeyRow
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope
from tests.test_engine import _setup


@dataclass
class Chat:
    base: str
    headers: dict[str, str]
    scope: OrgScope
    agent: Agent
    conversation_id: str
    contact_id: str

    @property
    def org_id(self) -> str:
        return self.scope.org_id


async def start_chat(client: httpx.AsyncClient, runtime: Runtime, *, phone: str = "+33612345678") -> Chat:
    base, headers, agent_id = await _setup(client, runtime)
    org_id = base.rsplit("/", 1)[-1]
    return await chat_in(runtime, base, headers, org_id, agent_id, phone=phone)


async def chat_in(
    runtime: Runtime, base: str, headers: dict[str, str], org_id: str, agent_id: str, *, phone: str
) -> Chat:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, Actor.system())
        agent = await db.get(Agent, agent_id)
        assert agent is not None
        contact = await service.contact_for(db, runtime, scope, "whatsapp", phone)
        conversation = await service.conversation_for(db, runtime, scope, agent, contact, "whatsapp")
    return Chat(base, headers, scope, agent, conversation.id, contact.id)


async def say(runtime: Runtime, chat: Chat, words: str) -> None:
    async for _ in service.receive(runtime, chat.scope, chat.agent, chat.conversation_id, text=words, external_id=None):
        pass


async def subject_key_ids(runtime: Runtime, org_id: str) -> list[str]:
    session = await runtime.keystore.session()
    async with session:
        return list(await session.scalars(select(SubjectKeyRow.subject_id).where(SubjectKeyRow.org_id == org_id)))


async def keystore_rows(settings: Settings) -> int:
    engine = create_async_engine(settings.effective_keystore_owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(text("SELECT count(*) FROM org_keys")) or 0) + int(
                await conn.scalar(text("SELECT count(*) FROM subject_keys")) or 0
            )
    finally:
        await engine.dispose()


async def wrapped_keys(runtime: Runtime, org_id: str) -> list[bytes]:
    """The organisation's keys exactly as the key store holds them (wrapped)."""
    session = await runtime.keystore.session()
    async with session:
        org = list(await session.scalars(select(OrgKeyRow.wrapped_key).where(OrgKeyRow.org_id == org_id)))
        people = list(await session.scalars(select(SubjectKeyRow.wrapped_key).where(SubjectKeyRow.org_id == org_id)))
    return [bytes(k) for k in org + people]
