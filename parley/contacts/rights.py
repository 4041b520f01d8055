"""A person's rights, acted on by staff: access/portability (export), erasure, restriction of processing.

The dashboard calls only these functions. Each checks the role itself (the dashboard has no route-level
`require`) and files a data-subject request (`parley.rights`) for what staff did, source "staff", so that the
request queue, its history and the audit log show every exercise of a right however it arrived. The export and
the restriction run in the caller's transaction, the request completed in it; the erasure runs in transactions
of its own (key store first), through the same fulfilment as a request filed over the API.
"""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.contacts import repository as repo
from parley.kit.errors import InvalidField, NotFound
from parley.models import Contact, PrivacyRequest
from parley.models.contact import RESTRICTION_GROUNDS
from parley.privacy import audit, export
from parley.privacy.erasure import Erasure
from parley.rights import service as rights_service
from parley.rights.fulfil import fulfil
from parley.rights.schemas import FulfilIn
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

GROUND_LABELS = {
    "accuracy": "The person contests the accuracy of the data (Art. 18(1)(a))",
    "unlawful": "Processing is unlawful and the person asks for restriction instead of erasure (Art. 18(1)(b))",
    "legal_claims": "The person needs the data for legal claims (Art. 18(1)(c))",
    "objection": "The person objected; verification pending (Art. 18(1)(d))",
}
assert set(GROUND_LABELS) == set(RESTRICTION_GROUNDS)


async def do_export(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> bytes:
    """The ZIP of everything held about the person, handed to staff; an access request is filed and completed
    for it. Audited as `contact.exported` and by the request's steps."""
    scope.require(Permission.PRIVACY_MANAGE)
    contact = await _contact(db, scope, contact_id)
    request = await _file(db, runtime, scope, contact, "access", {})
    await rights_service.record_step(db, runtime, scope, request, "in_progress")
    buffer = io.BytesIO()
    done = await export.write_archive(db, runtime, scope, contact_id, buffer)
    request.outcome = {
        "handed_to": "staff",
        "conversations": done.conversations,
        "messages": done.messages,
        "files": done.files,
        "archive_bytes": buffer.tell(),
    }
    request.completed_at = runtime.clock.now()
    await rights_service.record_step(db, runtime, scope, request, "completed", evidence=request.outcome)
    return buffer.getvalue()


async def do_erase(runtime: Runtime, scope: OrgScope, contact_id: str) -> Erasure:
    """Irreversible: an erasure request is filed, then fulfilled — the person's key destroyed, then their rows;
    the request row stays, without the person, as the record. Runs its own transactions (key store first), so
    the caller must not hold a write transaction open."""
    scope.require(Permission.PRIVACY_MANAGE)
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        contact = await _contact(db, scope, contact_id)
        request = await _file(db, runtime, scope, contact, "erasure", {})
        request_id = request.id
    await fulfil(runtime, scope, request_id, FulfilIn())
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        outcome = (await rights_service.access_request(db, scope, request_id)).outcome
    return Erasure(
        contact_id,
        int(outcome.get("conversations", 0)),
        int(outcome.get("messages", 0)),
        bool(outcome.get("key_destroyed", False)),
    )


async def do_restrict(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str, ground: str) -> Contact:
    """The AI stops answering the person; their messages are still stored; staff see why."""
    scope.require(Permission.PRIVACY_MANAGE)
    if ground not in RESTRICTION_GROUNDS:
        raise InvalidField("body.ground", f"choose one of: {', '.join(RESTRICTION_GROUNDS)}")
    contact = await _contact(db, scope, contact_id)
    if contact.restricted_at is None or contact.restriction_ground != ground:
        request = await _file(db, runtime, scope, contact, "restriction", {"ground": ground})
        contact.restricted_at = contact.restricted_at or runtime.clock.now()
        contact.restriction_ground = ground
        await audit.record_in_scope(
            db, runtime.clock, scope, "contact.restricted", target_type="contact", target_id=contact_id,
            details={"ground": ground},
        )  # fmt: skip
        request.outcome = {"restricted": True, "ground": ground}
        request.completed_at = runtime.clock.now()
        await rights_service.record_step(db, runtime, scope, request, "completed", evidence=request.outcome)
        await db.flush()
    return contact


async def do_lift_restriction(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> Contact:
    scope.require(Permission.PRIVACY_MANAGE)
    contact = await _contact(db, scope, contact_id)
    if contact.restricted_at is not None:
        contact.restricted_at = contact.restriction_ground = None
        await audit.record_in_scope(
            db, runtime.clock, scope, "contact.restriction_lifted", target_type="contact", target_id=contact_id
        )
        await db.flush()
    return contact


async def access(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact:
    """The contact, or NotFound (another organisation's contact looks the same as none)."""
    return await _contact(db, scope, contact_id)


async def _file(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, contact: Contact, kind: str, details: dict[str, Any]
) -> PrivacyRequest:
    return await rights_service.do_file_request(
        db,
        runtime,
        scope,
        kind=kind,
        source="staff",
        contact=contact,
        subject_pseudonym=None,
        details=details,
        verified_by={"method": "staff", "user_id": scope.actor.user_id, "via": "dashboard"},
    )


async def _contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact:
    contact = await repo.contact(db, scope, contact_id)
    if contact is None:
        raise NotFound("contact not found")
    return contact
