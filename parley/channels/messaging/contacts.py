"""One person across channels, and what each channel knows of them.

A person is recognised by any of their identifiers (a WhatsApp id, an E.164 phone number, an email address):
the first one found decides the contact, and the others are attached to it, so someone who writes on WhatsApp and
then by SMS from the same number is one contact. Staff can merge two contacts (identifiers, conversations and
channel state move to the one that remains) and un-merge them: the merge records what moved, by id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.messaging.shapes import CONVERSATION_CHANNEL
from parley.consent import service as consent_service
from parley.conversations import repository as conversations_repo
from parley.conversations import service as conversations
from parley.kit.db import insert_ignoring_conflict
from parley.kit.errors import Conflict, InvalidField, NotFound
from parley.kit.ids import new_id
from parley.models import ChannelConnection, ChannelContact, Contact, ContactIdentifier, ContactMerge, Conversation
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


async def resolve_contact(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, identifiers: tuple[tuple[str, str], ...]
) -> Contact:
    """The contact behind any of `identifiers` (created on first sight), with all of them attached."""
    if not identifiers:
        raise ValueError("an inbound message needs at least one identifier")
    contact: Contact | None = None
    for kind, value in identifiers:
        found = await conversations_repo.identifier(db, scope, kind, value)
        if found is not None:
            contact = await conversations_repo.contact(db, scope, found.contact_id)
            break
    if contact is None:
        kind, value = identifiers[0]
        contact = await conversations.contact_for(db, runtime, scope, kind, value)
    for kind, value in identifiers:
        await conversations.attach_identifier(db, runtime, scope, contact.id, kind, value)
    return contact


async def channel_contact(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, connection_id: str, address: str, contact_id: str
) -> ChannelContact:
    """The person's state on one connection, created on first sight (safe against two first sights at once)."""
    await insert_ignoring_conflict(
        db,
        ChannelContact.__table__,
        {
            "id": new_id("chc"),
            "org_id": scope.org_id,
            "connection_id": connection_id,
            "contact_id": contact_id,
            "address": address,
            "created_at": runtime.clock.now(),
        },
    )
    found = await find_channel_contact(db, scope, connection_id, address)
    assert found is not None
    return found


async def find_channel_contact(
    db: AsyncSession, scope: OrgScope, connection_id: str, address: str
) -> ChannelContact | None:
    result: ChannelContact | None = await db.scalar(
        select(ChannelContact)
        .where(
            ChannelContact.org_id == scope.org_id,
            ChannelContact.connection_id == connection_id,
            ChannelContact.address == address,
        )
        .execution_options(populate_existing=True)
    )
    return result


async def record_opt_out(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact: ChannelContact, *, opted_out: bool, source: str
) -> None:
    """STOP (or START) from the person: from now on they are (no longer) messaged on this connection. Audited.

    A STOP is also a withdrawal of marketing consent, recorded in the consent ledger with how it was said, so that
    the person's proof shows it and marketing on every channel stops. START only lifts the block on this
    connection: it answers a conversation, it is not consent to marketing (that needs the text shown)."""
    if (contact.opted_out_at is not None) == opted_out:
        return
    contact.opted_out_at = runtime.clock.now() if opted_out else None
    await db.flush()
    if opted_out:
        kind = await db.scalar(select(ChannelConnection.kind).where(ChannelConnection.id == contact.connection_id))
        await consent_service.do_record(
            db,
            runtime,
            scope,
            contact_id=contact.contact_id,
            purpose="marketing",
            granted=False,
            channel=CONVERSATION_CHANNEL.get(kind or "", "api"),
            evidence={"kind": "opt_out", "source": source},
        )
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "contact.opted_out" if opted_out else "contact.opted_in",
        target_type="contact",
        target_id=contact.contact_id,
        details={"connection_id": contact.connection_id, "source": source},
    )


def within_window(contact: ChannelContact | None, now: datetime, hours: int = 24) -> bool:
    """Whether the person wrote within the last `hours` (WhatsApp's customer-service window)."""
    if contact is None or contact.last_inbound_at is None:
        return False
    return (now - contact.last_inbound_at).total_seconds() < hours * 3600


# --- Merging ---------------------------------------------------------------------------------------------------


async def _contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact:
    found = await conversations_repo.contact(db, scope, contact_id)
    if found is None:
        raise NotFound("contact not found")
    return found


async def do_merge(db: AsyncSession, runtime: Runtime, scope: OrgScope, source_id: str, target_id: str) -> ContactMerge:
    """Merge `source` into `target`: everything that recognises or talks to the source moves to the target."""
    source = await _contact(db, scope, source_id)
    target = await _contact(db, scope, target_id)
    if source.id == target.id:
        raise InvalidField("body.into_contact_id", "a contact cannot be merged into itself")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Conflict("one of these contacts was already merged; un-merge it first", code="already_merged")
    moved = {
        "identifiers": await _move(db, scope, ContactIdentifier, source.id, target.id),
        "conversations": await _move(db, scope, Conversation, source.id, target.id),
        "channel_contacts": await _move(db, scope, ChannelContact, source.id, target.id),
    }
    source.merged_into_id = target.id
    merge = ContactMerge(
        id=new_id("cmg"),
        org_id=scope.org_id,
        source_contact_id=source.id,
        target_contact_id=target.id,
        moved=moved,
        merged_by_user_id=scope.actor.user_id,
        created_at=runtime.clock.now(),
    )
    db.add(merge)
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "contact.merged",
        target_type="contact",
        target_id=source.id,
        details={"into": target.id, "merge_id": merge.id, **{k: len(v) for k, v in moved.items()}},
    )
    return merge


async def do_unmerge(db: AsyncSession, runtime: Runtime, scope: OrgScope, source_id: str) -> ContactMerge:
    """Undo the merge of `source`: exactly what moved moves back (what arrived since stays with the target)."""
    source = await _contact(db, scope, source_id)
    merge = await db.scalar(
        select(ContactMerge)
        .where(
            ContactMerge.org_id == scope.org_id,
            ContactMerge.source_contact_id == source.id,
            ContactMerge.undone_at.is_(None),
        )
        .order_by(ContactMerge.created_at.desc())
        .limit(1)
    )
    if merge is None or source.merged_into_id is None:
        raise Conflict("this contact is not merged into another", code="not_merged")
    target = merge.target_contact_id
    await _move_back(db, scope, ContactIdentifier, merge.moved.get("identifiers", []), target, source.id)
    await _move_back(db, scope, Conversation, merge.moved.get("conversations", []), target, source.id)
    await _move_back(db, scope, ChannelContact, merge.moved.get("channel_contacts", []), target, source.id)
    source.merged_into_id = None
    merge.undone_at = runtime.clock.now()
    await db.flush()
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "contact.unmerged",
        target_type="contact",
        target_id=source.id,
        details={"from": merge.target_contact_id, "merge_id": merge.id},
    )
    return merge


async def merged_sources(db: AsyncSession, scope: OrgScope, contact_ids: list[str]) -> list[str]:
    """Contacts merged (and not un-merged) into these: their keys seal part of these people's history."""
    return list(
        await db.scalars(
            select(ContactMerge.source_contact_id).where(
                ContactMerge.org_id == scope.org_id,
                ContactMerge.target_contact_id.in_(contact_ids),
                ContactMerge.undone_at.is_(None),
            )
        )
    )


_Movable = type[ContactIdentifier] | type[Conversation] | type[ChannelContact]


async def _move(db: AsyncSession, scope: OrgScope, model: _Movable, source_id: str, target_id: str) -> list[str]:
    ids = list(await db.scalars(select(model.id).where(model.org_id == scope.org_id, model.contact_id == source_id)))
    if ids:
        await db.execute(
            update(model)
            .where(model.org_id == scope.org_id, model.id.in_(ids))
            .values(contact_id=target_id)
            .execution_options(synchronize_session=False)
        )
    return ids


async def _move_back(
    db: AsyncSession, scope: OrgScope, model: _Movable, ids: list[str], target_id: str, source_id: str
) -> None:
    if ids:
        await db.execute(
            update(model)
            .where(model.org_id == scope.org_id, model.id.in_(ids), model.contact_id == target_id)
            .values(contact_id=source_id)
            .execution_options(synchronize_session=False)
        )
