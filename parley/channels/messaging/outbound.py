"""The channel outbox: what to send, written in the transaction that decided it; sent by `deliver`.

Claims are leases, as in the email outbox (`parley.outbox`): a worker claims due rows (`FOR UPDATE SKIP LOCKED`
on PostgreSQL), commits, sends, and settles the row only if its claim still holds it. Before each send the rules
that protect the person are checked again, at send time, because they may have changed since the row was
written: an opted-out person is never messaged; on WhatsApp, free text goes out only within 24 hours of the
person's last message — outside it the connection's approved template is sent instead, or, without one, the row
fails with a reason and the conversation is flagged for staff. Retryable provider errors back off exponentially;
final ones fail the row and flag the conversation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.messaging import contacts
from parley.channels.messaging.connections import live_connection
from parley.channels.messaging.senders import sender_for
from parley.channels.messaging.shapes import WINDOWED_KINDS, LiveConnection, OutboundBody, SendError
from parley.kit.db import insert_ignoring_conflict, set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import ChannelOutbound, Conversation
from parley.privacy.keys import Erased, Keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

log = logging.getLogger("parley.channels")

BATCH = 20
LEASE = timedelta(minutes=5)
NOT_SENT_WITHIN = timedelta(seconds=90)


def body_record(outbound_id: str) -> str:
    return f"channel_outbound:{outbound_id}:body"


async def enqueue(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    *,
    connection_id: str,
    contact_id: str,
    to: str,
    body: OutboundBody,
    dedupe_key: str,
    conversation_id: str | None = None,
    message_id: str | None = None,
) -> None:
    """Queue a send in the caller's transaction. Idempotent per `dedupe_key` (e.g. one per reply message)."""
    now = runtime.clock.now()
    outbound_id = new_id("cob")
    cipher = await Keyring(runtime.keystore, scope.org_id).subject(contact_id)
    await insert_ignoring_conflict(
        db,
        ChannelOutbound.__table__,
        {
            "id": outbound_id,
            "org_id": scope.org_id,
            "connection_id": connection_id,
            "contact_id": contact_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "to_address": to,
            "body_sealed": cipher.encrypt(json.dumps(body.to_json()).encode(), record=body_record(outbound_id)),
            "dedupe_key": f"{scope.org_id}/{dedupe_key}",
            "state": "pending",
            "delivery": "queued",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )


def _due(scope: OrgScope, now_: object) -> list[ColumnElement[bool]]:
    return [
        ChannelOutbound.org_id == scope.org_id,
        ChannelOutbound.state == "pending",
        ChannelOutbound.next_attempt_at <= now_,
        or_(ChannelOutbound.claimed_until.is_(None), ChannelOutbound.claimed_until <= now_),
    ]


async def has_due(db: AsyncSession, scope: OrgScope, runtime: Runtime) -> bool:
    return (await db.scalar(select(ChannelOutbound.id).where(*_due(scope, runtime.clock.now())).limit(1))) is not None


@dataclass(frozen=True)
class _Claimed:
    id: str
    connection_id: str
    contact_id: str
    conversation_id: str | None
    to: str
    body_sealed: bytes
    attempts: int


async def deliver(runtime: Runtime, scope: OrgScope, counts: dict[str, int]) -> None:
    """Send what is due in one organisation, batch after batch, until nothing is."""
    while await _deliver_batch(runtime, scope, counts):
        pass


async def _deliver_batch(runtime: Runtime, scope: OrgScope, counts: dict[str, int]) -> bool:
    token = new_id("clm")
    now = runtime.clock.now()
    lease_until = now + LEASE
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        rows = list(
            await db.scalars(
                select(ChannelOutbound)
                .where(*_due(scope, now))
                .order_by(ChannelOutbound.created_at, ChannelOutbound.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.claimed_until, row.claim_token = lease_until, token
            row.attempts += 1
        claimed = [
            _Claimed(r.id, r.connection_id, r.contact_id, r.conversation_id, r.to_address, r.body_sealed, r.attempts)
            for r in rows
        ]
    for item in claimed:
        if runtime.clock.now() > lease_until - NOT_SENT_WITHIN:
            break
        outcome = await _send_one(runtime, scope, item)
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
        await _settle(runtime, scope, item, token, outcome)
    return len(claimed) == BATCH


@dataclass(frozen=True)
class _Outcome:
    kind: str  # sent, retry, failed
    provider_message_id: str | None = None
    code: str | None = None
    reason: str | None = None
    flag: bool = False  # tell staff on the conversation
    opted_out: bool = False  # the provider says the person opted out: record it, so they are never messaged


async def _send_one(runtime: Runtime, scope: OrgScope, item: _Claimed) -> _Outcome:
    connection = await live_connection(runtime, item.connection_id)
    if connection is None:
        return _Outcome("failed", code="no_connection", reason="the channel was removed", flag=True)
    if not connection.enabled:
        return _Outcome("retry", code="disabled", reason="waiting: the channel is switched off")
    sender = sender_for(connection.kind, runtime)
    if sender is None:
        return _Outcome("failed", code="no_sender", reason=f"no sender for {connection.kind} channels", flag=True)
    opened = await Keyring(runtime.keystore, scope.org_id).open(item.body_sealed, record=body_record(item.id))
    if isinstance(opened, Erased):
        return _Outcome("failed", code="erased", reason="the person was erased before the message went out")
    body = OutboundBody.from_json(json.loads(opened))
    checked = await _check_rules(runtime, scope, connection, item, body)
    if isinstance(checked, _Outcome):
        return checked
    try:
        sent = await sender.send(connection, item.to, checked, key=item.id)
    except SendError as exc:
        final = not exc.retryable or item.attempts >= runtime.settings.channel_max_attempts
        log.warning(
            "channel send failed",
            extra={"outbound_id": item.id, "code": exc.code, "attempt": item.attempts, "final": final},
        )
        if exc.opted_out:
            return _Outcome("failed", code="opted_out", reason=exc.reason, opted_out=True)
        if exc.outside_window:
            return _Outcome("failed", code=exc.code, reason=_window_reason(connection, refused=True), flag=True)
        return _Outcome("failed" if final else "retry", code=exc.code, reason=exc.reason, flag=final)
    return _Outcome("sent", provider_message_id=sent.provider_message_id)


async def _check_rules(
    runtime: Runtime, scope: OrgScope, connection: LiveConnection, item: _Claimed, body: OutboundBody
) -> OutboundBody | _Outcome:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        state = await contacts.find_channel_contact(db, scope, connection.id, item.to)
    if state is not None and state.opted_out_at is not None:
        return _Outcome("failed", code="opted_out", reason="the person opted out (STOP): not messaged")
    if connection.kind not in WINDOWED_KINDS or body.template is not None:
        return body
    if contacts.within_window(state, runtime.clock.now()):
        return body
    template = connection.config.get("window_template")
    if not template:
        return _Outcome("failed", code="outside_window", reason=_window_reason(connection, refused=False), flag=True)
    return OutboundBody(
        template=str(template["name"]),
        language=str(template.get("language") or "en"),
        parameters=tuple(str(p) for p in template.get("parameters") or ()),
        extra={"content_sid": template.get("content_sid")} if template.get("content_sid") else {},
    )


def _window_reason(connection: LiveConnection, *, refused: bool) -> str:
    if refused:
        return "WhatsApp refused free text: the person last wrote more than 24 hours ago (its service window)"
    return (
        "reply not sent: the person last wrote more than 24 hours ago (WhatsApp's service window) and the "
        f"channel {connection.id} has no approved template configured (config.window_template)"
    )


async def _settle(runtime: Runtime, scope: OrgScope, item: _Claimed, token: str, outcome: _Outcome) -> None:
    now = runtime.clock.now()
    values: dict[str, object]
    if outcome.kind == "sent":
        values = {"state": "sent", "delivery": "accepted", "settled_at": now, "last_error": None, "error_code": None}
        values["provider_message_id"] = outcome.provider_message_id
    elif outcome.kind == "failed":
        values = {"state": "failed", "delivery": "failed", "settled_at": now}
        values.update(last_error=outcome.reason, error_code=outcome.code)
    else:
        values = {"last_error": outcome.reason, "error_code": outcome.code}
        values["next_attempt_at"] = now + backoff(runtime, item.attempts)
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", scope.org_id)
        result = await db.execute(
            update(ChannelOutbound)
            .where(ChannelOutbound.id == item.id, ChannelOutbound.claim_token == token)
            .values(claimed_until=None, claim_token=None, **values)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            log.warning("channel outbound row no longer held by this claim", extra={"outbound_id": item.id})
            return
        if outcome.opted_out:
            state = await contacts.find_channel_contact(db, scope, item.connection_id, item.to)
            if state is not None:
                await contacts.record_opt_out(db, runtime, scope, state, opted_out=True, source="provider")
        if outcome.flag and item.conversation_id:
            await db.execute(
                update(Conversation)
                .where(Conversation.org_id == scope.org_id, Conversation.id == item.conversation_id)
                .values(needs_attention=True, attention_reason=(outcome.reason or "")[:200])
            )


def backoff(runtime: Runtime, attempts: int) -> timedelta:
    settings = runtime.settings
    seconds = settings.channel_backoff_base_seconds * 2 ** min(max(attempts - 1, 0), 30)
    return timedelta(seconds=min(seconds, settings.channel_backoff_max_seconds))
