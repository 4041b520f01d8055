"""Erasing one person (a contact) from an organisation: their key first, then their rows.

Destroying the person's key in the key store is what makes the erasure reach copies we cannot delete — backups,
replicas, a stolen disk: everything sealed for them (message bodies) is unreadable from that moment. Their rows
are then deleted: conversations with their messages, identifiers (emails, phone numbers, visitor ids), and the
contact. The audit row records the erasure by id only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select

from parley.channels.messaging import channel_privacy
from parley.kit.errors import NotFound
from parley.models import Contact, Conversation, Message
from parley.privacy import audit
from parley.privacy.retention import delete_messages
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work


@dataclass(frozen=True)
class Erasure:
    contact_id: str
    conversations: int
    messages: int
    key_destroyed: bool


async def erase_contact(runtime: Runtime, scope: OrgScope, contact_id: str) -> Erasure:
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        if await db.scalar(select(Contact.id).where(Contact.org_id == scope.org_id, Contact.id == contact_id)) is None:
            raise NotFound("contact not found")
    destroyed = await runtime.keystore.destroy_subject(scope.org_id, contact_id)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        conversation_ids = select(Conversation.id).where(
            Conversation.org_id == scope.org_id, Conversation.contact_id == contact_id
        )
        conversations = int(await db.scalar(select(func.count()).select_from(conversation_ids.subquery())) or 0)
        messages = await delete_messages(db, Message.conversation_id.in_(conversation_ids))
        await channel_privacy.erase(db, runtime, scope, [contact_id])
        await db.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))
        await db.execute(delete(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "contact.erased",
            target_type="contact",
            target_id=contact_id,
            details={"conversations": conversations, "messages": messages, "key_destroyed": destroyed},
        )
    await runtime.scrub_deleted()
    return Erasure(contact_id, conversations, messages, destroyed)
