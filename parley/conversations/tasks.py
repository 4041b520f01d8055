"""Reconciler: answer inbound messages whose turn was cut short.

A message is recorded (and committed) before its turn runs, and marked handled when the reply is stored. If
the process dies in between, the message would wait forever; this reconciler finds such messages a little
later (`RECOVER_AFTER`, long enough for any live turn to finish) and answers them. The reply's unique link to
its message (`reply_to_id`) makes a race with a slow live turn harmless: one reply is kept.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from parley.agents import repository as agents_repo
from parley.conversations import prompt, service
from parley.conversations import repository as repo
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.models import Agent, Organization
from parley.privacy.keys import Erased, keyring
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope

RECOVER_AFTER = timedelta(minutes=2)
BATCH = 20

_Work = tuple[Agent, str, str, str, list[tuple[str, str]]]


async def answer_unhandled(runtime: Runtime) -> dict[str, int]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
    answered = 0
    for org_id in org_ids:
        scope, work = await _unanswered_in(runtime, org_id)
        for agent, conversation_id, message_id, text, history in work:
            async for _ in service.answer(runtime, scope, agent, conversation_id, message_id, text, history):
                pass
            answered += 1
    return {"answered": answered}


async def _unanswered_in(runtime: Runtime, org_id: str) -> tuple[OrgScope, list[_Work]]:
    work: list[_Work] = []
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, org_id, Actor.system())
        pending = await repo.unanswered(db, scope, before=runtime.clock.now() - RECOVER_AFTER, limit=BATCH)
        if not pending:
            return scope, work
        ring = keyring(runtime, scope)
        for message in pending:
            conversation = await repo.conversation(db, scope, message.conversation_id)
            agent = (
                await agents_repo.agent(db, scope, conversation.agent_id)
                if conversation and conversation.agent_id
                else None
            )
            if conversation is None or agent is None:
                continue
            recent = await repo.recent_messages(
                db, scope, conversation.id, limit=prompt.HISTORY_MESSAGES, before=message.created_at
            )
            history = [h for _, h in await service.prompt_history(ring, recent)]
            text = await service.open_body(ring, message)
            if isinstance(text, Erased):  # its sender was erased meanwhile: nothing to answer
                continue
            work.append((agent, conversation.id, message.id, text, history))
    return scope, work
