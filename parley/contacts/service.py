"""Staff views of contacts. Every read of personal data (the list, one contact) writes an audit row in the same
transaction, so the caller's transaction must be a write transaction (`audited_read` on a route)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from parley.contacts import repository as repo
from parley.contacts.repository import ContactRow
from parley.kit.errors import NotFound
from parley.models import ConsentEvent, Contact, ContactIdentifier, Conversation
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

PAGE_SIZE = 50
MAX_QUERY_LENGTH = 200
MAX_CONVERSATIONS_SHOWN = 200
# The identifier kinds whose values are the subjects of the consent ledger (the widget banner records the
# visitor id of whoever chose).


@dataclass(frozen=True)
class ContactPage:
    rows: list[ContactRow]
    total: int
    page: int
    pages: int
    query: str | None


@dataclass(frozen=True)
class ConsentState:
    """The person's current choice for one purpose: the latest record wins (the ledger is append-only)."""

    purpose: str
    granted: bool
    at: datetime
    source: str
    text_id: str | None  # the consent text shown (consent ledger)


@dataclass(frozen=True)
class ContactDetail:
    contact: Contact
    identifiers: list[ContactIdentifier]
    conversations: list[tuple[Conversation, str | None]]
    consent: list[ConsentState]
    consent_history: list[ConsentEvent]


async def list_contacts(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, query: str | None = None, page: int = 1
) -> ContactPage:
    scope.require(Permission.CONVERSATIONS_READ)
    query = (query or "").strip()[:MAX_QUERY_LENGTH] or None
    page = max(page, 1)
    rows, total = await repo.search(db, scope, query=query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    # The search term may itself be personal data (an e-mail address): the audit row says only that one was used.
    await audit.record_in_scope(
        db, runtime.clock, scope, "contacts.listed", details={"searched": query is not None, "page": page,
                                                              "shown": len(rows)},
    )  # fmt: skip
    return ContactPage(rows, total, page, max(1, -(-total // PAGE_SIZE)), query)


async def view_contact(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> ContactDetail:
    scope.require(Permission.CONVERSATIONS_READ)
    contact = await repo.contact(db, scope, contact_id)
    if contact is None:
        raise NotFound("contact not found")
    identifiers = await repo.identifiers(db, scope, contact_id)
    history = await repo.consent_events(db, scope, contact_id)
    await audit.record_in_scope(db, runtime.clock, scope, "contact.viewed", target_type="contact", target_id=contact_id)
    return ContactDetail(
        contact=contact,
        identifiers=identifiers,
        conversations=await repo.conversations(db, scope, contact_id, limit=MAX_CONVERSATIONS_SHOWN),
        consent=current_consent(history),
        consent_history=history,
    )


def current_consent(history: list[ConsentEvent]) -> list[ConsentState]:
    latest: dict[str, ConsentEvent] = {}
    for record in history:  # oldest first, so the last one seen per purpose is the current choice
        latest[record.purpose] = record
    return [
        ConsentState(r.purpose, r.granted, r.occurred_at, r.channel, r.text_id)
        for r in sorted(latest.values(), key=lambda r: r.purpose)
    ]
