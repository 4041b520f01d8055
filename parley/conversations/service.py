"""Conversations as stored: contacts found by their identifiers, inbound messages recorded exactly once, and
replies stored beside them, every body sealed under the organisation's key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import engine
from parley.conversations import repository as repo
from parley.conversations.engine import Reply
from parley.kit.crypto import Cipher
from parley.kit.db import insert_ignoring_conflict
from parley.kit.errors import NotFound
from parley.kit.ids import new_id
from parley.llm.base import Passage, TextDelta
from parley.models import Agent, Contact, ContactIdentifier, Conversation, Message
from parley.privacy import audit
from parley.privacy.keys import org_cipher
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


def message_record(message_id: str) -> str:
    return f"message:{message_id}:body"


def open_body(cipher: Cipher, message: Message) -> str:
    return cipher.decrypt_text(message.body_sealed, record=message_record(message.id))


async def contact_for(db: AsyncSession, runtime: Runtime, scope: OrgScope, kind: str, value: str) -> Contact:
    """The contact behind an identifier, created on first sight (safe against two first sights at once)."""
    found = await repo.identifier(db, scope, kind, value)
    if found is None:
        contact = Contact(id=new_id("con"), org_id=scope.org_id, created_at=runtime.clock.now())
        db.add(contact)
        await db.flush()
        await insert_ignoring_conflict(
            db,
            ContactIdentifier.__table__,
            {
                "id": new_id("cid"),
                "org_id": scope.org_id,
                "contact_id": contact.id,
                "kind": kind,
                "value": value,
                "created_at": runtime.clock.now(),
            },
        )
        found = await repo.identifier(db, scope, kind, value)
        assert found is not None
        if found.contact_id != contact.id:  # lost the race: the other contact is the person
            await db.delete(contact)
    result = await repo.contact(db, scope, found.contact_id)
    assert result is not None
    return result


async def conversation_for(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, agent: Agent, contact: Contact, channel: str
) -> Conversation:
    existing = await repo.open_conversation(db, scope, agent.id, contact.id, channel)
    if existing is not None:
        return existing
    now = runtime.clock.now()
    conversation = Conversation(
        id=new_id("cnv"),
        org_id=scope.org_id,
        agent_id=agent.id,
        contact_id=contact.id,
        channel=channel,
        created_at=now,
        last_message_at=now,
    )
    db.add(conversation)
    await db.flush()
    return conversation


async def history(db: AsyncSession, cipher: Cipher, scope: OrgScope, conversation_id: str) -> list[tuple[str, str]]:
    return [
        ("assistant" if m.role in ("assistant", "staff") else "user", open_body(cipher, m))
        for m in await repo.messages(db, scope, conversation_id)
        if m.role in ("user", "assistant", "staff")
    ]


@dataclass(frozen=True)
class Stored:
    inbound: Message
    reply: Message | None
    replay: bool  # the inbound message had been received before (a channel retry)


async def receive(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    conversation: Conversation,
    agent: Agent,
    *,
    text: str,
    external_id: str | None,
) -> AsyncIterator[TextDelta | Reply | Stored]:
    """Records an inbound message once, answers it once, and yields the reply as it streams, then the settled
    Reply and what was stored. A retried delivery (same external id) replays the stored reply."""
    cipher = await org_cipher(db, runtime, scope)
    if external_id:
        earlier = await repo.message_by_external_id(db, scope, conversation.id, external_id)
        if earlier is not None:
            answer = await repo.reply_to(db, scope, earlier.id)
            if answer is not None:
                yield TextDelta(open_body(cipher, answer))
                yield _reply_from(answer, cipher, conversation)
                yield Stored(earlier, answer, replay=True)
                return
    previous = await history(db, cipher, scope, conversation.id)
    now = runtime.clock.now()
    inbound = Message(
        id=new_id("msg"),
        org_id=scope.org_id,
        conversation_id=conversation.id,
        role="user",
        external_id=external_id,
        created_at=now,
        citations=[],
    )
    inbound.body_sealed = cipher.encrypt_text(text, record=message_record(inbound.id))
    db.add(inbound)
    conversation.last_message_at = now
    await db.flush()
    if conversation.handed_off:  # a person has taken over: the AI stays silent
        yield Stored(inbound, None, replay=False)
        return
    reply: Reply | None = None
    async for item in engine.stream_turn(db, runtime, scope, agent, text, previous):
        if isinstance(item, Reply):
            reply = item
        else:
            yield item
    assert reply is not None
    stored = _store_reply(cipher, scope, conversation, inbound, reply, runtime)
    db.add(stored)
    inbound.handled_at = runtime.clock.now()
    conversation.language = conversation.language or reply.language
    if reply.needs_attention:
        conversation.needs_attention = True
        conversation.attention_reason = reply.attention_reason
    await db.flush()
    yield reply
    yield Stored(inbound, stored, replay=False)


def _store_reply(
    cipher: Cipher, scope: OrgScope, conversation: Conversation, inbound: Message, reply: Reply, runtime: Runtime
) -> Message:
    message = Message(
        id=new_id("msg"),
        org_id=scope.org_id,
        conversation_id=conversation.id,
        role="assistant",
        reply_to_id=inbound.id,
        language=reply.language,
        confidence=reply.confidence,
        citations=reply.citation_records(),
        provider=reply.provider,
        model=reply.model,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        created_at=runtime.clock.now(),
        handled_at=runtime.clock.now(),
    )
    message.body_sealed = cipher.encrypt_text(reply.text, record=message_record(message.id))
    return message


def _reply_from(message: Message, cipher: Cipher, conversation: Conversation) -> Reply:
    return Reply(
        text=open_body(cipher, message),
        language=message.language or "en",
        confidence=message.confidence,
        needs_attention=conversation.needs_attention,
        attention_reason=conversation.attention_reason,
        provider=message.provider or "",
        model=message.model or "",
        citations=[
            Passage(
                chunk_id=str(c.get("chunk_id")),
                document_id=str(c.get("document_id")),
                title=str(c.get("title")),
                text=str(c.get("snippet")),
                score=0.0,
                url=c.get("url"),
            )
            for c in message.citations
        ],
    )


async def access_conversation(db: AsyncSession, scope: OrgScope, conversation_id: str) -> Conversation:
    conversation = await repo.conversation(db, scope, conversation_id)
    if conversation is None:
        raise NotFound("conversation not found")
    return conversation


async def read_transcript(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str
) -> tuple[Conversation, list[tuple[Message, str]]]:
    """A staff member reads a conversation: personal data, so the read is audited."""
    conversation = await access_conversation(db, scope, conversation_id)
    cipher = await org_cipher(db, runtime, scope)
    messages = [(m, open_body(cipher, m)) for m in await repo.messages(db, scope, conversation_id)]
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "conversation.read",
        target_type="conversation",
        target_id=conversation_id,
        details={"contact_id": conversation.contact_id},
    )
    return conversation, messages
