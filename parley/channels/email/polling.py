"""Reconciler `email.poll_mailboxes`: read new mail from every email channel that names an IMAP server.

Per mailbox, one round: log in, find UIDs above the last one stored (or all, when UIDVALIDITY changed), fetch up
to `BATCH` with BODY.PEEK[], parse them in a worker thread, then in ONE transaction record them (unique per
Message-ID) and move the mailbox's high-water mark; only after that commit are they marked `\\Seen`. A crash
anywhere before the commit re-reads the same mail next round and the unique index absorbs it; a crash after it
leaves mail unflagged but never unrecorded. Mailboxes are polled one after another, each bounded by its batch.
"""

from __future__ import annotations

import logging
from datetime import datetime

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.email.imap import Fetched, ImapAccount, ImapError, ImapMailbox
from parley.channels.email.ingest import Outcome, record_email
from parley.channels.email.mime import Limits, ParsedEmail, parse_email
from parley.channels.messaging.connections import live_connection
from parley.channels.messaging.shapes import LiveConnection
from parley.channels.messaging.tasks import nudge
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.ids import new_id
from parley.models import ChannelConnection, EmailMailbox, Organization
from parley.runtime import Runtime

log = logging.getLogger("parley.channels.email")

BATCH = 50


def imap_account(connection: LiveConnection, timeout: float) -> ImapAccount | None:
    config = connection.config
    if not config.get("imap_host"):
        return None
    security = str(config.get("imap_security") or "ssl")
    return ImapAccount(
        host=str(config["imap_host"]),
        port=int(config.get("imap_port") or (993 if security == "ssl" else 143)),
        username=str(config.get("imap_username") or config.get("address") or ""),
        password=connection.secrets.get("imap_password", ""),
        mailbox=str(config.get("imap_mailbox") or "INBOX"),
        security=security,
        timeout=timeout,
    )


def limits_for(connection: LiveConnection) -> Limits:
    config = connection.config
    return Limits(
        max_attachments=int(config.get("max_attachments") or Limits.max_attachments),
        max_attachment_bytes=int(config.get("max_attachment_bytes") or Limits.max_attachment_bytes),
    )


async def poll_mailboxes(runtime: Runtime) -> dict[str, int]:
    counts = {"mailboxes": 0, "accepted": 0, "ignored": 0, "errors": 0}
    for connection in await _polled_connections(runtime):
        try:
            outcomes = await poll_mailbox(runtime, connection)
        except ImapError as exc:
            counts["errors"] += 1
            log.warning("IMAP poll failed", extra={"connection_id": connection.id, "reason": str(exc)})
            await _note_error(runtime, connection, str(exc))
            continue
        counts["mailboxes"] += 1
        counts["accepted"] += outcomes.count("accepted")
        counts["ignored"] += outcomes.count("ignored")
    return counts


async def poll_mailbox(runtime: Runtime, connection: LiveConnection) -> list[Outcome]:
    """One polling round of one mailbox; returns what became of each email read."""
    account = imap_account(connection, runtime.settings.smtp_timeout_seconds)
    if account is None:
        return []
    async with ImapMailbox(account) as box:
        state = await _state(runtime, connection)
        after = state[1] if state[0] == box.uidvalidity else 0
        uids = await box.new_uids(after, limit=BATCH)
        if not uids:
            await _save(runtime, connection, box.uidvalidity, after, [])
            return []
        fetched = await box.fetch(uids)
        parsed = await anyio.to_thread.run_sync(_parse_all, fetched, limits_for(connection))
        outcomes = await _save(runtime, connection, box.uidvalidity, max(uids), parsed)
        await box.mark_seen([f.uid for f in fetched])
    # Answer now rather than next round (embedded mode); the reconcilers catch what this misses.
    senders = {email.sender for email, outcome in zip(parsed, outcomes, strict=True) if outcome == "accepted"}
    nudge(runtime, connection.org_id, connection.id, senders)
    return outcomes


def _parse_all(fetched: list[Fetched], limits: Limits) -> list[ParsedEmail]:
    return [parse_email(f.raw, limits) for f in fetched]


async def _polled_connections(runtime: Runtime) -> list[LiveConnection]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
    ids: list[str] = []
    for org_id in org_ids:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            ids += await db.scalars(
                select(ChannelConnection.id).where(
                    ChannelConnection.org_id == org_id,
                    ChannelConnection.kind == "email",
                    ChannelConnection.enabled.is_(True),
                )
            )
    found = [await live_connection(runtime, connection_id) for connection_id in ids]
    return [c for c in found if c is not None and c.config.get("imap_host")]


async def _state(runtime: Runtime, connection: LiveConnection) -> tuple[int, int]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.org_id", connection.org_id)
        row = await db.scalar(select(EmailMailbox).where(EmailMailbox.connection_id == connection.id))
        return (row.uidvalidity, row.last_uid) if row else (0, 0)


async def _save(
    runtime: Runtime, connection: LiveConnection, uidvalidity: int, last_uid: int, parsed: list[ParsedEmail]
) -> list[Outcome]:
    """Record the emails and the new high-water mark together: both or neither."""
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", connection.org_id)
        outcomes = [await record_email(db, runtime, connection, email) for email in parsed]
        row = await _mailbox_row(db, connection, now)
        row.uidvalidity, row.last_uid, row.polled_at, row.last_error = uidvalidity, last_uid, now, None
    return outcomes


async def _note_error(runtime: Runtime, connection: LiveConnection, reason: str) -> None:
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", connection.org_id)
        row = await _mailbox_row(db, connection, runtime.clock.now())
        row.last_error = reason[:1000]


async def _mailbox_row(db: AsyncSession, connection: LiveConnection, now: datetime) -> EmailMailbox:
    row = await db.scalar(select(EmailMailbox).where(EmailMailbox.connection_id == connection.id))
    if row is None:
        row = EmailMailbox(
            id=new_id("emb"),
            org_id=connection.org_id,
            connection_id=connection.id,
            uidvalidity=0,
            last_uid=0,
            created_at=now,
        )
        db.add(row)
    return row
