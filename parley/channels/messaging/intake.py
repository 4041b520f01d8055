"""Accepting what a provider sends: the durable record first, nothing else inline.

`accept` is the whole of a webhook's database work: one INSERT per message (ON CONFLICT DO NOTHING on the unique
(connection, provider message id), so a duplicate — even one arriving at the same instant on another worker —
changes nothing), one per delivery report, in one transaction. Everything else happens in `turns`."""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parley.channels.messaging.shapes import InboundMessage, LiveConnection, StatusReport
from parley.kit.db import insert_ignoring_conflict, set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import ChannelInbound, ChannelOutbound, ChannelStatusEvent, Conversation
from parley.privacy.keys import Keyring
from parley.runtime import Runtime

# How far each delivery state is along; a report never moves a message backwards (reports arrive out of order).
PROGRESS = {"queued": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4}


def payload_record(inbound_id: str) -> str:
    return f"channel_inbound:{inbound_id}:payload"


async def accept(
    runtime: Runtime,
    connection: LiveConnection,
    messages: Sequence[InboundMessage],
    reports: Sequence[StatusReport] = (),
) -> None:
    """Record a webhook's messages and delivery reports durably; returns once they are committed.

    Group commit: webhooks arriving while a transaction is being written wait for the next one and share it
    (each in its own tenant), so under load there is one commit per batch rather than per request, with no
    added wait when the server is idle. A batch that fails is retried one webhook per transaction, so only the
    webhook at fault gets the error (and the provider retries it)."""
    if not messages and not reports:
        return
    group = _groups.get(runtime.engine)
    if group is None:
        group = _groups[runtime.engine] = _GroupCommit()
    loop = asyncio.get_running_loop()
    item = _Pending(connection, messages, reports, loop.create_future())
    group.queue.append(item)
    if group.drainer is None or group.drainer.done():
        group.drainer = loop.create_task(_drain(runtime, group))
    await asyncio.shield(item.done)


@dataclass
class _Pending:
    connection: LiveConnection
    messages: Sequence[InboundMessage]
    reports: Sequence[StatusReport]
    done: asyncio.Future[None]


@dataclass
class _GroupCommit:
    queue: list[_Pending] = field(default_factory=list)
    drainer: asyncio.Task[None] | None = None


MAX_BATCH = 200
_groups: weakref.WeakKeyDictionary[AsyncEngine, _GroupCommit] = weakref.WeakKeyDictionary()


async def _drain(runtime: Runtime, group: _GroupCommit) -> None:
    while group.queue:
        batch, group.queue = group.queue[:MAX_BATCH], group.queue[MAX_BATCH:]
        try:
            await _write(runtime, batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                continue
            for item in batch:
                try:
                    await _write(runtime, [item])
                except Exception as single:
                    _settle(item, single)
                else:
                    _settle(item, None)
        else:
            for item in batch:
                _settle(item, None)


async def _write(runtime: Runtime, batch: list[_Pending]) -> None:
    async with unit_of_work(runtime.sessionmaker) as db:
        for item in batch:
            await set_pg_setting(db, "app.org_id", item.connection.org_id)
            await record_inbound(db, runtime, item.connection, item.messages)
            for report in item.reports:
                await record_status(db, runtime, item.connection, report)


def _settle(item: _Pending, error: Exception | None) -> None:
    if item.done.done():
        return
    if error is None:
        item.done.set_result(None)
    else:
        item.done.set_exception(error)


async def record_inbound(
    db: AsyncSession, runtime: Runtime, connection: LiveConnection, messages: Sequence[InboundMessage]
) -> None:
    """Insert-or-ignore each message into `channel_inbound` (the caller's transaction, in the tenant)."""
    if not messages:
        return
    cipher = await Keyring(runtime.keystore, connection.org_id).org()
    now = runtime.clock.now()
    for position, message in enumerate(messages):
        inbound_id = new_id("inb")
        payload = json.dumps(message.to_json(), ensure_ascii=False).encode()
        await insert_ignoring_conflict(
            db,
            ChannelInbound.__table__,
            {
                "id": inbound_id,
                "org_id": connection.org_id,
                "connection_id": connection.id,
                "provider_message_id": message.provider_message_id[:200],
                "sender": message.sender[:320],
                "provider_timestamp": message.timestamp,
                # One microsecond apart: messages with the same provider timestamp (an album) keep their order.
                "received_at": now + timedelta(microseconds=position),
                "payload_sealed": cipher.encrypt(payload, record=payload_record(inbound_id)),
                "state": "pending",
            },
        )


async def record_status(db: AsyncSession, runtime: Runtime, connection: LiveConnection, report: StatusReport) -> None:
    """Keep the report (once) and move the outbound message's delivery state forward; a failure after the
    provider accepted the message flags the conversation, so staff learn that the person did not get it."""
    await insert_ignoring_conflict(
        db,
        ChannelStatusEvent.__table__,
        {
            "id": new_id("cse"),
            "org_id": connection.org_id,
            "connection_id": connection.id,
            "provider_message_id": report.provider_message_id[:200],
            "status": report.status[:16],
            "error_code": report.error_code,
            "error_title": (report.error_title or None) and report.error_title[:500],
            "occurred_at": report.timestamp,
            "created_at": runtime.clock.now(),
        },
    )
    where = (
        ChannelOutbound.org_id == connection.org_id,
        ChannelOutbound.connection_id == connection.id,
        ChannelOutbound.provider_message_id == report.provider_message_id,
    )
    if report.status == "failed":
        reason = f"the provider could not deliver the reply: {report.error_code or ''} {report.error_title or ''}"
        result = await db.execute(
            update(ChannelOutbound)
            .where(*where, ChannelOutbound.delivery.not_in(("delivered", "read")))
            .values(delivery="failed", error_code=report.error_code, last_error=reason.strip())
            .returning(ChannelOutbound.conversation_id)
        )
        for conversation_id in result.scalars():
            await db.execute(
                update(Conversation)
                .where(Conversation.org_id == connection.org_id, Conversation.id == conversation_id)
                .values(needs_attention=True, attention_reason=reason.strip()[:200])
            )
        return
    rank = PROGRESS.get(report.status)
    if rank is None:
        return
    behind = [state for state, r in PROGRESS.items() if r < rank]
    await db.execute(
        update(ChannelOutbound).where(*where, or_(ChannelOutbound.delivery.in_(behind))).values(delivery=report.status)
    )
