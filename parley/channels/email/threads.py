"""Which conversation an email belongs to, and what a reply needs to stay in the person's thread.

An email thread is a conversation. An inbound email joins an existing conversation of the same person when:
1. it was sent to that conversation's reply address and the address's MAC verifies (`addresses.py`); or
2. its `In-Reply-To` / `References` name one of our emails (`<outbound row id@domain>`, found in the channel
   outbox) or one of the person's earlier emails (kept as the message's `external_id`).
Otherwise it starts a new conversation. Either way the conversation must be the same person's: a genuine reply
address or Message-ID forwarded to someone else starts that someone's own conversation instead of reading into
another person's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.email import addresses
from parley.channels.messaging.shapes import InboundMessage
from parley.conversations import service as conversations
from parley.kit.ids import new_id
from parley.models import Agent, ChannelConnection, ChannelOutbound, Contact, Conversation, EmailThread, Message
from parley.privacy.keys import Keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

CHANNEL = "email"
MAX_REFERENCES = 20


def _email(message: InboundMessage) -> dict[str, Any]:
    value = message.extra.get("email")
    return value if isinstance(value, dict) else {}


async def email_conversation(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    agent: Agent,
    contact: Contact,
    connection: ChannelConnection,
    messages: Sequence[InboundMessage],
) -> Conversation:
    """The conversation these emails (one sender, one burst) belong to; its thread state updated."""
    conversation = await _threaded(db, runtime, scope, agent, contact, connection, messages)
    now = runtime.clock.now()
    if conversation is None:
        conversation = await conversations.new_conversation(db, runtime, scope, agent, contact, CHANNEL)
    elif conversation.status == "closed":
        conversation.status = "open"  # the person wrote again in this thread
    await _remember(db, scope, connection.id, conversation.id, messages, now)
    return conversation


async def _threaded(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    agent: Agent,
    contact: Contact,
    connection: ChannelConnection,
    messages: Sequence[InboundMessage],
) -> Conversation | None:
    candidates: list[str] = []
    domain = str(connection.config.get("inbound_domain") or "")
    if domain:
        key = addresses.reply_key((await Keyring(runtime.keystore, scope.org_id).org()).key)
        for message in reversed(messages):
            for recipient in _email(message).get("recipients") or []:
                if found := addresses.verify(key, scope.org_id, str(recipient), domain):
                    candidates.append(found)
    thread_ids = [
        i
        for m in reversed(messages)
        for i in [*_email(m).get("in_reply_to", []), *reversed(_email(m).get("references", []))]
    ]
    if thread_ids:
        ours = [_outbound_id(i) for i in thread_ids]
        outbound_ids = [i for i in ours if i]
        if outbound_ids:
            rows = await db.execute(
                select(ChannelOutbound.id, ChannelOutbound.conversation_id).where(
                    ChannelOutbound.org_id == scope.org_id, ChannelOutbound.id.in_(outbound_ids)
                )
            )
            by_id = {row_id: conversation_id for row_id, conversation_id in rows.all()}
            candidates += [c for i in outbound_ids if (c := by_id.get(i))]
        external = [f"email:{i}"[:200] for i in thread_ids]
        rows = await db.execute(
            select(Message.external_id, Message.conversation_id).where(
                Message.org_id == scope.org_id, Message.external_id.in_(external)
            )
        )
        by_external = {external_id: conversation_id for external_id, conversation_id in rows.all()}
        candidates += [c for e in external if (c := by_external.get(e))]
    for conversation_id in dict.fromkeys(candidates):
        conversation = await db.scalar(
            select(Conversation).where(
                Conversation.org_id == scope.org_id,
                Conversation.id == conversation_id,
                Conversation.contact_id == contact.id,
                Conversation.agent_id == agent.id,
                Conversation.channel == CHANNEL,
            )
        )
        if conversation is not None:
            return conversation
    return None


def _outbound_id(message_id: str) -> str | None:
    """`<cob_…@domain>` is one of ours: the channel outbox row's id (see `sender.py`)."""
    local = message_id.strip("<>").partition("@")[0]
    return local if local.startswith("cob_") and len(local) <= 40 else None


async def _remember(
    db: AsyncSession,
    scope: OrgScope,
    connection_id: str,
    conversation_id: str,
    messages: Sequence[InboundMessage],
    now: Any,
) -> None:
    latest = max(messages, key=lambda m: m.timestamp)
    details = _email(latest)
    thread = await db.scalar(
        select(EmailThread).where(EmailThread.org_id == scope.org_id, EmailThread.conversation_id == conversation_id)
    )
    references = [*details.get("references", []), *details.get("in_reply_to", []), latest.provider_message_id]
    if thread is None:
        thread = EmailThread(
            id=new_id("eth"),
            org_id=scope.org_id,
            conversation_id=conversation_id,
            connection_id=connection_id,
            subject=str(details.get("subject") or "")[:500],
            references=[],
            created_at=now,
        )
        db.add(thread)
    merged = list(dict.fromkeys([*thread.references, *references]))
    if len(merged) > MAX_REFERENCES:
        merged = [merged[0], *merged[-(MAX_REFERENCES - 1) :]]
    thread.references = merged
    thread.last_message_id = latest.provider_message_id[:250]
    thread.updated_at = now
    await db.flush()
