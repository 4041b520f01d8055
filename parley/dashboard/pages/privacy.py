"""Privacy centre: retention, consent, sub-processors and the generated notice, account deletion with its grace,
and the audit log with chain verification. The queue of data-subject requests (`pages/requests.py`) and the
consent texts (`pages/consent_texts.py`) have pages of their own, linked from here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import func, select

from parley.auth.dependencies import Db, RuntimeDep
from parley.dashboard.context import OrgPageDep
from parley.dashboard.forms import validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.schemas import RequestBody
from parley.models import AgentWidget, ConsentEvent, Organization
from parley.privacy import audit, deletion, notice, verify
from parley.privacy.retention import MAX_RETENTION_DAYS, RETENTION_CLASSES
from parley.tenancy.permissions import Permission

page = Page(
    nav=[
        NavItem("Privacy centre", "privacy", Permission.ORG_READ, order=70),
        NavItem("Audit log", "audit", Permission.AUDIT_READ, order=75),
    ]
)

AUDIT_PAGE = 50
DELETE_WORD = "delete"


class RetentionIn(RequestBody):
    conversation_retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS)


async def _centre(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, *, status: int = 200,
                  errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    org = await db.get(Organization, ctx.org_id)
    assert org is not None
    consent = await db.execute(
        select(ConsentEvent.purpose, ConsentEvent.granted, func.count())
        .where(ConsentEvent.org_id == ctx.org_id)
        .group_by(ConsentEvent.purpose, ConsentEvent.granted)
    )
    analytics_widgets = await db.scalar(
        select(func.count()).where(AgentWidget.org_id == ctx.org_id, AgentWidget.analytics_enabled.is_(True))
    )
    left = deletion.grace_left(org.deletion_due_at, runtime.clock.now())
    return render(
        request, "privacy/centre.html", ctx, status=status, org=org, errors=errors or {},
        values=values or {"conversation_retention_days": str(org.conversation_retention_days)},
        retention_classes=RETENTION_CLASSES, maximum_days=MAX_RETENTION_DAYS,
        subprocessors=await notice.subprocessors(db, ctx.org_scope, runtime),
        consent_counts=[(p, g, int(n)) for p, g, n in consent], analytics_widgets=int(analytics_widgets or 0),
        days_left=None if left is None else left.days, hours_left=None if left is None else left.seconds // 3600,
        delete_word=DELETE_WORD,
    )  # fmt: skip


@page.router.get("/o/{org_id}/privacy")
async def centre(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    return await _centre(request, ctx, db, runtime)


@page.router.post("/o/{org_id}/privacy/retention")
async def set_retention(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    raw = str((await request.form()).get("conversation_retention_days", "")).strip()
    body, errors = validate(RetentionIn, {"conversation_retention_days": raw})
    if body is None:
        return await _centre(request, ctx, db, runtime, status=422, errors=errors,
                             values={"conversation_retention_days": raw})  # fmt: skip
    org = await db.get(Organization, ctx.org_id)
    assert org is not None
    if body.conversation_retention_days != org.conversation_retention_days:
        # The same audit action as the API's PATCH, so the log reads the same whichever way it was changed.
        await audit.record_in_scope(db, runtime.clock, ctx.org_scope, "retention.changed",
                                    details={"from": org.conversation_retention_days,
                                             "to": body.conversation_retention_days})  # fmt: skip
        org.conversation_retention_days = body.conversation_retention_days
    return redirect(
        org_url(ctx.org_id, "privacy"), f"Conversations are now kept {body.conversation_retention_days} days."
    )


@page.router.post("/o/{org_id}/privacy/deletion")
async def request_deletion(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.ORG_DELETE)
    if str((await request.form()).get("confirm", "")).strip().lower() != DELETE_WORD:
        return await _centre(request, ctx, db, runtime, status=422,
                             errors={"confirm": f"type {DELETE_WORD} to confirm; nothing was scheduled"})  # fmt: skip
    org = await deletion.request_org_deletion(db, runtime, ctx.org_scope)
    due = org.deletion_due_at.date().isoformat() if org.deletion_due_at else "?"
    return redirect(org_url(ctx.org_id, "privacy"), f"The organisation will be deleted on {due} unless cancelled.")


@page.router.post("/o/{org_id}/privacy/deletion/cancel")
async def cancel_deletion(ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.ORG_DELETE)
    await deletion.cancel_org_deletion(db, runtime, ctx.org_scope)
    return redirect(org_url(ctx.org_id, "privacy"), "The deletion is cancelled; nothing was removed.")


@page.router.get("/o/{org_id}/audit")
async def audit_log(
    request: Request,
    ctx: OrgPageDep,
    db: Db,
    before: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    ctx.org_scope.require(Permission.AUDIT_READ)
    events = await audit.list_events(db, ctx.org_scope, limit=AUDIT_PAGE + 1, before=before, action=action or None)
    shown = events[:AUDIT_PAGE]
    return render(request, "privacy/audit.html", ctx, events=shown, action=action or "",
                  next_before=shown[-1].id if len(events) > AUDIT_PAGE else None, verification=None)  # fmt: skip


@page.router.get("/o/{org_id}/audit/verify")
async def audit_verify(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    """Walks the whole chain (read only, so a GET): every link's hash and sequence."""
    ctx.org_scope.require(Permission.AUDIT_READ)
    result = await verify.verify_organization(db, ctx.org_scope)
    events = await audit.list_events(db, ctx.org_scope, limit=AUDIT_PAGE + 1)
    shown = events[:AUDIT_PAGE]
    return render(request, "privacy/audit.html", ctx, events=shown, action="", verification=result,
                  next_before=shown[-1].id if len(events) > AUDIT_PAGE else None)  # fmt: skip
