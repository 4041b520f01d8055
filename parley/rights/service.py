"""Filing a data-subject request and moving it through its statuses: every step writes a history row (status,
actor, evidence) and an audit row in the caller's transaction.

    received → verified → in_progress → completed | refused
                     └──→ extended (with a reason; the person is told) ──┘
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.context import Actor
from parley.kit.errors import Conflict, InvalidField, NotFound
from parley.kit.ids import new_id
from parley.models import Contact, PrivacyRequest, PrivacyRequestEvent
from parley.outbox.service import enqueue_email
from parley.privacy import audit
from parley.rights import repository as repo
from parley.rights.deadlines import MAX_EXTENSION_MONTHS, add_months
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

FINAL = ("completed", "refused")


async def do_file_request(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    *,
    kind: str,
    source: str,
    contact: Contact | None,
    subject_pseudonym: str | None,
    details: dict[str, Any],
    verified_by: dict[str, Any],
) -> PrivacyRequest:
    """A new request, received now and verified by `verified_by` (the staff member, a code, the visitor secret)."""
    now = runtime.clock.now()
    request = PrivacyRequest(
        id=new_id("dsr"),
        org_id=scope.org_id,
        contact_id=contact.id if contact else None,
        kind=kind,
        status="received",
        source=source,
        subject_pseudonym=subject_pseudonym,
        details=details,
        received_at=now,
        due_at=add_months(now, 1),
        deadline_flag="none",
        acted_by_user_id=scope.actor.user_id,
        outcome={},
    )
    db.add(request)
    await db.flush()
    await record_step(db, runtime, scope, request, "received", evidence={"source": source})
    await record_step(db, runtime, scope, request, "verified", evidence=verified_by)
    return request


async def record_step(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    request: PrivacyRequest,
    status: str,
    *,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
    actor: Actor | None = None,
    action: str | None = None,
) -> None:
    """Set the status, append the history row, audit it (as `privacy_request.<status>` unless `action`)."""
    actor = actor or scope.actor
    request.status = status
    if actor.user_id:
        request.acted_by_user_id = actor.user_id
    db.add(
        PrivacyRequestEvent(
            id=new_id("dse"),
            org_id=scope.org_id,
            request_id=request.id,
            status=status,
            actor_type=actor.type,
            actor_id=actor.id,
            note=note,
            evidence=evidence or {},
            created_at=runtime.clock.now(),
        )
    )
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action=action or f"privacy_request.{status}",
        org_id=scope.org_id,
        target_type="privacy_request",
        target_id=request.id,
        details={"kind": request.kind, **({"note_given": True} if note else {})},
    )
    await db.flush()


async def access_request(db: AsyncSession, scope: OrgScope, request_id: str) -> PrivacyRequest:
    found = await repo.request(db, scope, request_id)
    if found is None:
        raise NotFound("request not found")
    return found


async def open_request(db: AsyncSession, scope: OrgScope, request_id: str) -> PrivacyRequest:
    found = await access_request(db, scope, request_id)
    if found.status in FINAL:
        raise Conflict(f"the request is already {found.status}", code="request_closed")
    return found


async def do_start(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, request_id: str, note: str | None
) -> PrivacyRequest:
    request = await open_request(db, scope, request_id)
    if request.status != "in_progress":
        await record_step(db, runtime, scope, request, "in_progress", note=note)
    return request


async def do_refuse(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, request_id: str, reason: str
) -> PrivacyRequest:
    """Refusing (Art. 12(5): manifestly unfounded or excessive) needs a reason, which is told to the person."""
    request = await open_request(db, scope, request_id)
    request.completed_at = runtime.clock.now()
    await record_step(db, runtime, scope, request, "refused", note=reason, evidence={"reason": reason})
    await notify_person(db, runtime, scope, request, "Your privacy request was refused", f"Reason: {reason}")
    return request


async def do_extend(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, request_id: str, *, months: int, reason: str
) -> PrivacyRequest:
    """Extend by up to two months in all (Art. 12(3)); the reason is recorded and the person is told."""
    request = await open_request(db, scope, request_id)
    if not reason.strip():
        raise InvalidField("body.reason", "an extension needs a reason")
    current = request.extended_due_at or request.due_at
    limit = add_months(request.due_at, MAX_EXTENSION_MONTHS)
    extended = add_months(current, months)
    if extended > limit:
        raise InvalidField("body.months", "a request can be extended by at most two months in all")
    request.extended_due_at = extended
    request.extension_reason = reason
    request.deadline_flag = "none"
    told = await notify_person(
        db,
        runtime,
        scope,
        request,
        "We need more time for your privacy request",
        f"We will answer by {extended.date().isoformat()}. Reason: {reason}",
    )
    await record_step(
        db,
        runtime,
        scope,
        request,
        "extended",
        note=reason,
        evidence={"new_due_at": extended.isoformat(), "person_notified_by": told},
    )
    return request


async def notify_person(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, request: PrivacyRequest, subject: str, text: str
) -> str | None:
    """Tell the person by e-mail, if an address of theirs is known; says how they were told (or None)."""
    if request.contact_id is None:
        return None
    addresses = [i.value for i in await repo.identifiers(db, scope, request.contact_id) if i.kind == "email"]
    if not addresses:
        return None
    await enqueue_email(db, runtime.clock, org_id=scope.org_id, to=addresses[0], subject=subject, text=text)
    return "email"
