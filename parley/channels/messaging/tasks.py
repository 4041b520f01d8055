"""Reconcilers: `channels.process_inbound` (bursts → turns, media retries, replies never handed to the outbox)
and `channels.deliver` (the channel outbox). Both derive their work from rows and can run in several workers.
`nudge` runs the same steps in this process right after a webhook is accepted, so a reply does not wait for
the next reconcile round; the reconcilers catch whatever a nudge missed (a crash, another process)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.messaging import media, outbound, turns
from parley.channels.messaging.shapes import CONVERSATION_CHANNEL, OutboundBody
from parley.conversations import service as conversations
from parley.kit.db import unit_of_work
from parley.models import ChannelInbound, ChannelOutbound, Conversation, Message, Organization
from parley.privacy.keys import Erased, Keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

log = logging.getLogger("parley.channels")

# Replies (by the AI or by staff) in channel conversations, younger than this, that have no outbound row yet.
UNSENT_WITHIN = timedelta(days=1)
# A reply stored less than this ago may still be getting its outbound row from the turn that made it.
UNSENT_AFTER = timedelta(seconds=30)


async def _org_ids(runtime: Runtime) -> list[str]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        return list(await db.scalars(select(Organization.id)))


async def process_inbound(runtime: Runtime) -> dict[str, int]:
    counts = {"messages": 0, "media": 0, "unsent_replies": 0}
    for org_id in await _org_ids(runtime):
        scope = await turns.scope_for(runtime, org_id)
        for connection_id, sender in await turns.ready_senders(runtime, scope):
            counts["messages"] += await turns.take_turn(runtime, scope, connection_id, sender)
        counts["media"] += await media.retry_missing(runtime, scope)
        counts["unsent_replies"] += await enqueue_unsent_replies(runtime, scope)
    return counts


async def deliver_channels(runtime: Runtime) -> dict[str, int]:
    counts: dict[str, int] = {}
    for org_id in await _org_ids(runtime):
        scope = await turns.scope_for(runtime, org_id)
        async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
            due = await outbound.has_due(db, scope, runtime)
        if due:
            await outbound.deliver(runtime, scope, counts)
    return counts


async def enqueue_unsent_replies(runtime: Runtime, scope: OrgScope) -> int:
    """Replies in channel conversations that never reached the outbox: a staff reply from the inbox, or an AI
    reply stored by the generic crash-recovery reconciler. Each goes out through the connection the person last
    wrote on; the outbound row's key (the message id) makes this safe to repeat."""
    now = runtime.clock.now()
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        replies = list(
            await db.scalars(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.org_id == scope.org_id,
                    Message.role.in_(("assistant", "staff")),
                    Message.created_at >= now - UNSENT_WITHIN,
                    Message.created_at <= now - UNSENT_AFTER,
                    Conversation.channel.in_(set(CONVERSATION_CHANNEL.values())),
                    ~exists().where(ChannelOutbound.message_id == Message.id),
                )
                .limit(100)
            )
        )
        sent = 0
        for reply in replies:
            sent += await _enqueue_reply(db, runtime, scope, reply)
    return sent


async def _enqueue_reply(db: AsyncSession, runtime: Runtime, scope: OrgScope, reply: Message) -> int:
    last_inbound = await db.scalar(
        select(ChannelInbound)
        .where(ChannelInbound.org_id == scope.org_id, ChannelInbound.conversation_id == reply.conversation_id)
        .order_by(ChannelInbound.provider_timestamp.desc())
        .limit(1)
    )
    if last_inbound is None or last_inbound.contact_id is None:
        return 0
    text = await conversations.open_body(Keyring(runtime.keystore, scope.org_id), reply)
    if isinstance(text, Erased):
        return 0
    await outbound.enqueue(
        db,
        runtime,
        scope,
        connection_id=last_inbound.connection_id,
        contact_id=last_inbound.contact_id,
        to=last_inbound.sender,
        body=OutboundBody(text=text),
        dedupe_key=f"message:{reply.id}",
        conversation_id=reply.conversation_id,
        message_id=reply.id,
    )
    return 1


# --- In-process nudges ------------------------------------------------------------------------------------------

_running: dict[tuple[str, str, str], asyncio.Task[None]] = {}


def nudge(runtime: Runtime, org_id: str, connection_id: str, senders: set[str]) -> None:
    """After a webhook commits: wait out each sender's burst, take the turn and send the reply, in a task of
    this process (one per sender at a time). Off in tests, where the reconcilers are driven by hand."""
    if not runtime.settings.channel_dispatch_inline:
        return
    for sender in senders:
        key = (org_id, connection_id, sender)
        if key not in _running:
            task = asyncio.get_running_loop().create_task(_run(runtime, key))
            _running[key] = task
            task.add_done_callback(lambda _t, k=key: _running.pop(k, None))  # type: ignore[misc]


async def _run(runtime: Runtime, key: tuple[str, str, str]) -> None:
    org_id, connection_id, sender = key
    try:
        scope = await turns.scope_for(runtime, org_id)
        while True:
            async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
                newest = await db.scalar(
                    select(func.max(ChannelInbound.received_at)).where(
                        ChannelInbound.org_id == org_id,
                        ChannelInbound.connection_id == connection_id,
                        ChannelInbound.sender == sender,
                        ChannelInbound.state == "pending",
                    )
                )
            if newest is None:
                return
            wait = turns.burst_deadline(runtime, newest)
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        await turns.take_turn(runtime, scope, connection_id, sender)
        await outbound.deliver(runtime, scope, {})
    except Exception:  # the reconcilers will pick the work up
        log.exception("channel nudge failed", extra={"connection_id": connection_id})
