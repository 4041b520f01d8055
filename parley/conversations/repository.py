"""Tenant-scoped SQL for contacts, conversations and messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Contact, ContactIdentifier, Conversation, ConversationNote, Message
from parley.tenancy.scope import OrgScope


async def identifier(db: AsyncSession, scope: OrgScope, kind: str, value: str) -> ContactIdentifier | None:
    result: ContactIdentifier | None = await db.scalar(
        select(ContactIdentifier).where(
            ContactIdentifier.org_id == scope.org_id, ContactIdentifier.kind == kind, ContactIdentifier.value == value
        )
    )
    return result


async def contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact | None:
    result: Contact | None = await db.scalar(
        select(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id)
    )
    return result


async def open_conversation(
    db: AsyncSession, scope: OrgScope, agent_id: str, contact_id: str, channel: str
) -> Conversation | None:
    result: Conversation | None = await db.scalar(
        select(Conversation)
        .where(
            Conversation.org_id == scope.org_id,
            Conversation.agent_id == agent_id,
            Conversation.contact_id == contact_id,
            Conversation.channel == channel,
            Conversation.status == "open",
        )
        .order_by(Conversation.last_message_at.desc())
        .limit(1)
    )
    return result


async def conversation(db: AsyncSession, scope: OrgScope, conversation_id: str) -> Conversation | None:
    result: Conversation | None = await db.scalar(
        select(Conversation).where(Conversation.org_id == scope.org_id, Conversation.id == conversation_id)
    )
    return result


async def conversations(
    db: AsyncSession,
    scope: OrgScope,
    *,
    agent_id: str | None,
    needs_attention: bool | None,
    status: str | None,
    limit: int,
    before: str | None,
) -> list[Conversation]:
    query = select(Conversation).where(Conversation.org_id == scope.org_id)
    if agent_id:
        query = query.where(Conversation.agent_id == agent_id)
    if needs_attention is not None:
        query = query.where(Conversation.needs_attention == needs_attention)
    if status:
        query = query.where(Conversation.status == status)
    if before:
        query = query.where(Conversation.id < before)
    return list(await db.scalars(query.order_by(Conversation.id.desc()).limit(limit)))


async def messages(db: AsyncSession, scope: OrgScope, conversation_id: str, *, limit: int = 500) -> list[Message]:
    return list(
        await db.scalars(
            select(Message)
            .where(Message.org_id == scope.org_id, Message.conversation_id == conversation_id)
            .order_by(Message.created_at, Message.id)
            .limit(limit)
        )
    )


async def recent_messages(
    db: AsyncSession, scope: OrgScope, conversation_id: str, *, limit: int, before: datetime | None = None
) -> list[Message]:
    """The last `limit` messages (optionally before a moment), oldest first: what a prompt's history needs,
    without reading and decrypting the whole conversation."""
    query = select(Message).where(Message.org_id == scope.org_id, Message.conversation_id == conversation_id)
    if before is not None:
        query = query.where(Message.created_at < before)
    newest = await db.scalars(query.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit))
    return list(reversed(list(newest)))


async def message_by_external_id(
    db: AsyncSession, scope: OrgScope, conversation_id: str, external_id: str
) -> Message | None:
    result: Message | None = await db.scalar(
        select(Message).where(
            Message.org_id == scope.org_id,
            Message.conversation_id == conversation_id,
            Message.external_id == external_id,
        )
    )
    return result


async def reply_to(db: AsyncSession, scope: OrgScope, message_id: str) -> Message | None:
    result: Message | None = await db.scalar(
        select(Message).where(Message.org_id == scope.org_id, Message.reply_to_id == message_id)
    )
    return result


async def message(db: AsyncSession, scope: OrgScope, message_id: str) -> Message | None:
    result: Message | None = await db.scalar(
        select(Message).where(Message.org_id == scope.org_id, Message.id == message_id)
    )
    return result


async def unanswered(db: AsyncSession, scope: OrgScope, *, before: datetime, limit: int) -> list[Message]:
    """Inbound messages recorded but never answered (their process died mid-turn), oldest first."""
    return list(
        await db.scalars(
            select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Message.org_id == scope.org_id,
                Message.role == "user",
                Message.handled_at.is_(None),
                Message.created_at < before,
                Conversation.handed_off.is_(False),
                Conversation.agent_id.is_not(None),
            )
            .order_by(Message.created_at)
            .limit(limit)
        )
    )


async def delete_conversation(db: AsyncSession, scope: OrgScope, conversation_id: str) -> int:
    """Deletes the conversation and its messages (explicitly, not trusting cascades); returns the messages
    deleted. Replies point at the messages they answer, so they go first."""
    where = (Message.org_id == scope.org_id, Message.conversation_id == conversation_id)
    replies = await db.execute(delete(Message).where(*where, Message.reply_to_id.is_not(None)))
    others = await db.execute(delete(Message).where(*where))
    await db.execute(
        delete(Conversation).where(Conversation.org_id == scope.org_id, Conversation.id == conversation_id)
    )
    return int(replies.rowcount or 0) + int(others.rowcount or 0)  # type: ignore[attr-defined]


# --- The staff inbox (dashboard) -----------------------------------------------------------------------------------

INBOX_STATES = ("open", "needs_attention", "low_confidence", "handed_off", "closed")


async def inbox(
    db: AsyncSession,
    scope: OrgScope,
    *,
    channel: str | None,
    state: str | None,
    agent_id: str | None,
    limit: int,
) -> list[Conversation]:
    """Most recently active first. `state` is one of INBOX_STATES; every state but "closed" means open ones."""
    query = select(Conversation).where(Conversation.org_id == scope.org_id)
    if channel:
        query = query.where(Conversation.channel == channel)
    if agent_id:
        query = query.where(Conversation.agent_id == agent_id)
    if state == "closed":
        query = query.where(Conversation.status == "closed")
    elif state:
        query = query.where(Conversation.status == "open")
        if state == "needs_attention":
            query = query.where(Conversation.needs_attention.is_(True))
        elif state == "low_confidence":
            query = query.where(Conversation.low_confidence.is_(True))
        elif state == "handed_off":
            query = query.where(Conversation.handed_off.is_(True))
    query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit)
    return list(await db.scalars(query))


async def notes(db: AsyncSession, scope: OrgScope, conversation_id: str) -> list[ConversationNote]:
    return list(
        await db.scalars(
            select(ConversationNote)
            .where(ConversationNote.org_id == scope.org_id, ConversationNote.conversation_id == conversation_id)
            .order_by(ConversationNote.created_at, ConversationNote.id)
        )
    )


async def messages_since(db: AsyncSession, scope: OrgScope, conversation_id: str, since: datetime) -> list[Message]:
    """Messages created at or after a moment, oldest first (the reader drops the ones it already shows: two
    messages can share a timestamp, so "strictly after" could miss one)."""
    return list(
        await db.scalars(
            select(Message)
            .where(
                Message.org_id == scope.org_id,
                Message.conversation_id == conversation_id,
                Message.created_at >= since,
            )
            .order_by(Message.created_at, Message.id)
            .limit(500)
        )
    )
