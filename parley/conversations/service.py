"""Conversations as stored: contacts found by their identifiers, inbound messages recorded exactly once, and
replies stored beside them, every body sealed under the organisation's key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from parley.conversations import engine, events, prompt
from parley.conversations import repository as repo
from parley.conversations.engine import Reply
from parley.kit.crypto import Cipher
from parley.kit.db import insert_ignoring_conflict
from parley.kit.errors import NotFound
from parley.kit.ids import new_id
from parley.llm.base import Passage, TextDelta
from parley.models import Agent, Contact, ContactIdentifier, Conversation, Message
from parley.privacy import audit
from parley.privacy.keys import Erased, Keyring, keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work


def message_record(message_id: str) -> str:
    return f"message:{message_id}:body"


async def open_body(ring: Keyring, message: Message) -> str | Erased:
    """A message's text, or ERASED once its sender's key was destroyed (bodies are sealed per person)."""
    return await ring.open_text(message.body_sealed, record=message_record(message.id))


async def contact_for(db: AsyncSession, runtime: Runtime, scope: OrgScope, kind: str, value: str) -> Contact:
    """The contact behind an identifier, created on first sight (safe against two first sights at once)."""
    found = await repo.identifier(db, scope, kind, value)
    if found is None:
        contact = Contact(id=new_id("con"), org_id=scope.org_id, created_at=runtime.clock.now())
        db.add(contact)
        await db.flush()
        await attach_identifier(db, runtime, scope, contact.id, kind, value)
        found = await repo.identifier(db, scope, kind, value)
        assert found is not None
        if found.contact_id != contact.id:  # lost the race: the other contact is the person
            await db.delete(contact)
    result = await repo.contact(db, scope, found.contact_id)
    assert result is not None
    return result


async def attach_identifier(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str, kind: str, value: str
) -> None:
    """Gives the contact this identifier, unless it already belongs to someone (that one stays theirs: identifiers
    are unique per organisation, and staff may merge the two)."""
    await insert_ignoring_conflict(
        db,
        ContactIdentifier.__table__,
        {
            "id": new_id("cid"),
            "org_id": scope.org_id,
            "contact_id": contact_id,
            "kind": kind,
            "value": value,
            "created_at": runtime.clock.now(),
        },
    )


async def conversation_for(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, agent: Agent, contact: Contact, channel: str
) -> Conversation:
    existing = await repo.open_conversation(db, scope, agent.id, contact.id, channel)
    if existing is not None:
        return existing
    return await new_conversation(db, runtime, scope, agent, contact, channel)


async def new_conversation(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, agent: Agent, contact: Contact, channel: str
) -> Conversation:
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


# Called with the reply message and the Reply, inside the transaction that stores them (see `answer`).
OnStored = Callable[[AsyncSession, Message, Reply], Awaitable[None]]


@dataclass(frozen=True)
class Stored:
    inbound_id: str
    reply_id: str | None
    replay: bool  # the inbound message had been received before (a channel retry)


@dataclass(frozen=True)
class _Received:
    inbound_id: str
    answered: Message | None
    handed_off: bool
    history: list[tuple[str, str]]


async def receive(
    runtime: Runtime, scope: OrgScope, agent: Agent, conversation_id: str, *, text: str, external_id: str | None
) -> AsyncIterator[TextDelta | Reply | Stored]:
    """Records an inbound message once and answers it once, yielding the reply as it streams, then the settled
    Reply and what was stored. Three short transactions: record the message (committed before anything else
    happens, so it is never lost), run the turn (reads only, however long the model takes), store the reply.
    A retried delivery (same external id) replays the stored reply instead of answering again."""
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        received = await _record_inbound(db, runtime, scope, conversation_id, text, external_id)
        if received.answered is not None:
            conversation = await access_conversation(db, scope, conversation_id)
            replayed = await _reply_from(received.answered, keyring(runtime, scope), conversation)
    if received.answered is None:
        await events.announce(runtime, scope.org_id, conversation_id, "message")  # the staff inbox, once committed
    if received.answered is not None:
        yield TextDelta(replayed.text)
        yield replayed
        yield Stored(received.inbound_id, received.answered.id, replay=True)
        return
    if received.handed_off:  # a person has taken over (or must: processing restricted): the AI stays silent
        yield Stored(received.inbound_id, None, replay=False)
        return
    async for item in answer(runtime, scope, agent, conversation_id, received.inbound_id, text, received.history):
        yield item


async def _record_inbound(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str, text: str, external_id: str | None
) -> _Received:
    conversation = await access_conversation(db, scope, conversation_id)
    ring = keyring(runtime, scope)
    if external_id:
        earlier = await repo.message_by_external_id(db, scope, conversation_id, external_id)
        if earlier is not None:
            previous = [h for m, h in await _history(db, ring, scope, conversation_id) if m != earlier.id]
            return _Received(earlier.id, await repo.reply_to(db, scope, earlier.id), conversation.handed_off, previous)
    previous = [h for _, h in await _history(db, ring, scope, conversation_id)]
    cipher = await ring.subject(conversation.contact_id)
    now = runtime.clock.now()
    inbound = Message(
        id=new_id("msg"),
        org_id=scope.org_id,
        conversation_id=conversation_id,
        role="user",
        external_id=external_id,
        created_at=now,
        citations=[],
    )
    inbound.body_sealed = cipher.encrypt_text(text, record=message_record(inbound.id))
    contact = await repo.contact(db, scope, conversation.contact_id)
    restricted = contact is not None and contact.restricted_at is not None
    if conversation.handed_off or restricted:
        inbound.handled_at = now  # staff have the conversation (or must): the AI will not answer this one
    if restricted:
        # Art. 18: the message is kept (storage is allowed), nothing else is done with it but telling staff.
        conversation.needs_attention = True
        conversation.attention_reason = "processing restricted for this person (Art. 18): staff reply only"
    db.add(inbound)
    conversation.last_message_at = now
    await db.flush()
    return _Received(inbound.id, None, conversation.handed_off or restricted, previous)


async def _history(
    db: AsyncSession, ring: Keyring, scope: OrgScope, conversation_id: str
) -> list[tuple[str, tuple[str, str]]]:
    # One more than the prompt can use, so that dropping a replayed message still leaves a full window.
    recent = await repo.recent_messages(db, scope, conversation_id, limit=prompt.HISTORY_MESSAGES + 1)
    return await prompt_history(ring, recent)


async def prompt_history(ring: Keyring, messages: list[Message]) -> list[tuple[str, tuple[str, str]]]:
    """(message id, (role, text)) for the model, oldest first; erased messages are left out."""
    history: list[tuple[str, tuple[str, str]]] = []
    for m in messages:
        if m.role not in ("user", "assistant", "staff"):
            continue
        body = await open_body(ring, m)
        if not isinstance(body, Erased):
            history.append((m.id, ("assistant" if m.role in ("assistant", "staff") else "user", body)))
    return history


async def answer(
    runtime: Runtime,
    scope: OrgScope,
    agent: Agent,
    conversation_id: str,
    inbound_id: str,
    text: str,
    history: list[tuple[str, str]],
    on_stored: OnStored | None = None,
) -> AsyncIterator[TextDelta | Reply | Stored]:
    """Runs the turn for a recorded inbound message and stores the reply (also used to answer messages whose
    first attempt died with its process). `on_stored` runs in the transaction that stores the reply: a channel
    writes the reply to its outbox there, so the reply exists exactly when its send does."""
    reply: Reply | None = None
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        async for item in engine.stream_turn(db, runtime, scope, agent, text, history):
            if isinstance(item, Reply):
                reply = item
            else:
                yield item
    assert reply is not None
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        conversation = await access_conversation(db, scope, conversation_id)
        inbound = await repo.message(db, scope, inbound_id)
        if inbound is None:  # erased while we were thinking: keep nothing
            return
        existing = await repo.reply_to(db, scope, inbound_id)
        if existing is not None:  # answered meanwhile by another worker: theirs stands, ours is dropped
            yield Stored(inbound_id, existing.id, replay=True)
            return
        cipher = await keyring(runtime, scope).subject(conversation.contact_id)
        stored = _store_reply(cipher, scope, conversation, inbound, reply, runtime)
        db.add(stored)
        inbound.handled_at = runtime.clock.now()
        conversation.language = conversation.language or reply.language
        if reply.needs_attention:
            conversation.needs_attention = True
            conversation.attention_reason = reply.attention_reason
        if reply.confidence is not None and reply.confidence < agent.confidence_threshold:
            conversation.low_confidence = True  # the inbox's "low confidence" filter
        await engine.record_usage(db, runtime, scope, agent.id, reply)
        await db.flush()
        if on_stored is not None:
            await on_stored(db, stored, reply)
    await events.announce(runtime, scope.org_id, conversation_id, "message")  # the staff inbox, once committed
    yield reply
    yield Stored(inbound_id, stored.id, replay=False)


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


async def _reply_from(message: Message, ring: Keyring, conversation: Conversation) -> Reply:
    return Reply(
        text=str(await open_body(ring, message)),
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
) -> tuple[Conversation, list[tuple[Message, str | Erased]]]:
    """A staff member reads a conversation: personal data, so the read is audited."""
    conversation = await access_conversation(db, scope, conversation_id)
    ring = keyring(runtime, scope)
    messages = [(m, await open_body(ring, m)) for m in await repo.messages(db, scope, conversation_id)]
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


async def find_conversation(
    db: AsyncSession, scope: OrgScope, agent_id: str, kind: str, value: str, channel: str
) -> Conversation | None:
    """The open conversation of the person behind an identifier with an agent, without creating anything."""
    found = await repo.identifier(db, scope, kind, value)
    if found is None:
        return None
    return await repo.open_conversation(db, scope, agent_id, found.contact_id, channel)


async def read_own_transcript(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str
) -> list[tuple[Message, str]]:
    """The person a conversation is with reads it back (a widget visitor's history, their export): not a staff
    read of personal data, so not audited as one. The caller has proven who the person is."""
    await access_conversation(db, scope, conversation_id)
    ring = keyring(runtime, scope)
    opened = [(m, await open_body(ring, m)) for m in await repo.messages(db, scope, conversation_id, limit=10_000)]
    return [(m, body) for m, body in opened if not isinstance(body, Erased)]


async def erase_conversation(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str, *, initiated_by: str
) -> int:
    """Erases a conversation: its messages and the conversation row, audited in the same transaction.
    Returns how many messages were deleted."""
    conversation = await access_conversation(db, scope, conversation_id)
    deleted = await repo.delete_conversation(db, scope, conversation_id)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "conversation.erased",
        target_type="conversation",
        target_id=conversation_id,
        details={"initiated_by": initiated_by, "messages": deleted, "channel": conversation.channel},
    )
    return deleted


async def do_staff_reply(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str, text: str
) -> tuple[Message, bool]:
    """A staff member writes to the person: the conversation is theirs from now on (the AI stays silent until it
    is released). Returns the stored message and whether this reply took the conversation over."""
    conversation = await access_conversation(db, scope, conversation_id)
    now = runtime.clock.now()
    took_over = not conversation.handed_off
    conversation.handed_off = True
    if conversation.assignee_user_id is None:  # the inbox shows colleagues who has the conversation
        conversation.assignee_user_id = scope.actor.user_id
    conversation.last_message_at = now
    message = Message(
        id=new_id("msg"),
        org_id=scope.org_id,
        conversation_id=conversation_id,
        role="staff",
        author_user_id=scope.actor.user_id,
        created_at=now,
        handled_at=now,
        citations=[],
    )
    # Sealed with the person's key like the rest of the conversation: erasing them erases what staff wrote too.
    cipher = await keyring(runtime, scope).subject(conversation.contact_id)
    message.body_sealed = cipher.encrypt_text(text, record=message_record(message.id))
    db.add(message)
    await db.flush()
    if took_over:
        await audit.record_in_scope(
            db, runtime.clock, scope, "conversation.taken_over", target_type="conversation", target_id=conversation_id
        )
    return message, took_over


async def do_release(db: AsyncSession, runtime: Runtime, scope: OrgScope, conversation_id: str) -> Conversation:
    """Staff hand the conversation back to the AI."""
    conversation = await access_conversation(db, scope, conversation_id)
    if conversation.handed_off:
        conversation.handed_off = False
        await audit.record_in_scope(
            db, runtime.clock, scope, "conversation.released", target_type="conversation", target_id=conversation_id
        )
    return conversation
