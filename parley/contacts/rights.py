"""A person's rights, acted on by staff: access/portability (export), erasure, restriction of processing.

One module so that data-subject requests (DSR records, with their due dates) can be created or closed in one
place when that feature lands: the dashboard calls only these functions. Each checks the role itself (the
dashboard has no route-level `require`), then calls main's export (`privacy.export`) and erasure
(`privacy.erasure`); each writes its audit row (the export and the restriction in the caller's transaction; the
erasure in transactions of its own, after destroying the person's key).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley.contacts import repository as repo
from parley.kit.errors import InvalidField, NotFound
from parley.models import Contact
from parley.models.contact import RESTRICTION_GROUNDS
from parley.privacy import audit, erasure, export
from parley.privacy.erasure import Erasure
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

GROUND_LABELS = {
    "accuracy": "The person contests the accuracy of the data (Art. 18(1)(a))",
    "unlawful": "Processing is unlawful and the person asks for restriction instead of erasure (Art. 18(1)(b))",
    "legal_claims": "The person needs the data for legal claims (Art. 18(1)(c))",
    "objection": "The person objected; verification pending (Art. 18(1)(d))",
}
assert set(GROUND_LABELS) == set(RESTRICTION_GROUNDS)


async def do_export(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str) -> bytes:
    """The ZIP of everything held about the person; audited as `contact.exported`."""
    scope.require(Permission.PRIVACY_MANAGE)
    return await export.export_contact(db, runtime, scope, contact_id)


async def do_erase(runtime: Runtime, scope: OrgScope, contact_id: str) -> Erasure:
    """Irreversible: the person's key is destroyed, then their rows; audited as `contact.erased`. Runs its own
    transactions (key store first), so the caller must not hold a write transaction open."""
    scope.require(Permission.PRIVACY_MANAGE)
    return await erasure.erase_contact(runtime, scope, contact_id)


async def do_restrict(db: AsyncSession, runtime: Runtime, scope: OrgScope, contact_id: str, ground: str) -> Contact:
    """The AI stops answering the person; their messages are still stored; staff see why."""
    scope.require(Permission.PRIVACY_MANAGE)
    if ground not in RESTRICTION_GROUNDS:
        raise InvalidField("body.ground", f"choose one of: {', '.join(RESTRICTION_GROUNDS)}")
    contact = await _contact(db, scope, contact_id)
    if contact.restricted_at is None or contact.restriction_ground != ground:
        contact.restricted_at = contact.restricted_at or runtime.clock.now()
        contact.restriction_ground = ground
        await audit.record_in_scope(
            db, runtime.clock, scope, "contact.restricted", target_type="contact", target_id=contact_id,
            details={"ground": ground},
        )  # fmt: skip
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


async def _contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact:
    contact = await repo.contact(db, scope, contact_id)
    if contact is None:
        raise NotFound("contact not found")
    return contact
