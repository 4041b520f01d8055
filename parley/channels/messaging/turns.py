"""From accepted messages to one engine turn per burst (see the package docstring).

`take_turn` handles one sender on one connection: it claims every pending row of theirs (`FOR UPDATE SKIP
LOCKED`, so two workers never take the same burst), orders them by the provider's timestamp, resolves the
person, stores the messages (sealed under the person's key) and marks the rows processed — one short write
transaction. Media is fetched after it commits (network), then the engine answers the burst once; the reply and
its outbound row are stored together (`conversations.service.answer(on_stored=…)`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import repository as agents_repo
from parley.channels.messaging import contacts, media, outbound
from parley.channels.messaging.intake import payload_record
from parley.channels.messaging.shapes import CONVERSATION_CHANNEL, InboundMessage, OutboundBody
from parley.conversations import prompt
from parley.conversations import repository as conversations_repo
from parley.conversations import service as conversations
from parley.conversations.engine import Reply
from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.models import Agent, ChannelConnection, ChannelInbound, ChannelMedia, Message
from parley.privacy.keys import Keyring
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

log = logging.getLogger("parley.channels")

# SMS: Twilio's own opt-out keywords (its Advanced Opt-Out blocks the number for these anyway). WhatsApp has no
# such convention, and "cancel" or "yes" there are more likely answers to the agent: only the explicit words count.
STOP_WORDS = {
    "sms": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}),
    "whatsapp": frozenset({"STOP", "UNSUBSCRIBE"}),
}
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})
# A sender who never pauses still gets an answer: a burst is cut after this many burst windows.
LONGEST_BURST = 10


async def scope_for(runtime: Runtime, org_id: str) -> OrgScope:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        return await platform.system_scope(db, org_id, Actor.system())


async def ready_senders(runtime: Runtime, scope: OrgScope) -> list[tuple[str, str]]:
    """(connection, sender) pairs whose burst is over: nothing new from them for `channel_burst_seconds`."""
    now = runtime.clock.now()
    burst = timedelta(seconds=runtime.settings.channel_burst_seconds)
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        rows = (
            await db.execute(
                select(
                    ChannelInbound.connection_id,
                    ChannelInbound.sender,
                    func.max(ChannelInbound.received_at),
                    func.min(ChannelInbound.received_at),
                )
                .where(ChannelInbound.org_id == scope.org_id, ChannelInbound.state == "pending")
                .group_by(ChannelInbound.connection_id, ChannelInbound.sender)
            )
        ).all()
    return [
        (connection_id, sender)
        for connection_id, sender, newest, oldest in rows
        if newest <= now - burst or oldest <= now - burst * LONGEST_BURST
    ]


@dataclass
class _Turn:
    agent: Agent
    connection_id: str
    contact_id: str
    address: str
    conversation_id: str
    last_message_id: str
    text: str
    history: list[tuple[str, str]]
    answer: bool
    media_ids: list[str]


async def take_turn(runtime: Runtime, scope: OrgScope, connection_id: str, sender: str) -> int:
    """Process one sender's pending messages as one turn; returns how many messages it took."""
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        rows = list(
            await db.scalars(
                select(ChannelInbound)
                .where(
                    ChannelInbound.org_id == scope.org_id,
                    ChannelInbound.connection_id == connection_id,
                    ChannelInbound.sender == sender,
                    ChannelInbound.state == "pending",
                )
                .order_by(ChannelInbound.provider_timestamp, ChannelInbound.received_at, ChannelInbound.id)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return 0
        turn = await _record(db, runtime, scope, connection_id, sender, rows)
    if turn is None:
        return len(rows)
    if turn.media_ids:
        await media.fetch(runtime, scope, connection_id, turn.media_ids)
    if turn.answer:
        await _answer(runtime, scope, turn)
    return len(rows)


async def _record(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, connection_id: str, sender: str, rows: list[ChannelInbound]
) -> _Turn | None:
    now = runtime.clock.now()
    connection = await db.get(ChannelConnection, connection_id)
    agent = await agents_repo.agent(db, scope, connection.agent_id) if connection else None
    ring = Keyring(runtime.keystore, scope.org_id)
    pairs: list[tuple[ChannelInbound, InboundMessage]] = []
    for row in rows:
        opened = await ring.open(row.payload_sealed, record=payload_record(row.id)) if row.payload_sealed else None
        if isinstance(opened, bytes):
            pairs.append((row, InboundMessage.from_json(json.loads(opened))))
        else:
            row.state, row.processed_at, row.note = "ignored", now, "the payload could not be opened"
    if connection is None or agent is None or not pairs:
        for row, _ in pairs:
            row.state, row.payload_sealed, row.processed_at = "ignored", None, now
            row.note = "no agent answers on this channel any more"
        return None
    rows = [row for row, _ in pairs]
    messages = [message for _, message in pairs]
    identifiers = tuple(dict.fromkeys(i for m in messages for i in m.identifiers)) or (("phone", sender),)
    contact = await contacts.resolve_contact(db, runtime, scope, identifiers)
    if contact.display_name is None:
        contact.display_name = next((m.display_name for m in messages if m.display_name), None)
    state = await contacts.channel_contact(db, runtime, scope, connection_id, sender, contact.id)
    newest = max(m.timestamp for m in messages)
    if state.last_inbound_at is None or state.last_inbound_at < newest:
        state.last_inbound_at = newest
    keywords = [_keyword(connection.kind, m) for m in messages]
    for keyword in keywords:  # in the person's order: STOP then START leaves them opted in
        if keyword in ("stop", "start"):
            await contacts.record_opt_out(
                db, runtime, scope, state, opted_out=keyword == "stop", source=connection.kind
            )
    if connection.kind == "email":  # email channel: each email thread is its own conversation
        from parley.channels.email.threads import email_conversation

        conversation = await email_conversation(db, runtime, scope, agent, contact, connection, messages)
    else:
        conversation = await conversations.conversation_for(
            db, runtime, scope, agent, contact, CONVERSATION_CHANNEL[connection.kind]
        )
    recent = await conversations_repo.recent_messages(db, scope, conversation.id, limit=prompt.HISTORY_MESSAGES)
    history = [h for _, h in await conversations.prompt_history(ring, recent)]
    cipher = await ring.subject(contact.id)
    stored: list[Message] = []
    media_ids: list[str] = []
    for position, message in enumerate(messages):
        item = Message(
            id=new_id("msg"),
            org_id=scope.org_id,
            conversation_id=conversation.id,
            role="user",
            external_id=f"{connection.kind}:{message.provider_message_id}"[:200],
            # The provider's time, not arrival time, orders the conversation (ties keep the burst's order).
            created_at=min(message.timestamp, now) + timedelta(microseconds=position),
            handled_at=now,
            citations=[],
        )
        item.body_sealed = cipher.encrypt_text(render(message), record=conversations.message_record(item.id))
        db.add(item)
        stored.append(item)
    await db.flush()  # the messages exist before media rows point at them
    for row, item, message in zip(rows, stored, messages, strict=True):
        for position, ref in enumerate(message.media):
            medium = ChannelMedia(
                id=new_id("med"),
                org_id=scope.org_id,
                inbound_id=row.id,
                contact_id=contact.id,
                message_id=item.id,
                position=position,
                kind=ref.kind[:16],
                provider_ref=ref.ref[:1000],
                attempts=0,
                mime_type=ref.mime_type,
                filename=ref.filename,
                created_at=now,
            )
            db.add(medium)
            media_ids.append(medium.id)
    await db.flush()
    for row, item in zip(rows, stored, strict=False):
        row.state, row.payload_sealed, row.processed_at = "processed", None, now
        row.contact_id, row.conversation_id, row.message_id = contact.id, conversation.id, item.id
    restricted = contact.restricted_at is not None
    answer = not (conversation.handed_off or restricted or keywords[-1] is not None)
    if restricted:
        conversation.needs_attention = True
        conversation.attention_reason = "processing restricted for this person (Art. 18): staff reply only"
    last = stored[-1]
    if answer:
        last.handled_at = None  # answered by the turn below (or, after a crash, by the recovery sweep)
    if "help" in keywords:
        await outbound.enqueue(
            db,
            runtime,
            scope,
            connection_id=connection_id,
            contact_id=contact.id,
            to=sender,
            body=OutboundBody(text=help_text(agent)),
            dedupe_key=f"help:{last.id}",
            conversation_id=conversation.id,
        )
        answer = False
        last.handled_at = now
    conversation.last_message_at = now
    await db.flush()
    return _Turn(
        agent=agent,
        connection_id=connection_id,
        contact_id=contact.id,
        address=sender,
        conversation_id=conversation.id,
        last_message_id=last.id,
        text="\n".join(render(m) for m in messages),
        history=history,
        answer=answer,
        media_ids=media_ids,
    )


def render(message: InboundMessage) -> str:
    """The message as the engine and staff read it: its text, and a line per attachment or shared place."""
    parts = [message.text] if message.text else []
    for ref in message.media:
        parts.append(f"[{ref.kind}{': ' + ref.caption if ref.caption else ''}]")
    location = message.extra.get("location")
    if isinstance(location, dict):
        name = location.get("name") or location.get("address") or ""
        parts.append(f"[location {location.get('latitude')},{location.get('longitude')} {name}]".strip())
    return "\n".join(parts) or "[empty message]"


def help_text(agent: Agent) -> str:
    return f"{agent.name}: write your question and we will answer. Reply STOP to stop receiving messages."


def _keyword(kind: str, message: InboundMessage) -> str | None:
    """STOP / START / HELP, when a message is just that word (SMS and WhatsApp conventions; not for email)."""
    channel = CONVERSATION_CHANNEL[kind]
    if channel not in STOP_WORDS:
        return None
    word = message.text.strip().rstrip(".!").upper()
    if word in STOP_WORDS[channel]:
        return "stop"
    if word in START_WORDS:
        return "start"
    if word in HELP_WORDS:
        return "help"
    return None


async def _answer(runtime: Runtime, scope: OrgScope, turn: _Turn) -> None:
    async def send_reply(db: AsyncSession, reply_message: Message, reply: Reply) -> None:
        await outbound.enqueue(
            db,
            runtime,
            scope,
            connection_id=turn.connection_id,
            contact_id=turn.contact_id,
            to=turn.address,
            body=OutboundBody(text=reply.text),
            dedupe_key=f"message:{reply_message.id}",
            conversation_id=turn.conversation_id,
            message_id=reply_message.id,
        )

    async for _ in conversations.answer(
        runtime,
        scope,
        turn.agent,
        turn.conversation_id,
        turn.last_message_id,
        turn.text,
        turn.history,
        on_stored=send_reply,
    ):
        pass


def burst_deadline(runtime: Runtime, newest: datetime) -> float:
    """Seconds until a burst whose newest message arrived at `newest` is over."""
    burst = runtime.settings.channel_burst_seconds
    return max(0.0, burst - (runtime.clock.now() - newest).total_seconds())
