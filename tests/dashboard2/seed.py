"""Bulk rows for the dashboard's tests and benchmark: contacts with identifiers, conversations, messages (sealed
for real under the person's key) and usage-ledger rows, written with a few multi-row inserts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert

from parley.conversations.service import message_record
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.models import Agent, Contact, ContactIdentifier, Conversation, Message, UsageDaily
from parley.privacy.keys import keyring
from parley.runtime import Runtime
from parley.tenancy import platform
from tests.factories import ACTOR


@dataclass
class Seeded:
    contact_ids: list[str] = field(default_factory=list)
    conversation_ids: list[str] = field(default_factory=list)


async def make_agent(runtime: Runtime, org_id: str, name: str) -> str:
    agent_id = new_id("agt")
    async with unit_of_work(runtime.sessionmaker) as db:
        await platform.system_scope(db, org_id, ACTOR)
        db.add(
            Agent(id=agent_id, org_id=org_id, name=name, created_at=runtime.clock.now(), updated_at=runtime.clock.now())
        )
    return agent_id


async def seed_contacts(
    runtime: Runtime,
    org_id: str,
    count: int,
    *,
    agent_id: str | None = None,
    name: str = "Person {i}",
    email: str = "person{i}@example.com",
    sealed_messages: int = 0,
) -> Seeded:
    """`count` contacts, each with an e-mail identifier and (with an agent) one conversation holding
    `sealed_messages` messages."""
    now = runtime.clock.now()
    out = Seeded()
    contacts, identifiers, conversations, messages = [], [], [], []
    for i in range(count):
        contact_id = new_id("con")
        out.contact_ids.append(contact_id)
        at = now - timedelta(seconds=count - i)
        contacts.append({"id": contact_id, "org_id": org_id, "display_name": name.format(i=i), "created_at": at})
        identifiers.append(
            {
                "id": new_id("cid"),
                "org_id": org_id,
                "contact_id": contact_id,
                "kind": "email",
                "value": email.format(i=i),
                "created_at": at,
            }
        )
        if agent_id:
            conversation_id = new_id("cnv")
            out.conversation_ids.append(conversation_id)
            conversations.append(
                {
                    "id": conversation_id,
                    "org_id": org_id,
                    "agent_id": agent_id,
                    "contact_id": contact_id,
                    "channel": "email",
                    "status": "open",
                    "needs_attention": False,
                    "handed_off": False,
                    "created_at": at,
                    "last_message_at": at,
                }
            )
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        for start in range(0, count, 2000):
            await db.execute(insert(Contact), contacts[start : start + 2000])
            await db.execute(insert(ContactIdentifier), identifiers[start : start + 2000])
            if conversations:
                await db.execute(insert(Conversation), conversations[start : start + 2000])
        ring = keyring(runtime, scope)
        for conversation, contact_id in zip(conversations, out.contact_ids, strict=False):
            cipher = await ring.subject(contact_id)
            for n in range(sealed_messages):
                message_id = new_id("msg")
                messages.append(
                    {
                        "id": message_id,
                        "org_id": org_id,
                        "conversation_id": conversation["id"],
                        "role": "user" if n % 2 == 0 else "assistant",
                        "citations": [],
                        "body_sealed": cipher.encrypt_text(f"message {n}", record=message_record(message_id)),
                        "created_at": conversation["created_at"],
                    }
                )
        for start in range(0, len(messages), 2000):
            await db.execute(insert(Message), messages[start : start + 2000])
    return out


async def seed_daily_activity(
    runtime: Runtime, org_id: str, agent_id: str, days: int, *, per_day: int, tokens_per_day: int
) -> None:
    """For each of the last `days` days (today included): `per_day` conversations of two messages each, and one
    usage-ledger row of `tokens_per_day` tokens."""
    today = runtime.clock.now().date()
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        cipher = await keyring(runtime, scope).org()
        contact_id = new_id("con")
        db.add(Contact(id=contact_id, org_id=org_id, created_at=runtime.clock.now()))
        await db.flush()
        conversations, messages, usage = [], [], []
        for back in range(days):
            day: date = today - timedelta(days=back)
            at = datetime.combine(day, time(12), tzinfo=UTC)
            usage.append(
                {
                    "id": new_id("use"),
                    "org_id": org_id,
                    "agent_id": agent_id,
                    "day": day,
                    "provider": "offline",
                    "model": "-",
                    "calls": per_day,
                    "messages": per_day,
                    "input_tokens": tokens_per_day // 2,
                    "output_tokens": tokens_per_day - tokens_per_day // 2,
                }
            )
            for _ in range(per_day):
                conversation_id = new_id("cnv")
                conversations.append(
                    {
                        "id": conversation_id,
                        "org_id": org_id,
                        "agent_id": agent_id,
                        "contact_id": contact_id,
                        "channel": "widget",
                        "status": "closed",
                        "needs_attention": False,
                        "handed_off": False,
                        "created_at": at,
                        "last_message_at": at,
                    }
                )
                for role in ("user", "assistant"):
                    message_id = new_id("msg")
                    messages.append(
                        {
                            "id": message_id,
                            "org_id": org_id,
                            "conversation_id": conversation_id,
                            "role": role,
                            "citations": [],
                            "created_at": at,
                            "body_sealed": cipher.encrypt_text("hi", record=message_record(message_id)),
                        }
                    )
        for start in range(0, len(conversations), 2000):
            await db.execute(insert(Conversation), conversations[start : start + 2000])
        for start in range(0, len(messages), 2000):
            await db.execute(insert(Message), messages[start : start + 2000])
        await db.execute(insert(UsageDaily), usage)
