"""Data-subject requests: the queue (due dates, overdue / due-soon badges, filter by status), one request with
its status history and the actions its status allows (start, fulfil, extend, refuse), the staff download of an
access export, and filing a request from a person's contact page.

Same services and roles as the REST API (`parley.rights.api`): everything here needs `privacy:manage`. Every
view of a request (the queue included) is recorded in the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, get_args

from fastapi import BackgroundTasks, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.auth.dependencies import Db, RuntimeDep, audited_read, reads_only
from parley.contacts import rights as contact_rights
from parley.dashboard.audit import staff_viewed
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import Errors, invalid_field_errors, validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import Conflict, InvalidField, NotFound
from parley.models import PrivacyRequest
from parley.models.contact import RESTRICTION_GROUNDS
from parley.privacy import audit
from parley.rights import fulfil as fulfilment
from parley.rights import repository as repo
from parley.rights import service
from parley.rights.deadlines import MAX_EXTENSION_MONTHS, add_months, flag_for
from parley.rights.schemas import ExtendIn, FulfilIn, IdentifierKind, Kind, NoteIn, Purpose, RefuseIn, RequestIn
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

page = Page(nav=[NavItem("Requests", "requests", Permission.PRIVACY_MANAGE, order=72)])

QUEUE_LIMIT = 500
FILTERS = {
    "open": "Open",
    "overdue": "Overdue",
    "completed": "Completed",
    "refused": "Refused",
    "all": "All",
}
KINDS: list[str] = list(get_args(Kind))
KIND_LABELS = {
    "access": "Access (Art. 15)",
    "portability": "Portability (Art. 20)",
    "rectification": "Rectification (Art. 16)",
    "erasure": "Erasure (Art. 17)",
    "restriction": "Restriction (Art. 18)",
    "objection": "Objection (Art. 21)",
    "consent_withdrawal": "Consent withdrawal (Art. 7(3))",
}
PURPOSES: list[str] = list(get_args(Purpose))
IDENTIFIER_KINDS: list[str] = list(get_args(IdentifierKind))
NEEDS_PURPOSES = ("objection", "consent_withdrawal")
ERASE_WORD = "erase"
Queue = Annotated[str, Query(max_length=16)]


def effective_due(request: PrivacyRequest) -> datetime:
    return request.extended_due_at or request.due_at


def live_flag(request: PrivacyRequest, now: datetime) -> str:
    """The flag as of now: the reconciler stores it (and alerts) every few minutes, the page must not lag."""
    if request.status in service.FINAL:
        return "none"
    return flag_for(effective_due(request), now)


def extension_left(request: PrivacyRequest) -> int:
    """Whole months the deadline may still be pushed back (two in all, Art. 12(3))."""
    limit = add_months(request.due_at, MAX_EXTENSION_MONTHS)
    current = effective_due(request)
    return next((m for m in range(MAX_EXTENSION_MONTHS, 0, -1) if add_months(current, m) <= limit), 0)


@page.router.get("/o/{org_id}/requests", dependencies=[Depends(audited_read)])
async def queue(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, status: Queue = "open") -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    if status not in FILTERS:
        raise NotFound("no such filter")
    now = runtime.clock.now()
    query = select(PrivacyRequest).where(PrivacyRequest.org_id == ctx.org_id)
    if status in ("open", "overdue"):
        query = query.where(PrivacyRequest.status.in_(repo.OPEN_STATUSES))
    elif status != "all":
        query = query.where(PrivacyRequest.status == status)
    due = func.coalesce(PrivacyRequest.extended_due_at, PrivacyRequest.due_at)
    rows = list(await db.scalars(query.order_by(due.desc(), PrivacyRequest.id).limit(QUEUE_LIMIT)))
    flagged = [(r, live_flag(r, now)) for r in rows]
    if status == "overdue":
        flagged = [(r, f) for r, f in flagged if f == "overdue"]
    await audit.record_in_scope(db, runtime.clock, ctx.org_scope, "privacy_request.listed",
                                details={"via": "dashboard", "filter": status, "shown": len(flagged)})  # fmt: skip
    return render(request, "requests/queue.html", ctx, rows=flagged, current=status, filters=FILTERS,
                  kind_labels=KIND_LABELS, limit=QUEUE_LIMIT)  # fmt: skip


@page.router.get("/o/{org_id}/requests/{request_id}", dependencies=[Depends(audited_read)])
async def detail(request: Request, request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    return await _detail(request, ctx, db, runtime, request_id)


async def _detail(
    request: Request,
    ctx: OrgPage,
    db: AsyncSession,
    runtime: Runtime,
    request_id: str,
    *,
    status: int = 200,
    errors: Errors | None = None,
    values: dict[str, str] | None = None,
    record_view: bool = True,
) -> Response:
    found = await service.access_request(db, ctx.org_scope, request_id)
    if record_view:
        await staff_viewed(db, runtime, ctx.org_scope, "privacy_request", found.id)
    contact = await repo.contact(db, ctx.org_scope, found.contact_id) if found.contact_id else None
    identifiers = await repo.identifiers(db, ctx.org_scope, contact.id) if contact else []
    return render(
        request, "requests/detail.html", ctx, status=status, errors=errors or {}, values=values or {},
        req=found, contact=contact, identifiers=identifiers, events=await repo.events(db, ctx.org_scope, found.id),
        flag=live_flag(found, runtime.clock.now()), due=effective_due(found), kind_labels=KIND_LABELS,
        is_open=found.status not in service.FINAL, months_left=extension_left(found),
        grounds=[(g, contact_rights.GROUND_LABELS[g]) for g in RESTRICTION_GROUNDS],
        identifier_kinds=[(k, k) for k in IDENTIFIER_KINDS], erase_word=ERASE_WORD,
        identifiers_options=[(f"{i.kind}:{i.value}", f"{i.kind} {i.value}") for i in identifiers],
        purposes=[str(p) for p in found.details.get("purposes", [])],
    )  # fmt: skip


def _url(ctx: OrgPage, request_id: str) -> str:
    return org_url(ctx.org_id, "requests", request_id)


async def _form(request: Request) -> dict[str, str]:
    return {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}


@page.router.post("/o/{org_id}/requests/{request_id}/start")
async def start(request: Request, request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    form = await _form(request)
    body, errors = validate(NoteIn, {"note": form.get("start_note") or None})
    if body is None:
        return await _detail(request, ctx, db, runtime, request_id, status=422, values=form,
                             errors={"start_note": errors.get("note", "too long")})  # fmt: skip
    await service.do_start(db, runtime, ctx.org_scope, request_id, body.note)
    return redirect(_url(ctx, request_id), "The request is in progress.")


@page.router.post("/o/{org_id}/requests/{request_id}/refuse")
async def refuse(request: Request, request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    form = await _form(request)
    body, _ = validate(RefuseIn, {"reason": form.get("refuse_reason", "")})
    if body is None:
        problem = {"refuse_reason": "give the reason (at least 10 characters); the person is told"}
        return await _detail(request, ctx, db, runtime, request_id, status=422, values=form, errors=problem)
    await service.do_refuse(db, runtime, ctx.org_scope, request_id, body.reason)
    return redirect(_url(ctx, request_id), "The request is refused; the person is told why.")


@page.router.post("/o/{org_id}/requests/{request_id}/extend")
async def extend(request: Request, request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    form = await _form(request)
    body, errors = validate(ExtendIn, {"months": form.get("months", ""), "reason": form.get("reason", "")})
    messages = {
        "months": f"choose 1 to {MAX_EXTENSION_MONTHS} months (at most {MAX_EXTENSION_MONTHS} in all)",
        "reason": "give the reason (at least 10 characters); the person is told",
    }
    if body is None:
        return await _detail(request, ctx, db, runtime, request_id, status=422, values=form,
                             errors={name: messages.get(name, text) for name, text in errors.items()})  # fmt: skip
    try:
        done = await service.do_extend(db, runtime, ctx.org_scope, request_id, months=body.months, reason=body.reason)
    except InvalidField as exc:
        return await _detail(request, ctx, db, runtime, request_id, status=422, values=form,
                             errors=invalid_field_errors(exc))  # fmt: skip
    return redirect(_url(ctx, request_id), f"The deadline is now {effective_due(done).date().isoformat()}.")


@page.router.post("/o/{org_id}/requests/{request_id}/fulfil", dependencies=[Depends(reads_only)])
async def fulfil(
    request: Request, request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    """Carried out in transactions of its own (`rights.fulfil`), as in the API: this one only reads."""
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    scope = ctx.org_scope
    form = await _form(request)
    found = await service.open_request(db, scope, request_id)
    kind = found.kind

    async def again(status: int, errors: Errors) -> Response:
        return await _detail(request, ctx, db, runtime, request_id, status=status, errors=errors, values=form,
                             record_view=False)  # fmt: skip

    if kind == "erasure" and form.get("confirm", "").lower() != ERASE_WORD:
        return await again(422, {"confirm": f"type {ERASE_WORD} to confirm; nothing was erased"})
    data: dict[str, Any] = {"note": form.get("note") or None}
    if kind == "restriction":
        data["ground"] = form.get("ground") or None
    if kind == "rectification":
        data["display_name"] = form.get("display_name") or None
        if form.get("add_value"):
            data["add_identifiers"] = [{"kind": form.get("add_kind", ""), "value": form["add_value"]}]
        if form.get("remove_identifier"):
            remove_kind, _, remove_value = form["remove_identifier"].partition(":")
            data["remove_identifiers"] = [{"kind": remove_kind, "value": remove_value}]
    body, errors = validate(FulfilIn, data)
    if body is None:
        names = {"add_identifiers": "add_value", "remove_identifiers": "remove_identifier"}
        return await again(422, {names.get(k, k): v for k, v in errors.items()})
    if kind == "restriction" and body.ground is None:
        return await again(422, {"ground": "choose why processing is restricted"})
    try:
        await fulfilment.fulfil(runtime, scope, request_id, body)
    except InvalidField as exc:
        return await again(422, invalid_field_errors(exc))
    except Conflict as exc:
        return await again(409, {"__all__": exc.detail})
    if kind == "erasure":
        background.add_task(runtime.scrub_deleted)  # as the API does, once this transaction has ended
    return redirect(_url(ctx, request_id), "The request is carried out.")


@page.router.get("/o/{org_id}/requests/{request_id}/download", dependencies=[Depends(audited_read)])
async def download(request_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    """The access ZIP for staff to hand over by other means; audited like the API's download."""
    ctx.org_scope.require(Permission.PRIVACY_MANAGE)
    found = await service.access_request(db, ctx.org_scope, request_id)
    if not found.export_file:
        raise NotFound("no export for this request (none made, or already deleted)")
    await audit.record_in_scope(
        db,
        runtime.clock,
        ctx.org_scope,
        "privacy_request.downloaded",
        target_type="privacy_request",
        target_id=found.id,
        details={"via": "dashboard"},
    )
    return FileResponse(
        runtime.settings.data_dir / found.export_file,
        media_type="application/zip",
        filename=f"parley-export-{found.id}.zip",
        headers={"cache-control": "no-store"},
    )


@page.router.post("/o/{org_id}/contacts/{contact_id}/requests")
async def file_request(request: Request, contact_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    """A request the person made by letter, phone or e-mail, filed by staff who vouch for who they are."""
    scope: OrgScope = ctx.org_scope
    scope.require(Permission.PRIVACY_MANAGE)
    form = await request.form()
    kind = str(form.get("request_kind", ""))
    purposes = [str(p) for p in form.getlist("request_purposes")]
    body, errors = validate(RequestIn, {"kind": kind, "contact_id": contact_id, "purposes": purposes})
    shown: Errors = {}
    if body is None:
        if "kind" in errors:
            shown["request_kind"] = "choose what the person asks for"
        if "purposes" in errors:
            shown["request_purposes"] = "choose among the purposes listed"
    elif body.kind in NEEDS_PURPOSES and not body.purposes:
        shown["request_purposes"] = "name at least one purpose the person objects to or withdraws"
    contact = await repo.contact(db, scope, contact_id)
    if contact is None:
        raise NotFound("contact not found")
    if body is None or shown:
        from parley.dashboard.pages.contacts import render_detail  # contacts imports this module

        return await render_detail(request, ctx, db, runtime, contact_id, status=422, errors=shown)
    filed = await service.do_file_request(
        db, runtime, scope, kind=body.kind, source="staff", contact=contact, subject_pseudonym=None,
        details={"purposes": body.purposes},
        verified_by={"method": "staff", "user_id": scope.actor.user_id, "token_id": scope.actor.id},
    )  # fmt: skip
    return redirect(_url(ctx, filed.id), "The request is filed; the deadline runs from today.")
