"""Erasing one person (a contact) from an organisation: their key first, then their rows.

Destroying the person's key in the key store is what makes the erasure reach copies we cannot delete — backups,
replicas, a stolen disk: everything sealed for them (message bodies) is unreadable from that moment. Their rows
are then deleted: conversations with their messages, identifiers (emails, phone numbers, visitor ids), and the
contact. The audit row records the erasure by id only.

Beyond the contact's own rows (see `_erase_traces`): emails queued or sent to their addresses (outbox), their
one-time-code challenges, the content of their data-subject requests (the request rows stay as the minimal
record that the request was fulfilled), their files on disk; consent records, kept as proof, are pseudonymised.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.channels.messaging import channel_privacy
from parley.consent.proof import erase_section as erase_consent_proof
from parley.kit.errors import NotFound
from parley.models import (
    Contact,
    ContactIdentifier,
    Conversation,
    Message,
    OutboxMessage,
    PrivacyChallenge,
    PrivacyRequest,
)
from parley.privacy import audit
from parley.privacy.personfiles import delete_person_files
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
        await _erase_traces(db, runtime, scope, contact_id)
        await channel_privacy.erase(db, runtime, scope, [contact_id])
        await db.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))
        await db.execute(delete(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))
        await erase_consent_proof(db, runtime, scope, contact_id)  # consent branch: kept as pseudonymised proof
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "contact.erased",
            target_type="contact",
            target_id=contact_id,
            details={"conversations": conversations, "messages": messages, "key_destroyed": destroyed},
        )
    delete_person_files(runtime.settings, scope.org_id, contact_id)
    await runtime.scrub_deleted()
    return Erasure(contact_id, conversations, messages, destroyed)


def pseudonym(runtime: Runtime, value: str) -> str:
    """A keyed hash: the same value always gives the same pseudonym, which cannot be turned back into it."""
    return hmac.new(runtime.pseudonym_key, value.encode(), hashlib.sha256).hexdigest()


async def _erase_traces(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> None:
    """What the person left outside their conversations, per the data map (see the module's docstring)."""
    identifiers = list(
        await db.execute(
            select(ContactIdentifier.kind, ContactIdentifier.value).where(
                ContactIdentifier.org_id == scope.org_id, ContactIdentifier.contact_id == contact_id
            )
        )
    )
    values = [value for _, value in identifiers]
    if values:
        await db.execute(
            delete(OutboxMessage).where(OutboxMessage.org_id == scope.org_id, OutboxMessage.to_address.in_(values))
        )
        await db.execute(
            delete(PrivacyChallenge).where(
                PrivacyChallenge.org_id == scope.org_id,
                PrivacyChallenge.identifier_hash.in_([pseudonym(runtime, v) for v in values]),
            )
        )
    exports = await db.scalars(
        select(PrivacyRequest.export_file).where(
            PrivacyRequest.org_id == scope.org_id,
            PrivacyRequest.contact_id == contact_id,
            PrivacyRequest.export_file.is_not(None),
        )
    )
    for export_file in exports:  # their access ZIPs hold everything about them
        (runtime.settings.data_dir / str(export_file)).unlink(missing_ok=True)
    await db.execute(
        update(PrivacyRequest)
        .where(PrivacyRequest.org_id == scope.org_id, PrivacyRequest.contact_id == contact_id)
        .values(contact_id=None, details={}, export_file=None, export_token_hash=None)
    )
