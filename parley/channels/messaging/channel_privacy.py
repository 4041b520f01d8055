"""The personal data the messaging channels hold, in a person's export and erased with them.

Called by `parley.privacy.export` and `parley.privacy.erasure` (one line each). Media and outbound bodies are
sealed under the person's key, so destroying it already makes every copy unreadable; the rows go too. A contact
merged into the erased one is the same person (staff said so): their key is destroyed and their rows deleted.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.messaging.contacts import merged_sources
from parley.channels.messaging.media import media_record
from parley.channels.messaging.outbound import body_record
from parley.models import (
    ChannelConnection,
    ChannelContact,
    ChannelInbound,
    ChannelMedia,
    ChannelOutbound,
    Contact,
    ContactIdentifier,
    ContactMerge,
)
from parley.privacy.keys import Erased, Keyring
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


async def export_section(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_ids: list[str]) -> dict[str, Any]:
    ids = [*contact_ids, *await merged_sources(db, scope, contact_ids)]
    ring = Keyring(runtime.keystore, scope.org_id)
    kinds: dict[str, str] = {
        row.id: row.kind
        for row in await db.execute(
            select(ChannelConnection.id, ChannelConnection.kind).where(ChannelConnection.org_id == scope.org_id)
        )
    }
    addresses = list(
        await db.scalars(
            select(ChannelContact).where(ChannelContact.org_id == scope.org_id, ChannelContact.contact_id.in_(ids))
        )
    )
    media_items = list(
        await db.scalars(
            select(ChannelMedia)
            .where(ChannelMedia.org_id == scope.org_id, ChannelMedia.contact_id.in_(ids))
            .order_by(ChannelMedia.created_at, ChannelMedia.position)
        )
    )
    sends = list(
        await db.scalars(
            select(ChannelOutbound)
            .where(ChannelOutbound.org_id == scope.org_id, ChannelOutbound.contact_id.in_(ids))
            .order_by(ChannelOutbound.created_at)
        )
    )
    media_out = []
    for item in media_items:
        content = await ring.open(item.content_sealed, record=media_record(item.id)) if item.content_sealed else None
        media_out.append(
            {
                "id": item.id,
                "kind": item.kind,
                "mime_type": item.mime_type,
                "filename": item.filename,
                "size": item.size,
                "message_id": item.message_id,
                "erased": isinstance(content, Erased),
                "content_base64": base64.b64encode(content).decode() if isinstance(content, bytes) else None,
            }
        )
    sends_out = []
    for send in sends:
        body = await ring.open(send.body_sealed, record=body_record(send.id))
        sends_out.append(
            {
                "to": send.to_address,
                "channel": kinds.get(send.connection_id),
                "message": json.loads(body) if isinstance(body, bytes) else None,
                "state": send.state,
                "delivery": send.delivery,
                "created_at": _iso(send.created_at),
            }
        )
    return {
        "addresses": [
            {
                "channel": kinds.get(a.connection_id),
                "address": a.address,
                "last_message_at": _iso(a.last_inbound_at),
                "opted_out_at": _iso(a.opted_out_at),
            }
            for a in addresses
        ],
        "media": media_out,
        "sent_to_you": sends_out,
    }


async def erase(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_ids: list[str]) -> None:
    """Delete the channels' rows about these people (and contacts merged into them, keys destroyed first),
    including messages accepted from their addresses but not processed yet."""
    sources = await merged_sources(db, scope, contact_ids)
    for source in sources:
        await runtime.keystore.destroy_subject(scope.org_id, source)
    ids = [*contact_ids, *sources]
    addresses = list(
        await db.scalars(
            select(ContactIdentifier.value).where(
                ContactIdentifier.org_id == scope.org_id, ContactIdentifier.contact_id.in_(ids)
            )
        )
    )
    addresses += list(
        await db.scalars(
            select(ChannelContact.address).where(
                ChannelContact.org_id == scope.org_id, ChannelContact.contact_id.in_(ids)
            )
        )
    )
    org = scope.org_id
    await db.execute(delete(ChannelMedia).where(ChannelMedia.org_id == org, ChannelMedia.contact_id.in_(ids)))
    await db.execute(delete(ChannelOutbound).where(ChannelOutbound.org_id == org, ChannelOutbound.contact_id.in_(ids)))
    await db.execute(
        delete(ChannelInbound).where(
            ChannelInbound.org_id == org,
            or_(ChannelInbound.contact_id.in_(ids), ChannelInbound.sender.in_(addresses)),
        )
    )
    await db.execute(delete(ChannelContact).where(ChannelContact.org_id == org, ChannelContact.contact_id.in_(ids)))
    await db.execute(
        delete(ContactMerge).where(
            ContactMerge.org_id == org,
            or_(ContactMerge.source_contact_id.in_(ids), ContactMerge.target_contact_id.in_(ids)),
        )
    )
    if sources:
        await db.execute(delete(Contact).where(Contact.org_id == org, Contact.id.in_(sources)))
