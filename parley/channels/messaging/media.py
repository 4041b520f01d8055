"""Inbound media: fetched from the provider after the message is stored, sealed under the person's key (erasing
them crypto-shreds it), retried by the reconciler when the provider was unreachable."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from parley.channels.messaging.connections import live_connection
from parley.channels.messaging.senders import sender_for
from parley.channels.messaging.shapes import MediaRef, SendError
from parley.models import ChannelInbound, ChannelMedia
from parley.privacy.keys import Keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

log = logging.getLogger("parley.channels")

MAX_ATTEMPTS = 5
MAX_BYTES = 20 * 1024 * 1024
RETRY_WITHIN = timedelta(days=2)  # providers keep media for a limited time (WhatsApp: 30 days, URLs: minutes)


def media_record(media_id: str) -> str:
    return f"channel_media:{media_id}:content"


async def fetch(runtime: Runtime, scope: OrgScope, connection_id: str, media_ids: list[str]) -> int:
    """Fetch and seal the given media items; returns how many were stored."""
    connection = await live_connection(runtime, connection_id)
    sender = sender_for(connection.kind, runtime) if connection else None
    if connection is None or sender is None:
        return 0
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        items = list(
            await db.scalars(
                select(ChannelMedia).where(ChannelMedia.org_id == scope.org_id, ChannelMedia.id.in_(media_ids))
            )
        )
    stored = 0
    for item in items:
        if item.content_sealed is not None or item.contact_id is None:
            continue
        values: dict[str, object]
        try:
            got = await sender.fetch_media(connection, MediaRef(item.kind, item.provider_ref, item.mime_type))
            if len(got.content) > MAX_BYTES:
                raise SendError(f"media larger than {MAX_BYTES} bytes", retryable=False)
        except SendError as exc:
            log.warning("media not fetched", extra={"media_id": item.id, "reason": exc.reason})
            values = {"attempts": item.attempts + 1, "last_error": exc.reason[:500]}
            if not exc.retryable:
                values["attempts"] = MAX_ATTEMPTS
        else:
            cipher = await Keyring(runtime.keystore, scope.org_id).subject(item.contact_id)
            values = {
                "content_sealed": cipher.encrypt(got.content, record=media_record(item.id)),
                "size": len(got.content),
                "mime_type": got.mime_type or item.mime_type,
                "attempts": item.attempts + 1,
                "last_error": None,
            }
            stored += 1
        async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
            await db.execute(
                update(ChannelMedia)
                .where(ChannelMedia.org_id == scope.org_id, ChannelMedia.id == item.id)
                .values(values)
            )
    return stored


async def retry_missing(runtime: Runtime, scope: OrgScope) -> int:
    """Media whose fetch failed for a reason worth retrying, per connection."""
    since = runtime.clock.now() - RETRY_WITHIN
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        rows = (
            await db.execute(
                select(ChannelMedia.id, ChannelInbound.connection_id)
                .join(ChannelInbound, ChannelInbound.id == ChannelMedia.inbound_id)
                .where(
                    ChannelMedia.org_id == scope.org_id,
                    ChannelMedia.content_sealed.is_(None),
                    ChannelMedia.attempts < MAX_ATTEMPTS,
                    ChannelMedia.created_at >= since,
                )
                .limit(100)
            )
        ).all()
    by_connection: dict[str, list[str]] = {}
    for media_id, connection_id in rows:
        by_connection.setdefault(connection_id, []).append(media_id)
    return sum([await fetch(runtime, scope, c, ids) for c, ids in by_connection.items()])
