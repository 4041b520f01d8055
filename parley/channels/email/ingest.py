"""Accepting one parsed email, whichever way it came (IMAP poll, Postmark, SendGrid): the durable record first.

Every email gets its row in the shared `channel_inbound` table, keyed by its Message-ID, so the same email
fetched twice — a second poll, a provider's retry — is one insert that changes nothing. What must not be
answered is recorded as `ignored` with the reason in the same statement's transaction: auto-replies, bulk and
list mail, our own address writing to itself, and bounces. A bounce also marks the email it reports on as
failed (through the channel layer's delivery reports), which flags the conversation for staff.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.email.mime import ParsedEmail
from parley.channels.email.normalise import to_inbound
from parley.channels.messaging.intake import record_inbound, record_status
from parley.channels.messaging.shapes import LiveConnection, StatusReport
from parley.kit.db import set_pg_setting, unit_of_work
from parley.models import ChannelInbound
from parley.runtime import Runtime

Outcome = Literal["accepted", "ignored"]


def ignore_reason(connection: LiveConnection, parsed: ParsedEmail) -> str | None:
    if parsed.automated:
        return f"not answered: {parsed.automated}"
    own = str(connection.config.get("address") or "").lower()
    if own and parsed.sender == own:
        return "not answered: sent from this channel's own address"
    if "@" not in parsed.sender:
        return "not answered: no sender address"
    return None


async def record_email(db: AsyncSession, runtime: Runtime, connection: LiveConnection, parsed: ParsedEmail) -> Outcome:
    """Record one email in the caller's transaction (already in the connection's tenant)."""
    now = runtime.clock.now()
    if parsed.bounce is not None and parsed.bounce.original_message_id:
        await record_status(
            db,
            runtime,
            connection,
            StatusReport(
                provider_message_id=parsed.bounce.original_message_id,
                status="failed",
                timestamp=now,
                error_code=(parsed.bounce.status or "bounce")[:40],
                error_title=parsed.bounce.diagnostic or "the receiving mail server returned the email",
            ),
        )
    inbound = to_inbound(parsed, now)
    await record_inbound(db, runtime, connection, [inbound])
    reason = ignore_reason(connection, parsed)
    if reason is None:
        return "accepted"
    await db.execute(
        update(ChannelInbound)
        .where(
            ChannelInbound.org_id == connection.org_id,
            ChannelInbound.connection_id == connection.id,
            ChannelInbound.provider_message_id == inbound.provider_message_id[:200],
            ChannelInbound.state == "pending",
        )
        .values(state="ignored", payload_sealed=None, processed_at=now, note=reason[:500])
    )
    return "ignored"


async def accept_emails(runtime: Runtime, connection: LiveConnection, emails: list[ParsedEmail]) -> list[Outcome]:
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", connection.org_id)
        return [await record_email(db, runtime, connection, parsed) for parsed in emails]
