"""Data-subject requests for staff: file one for a person, follow it, extend or refuse it, carry it out. Every
change is recorded in the request's history and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, status
from fastapi.responses import FileResponse

from parley.auth.dependencies import Db, RuntimeDep, audited_read, reads_only, require
from parley.kit.errors import InvalidField, NotFound
from parley.models import PrivacyRequest
from parley.privacy import audit, export
from parley.rights import fulfil as fulfilment
from parley.rights import repository as repo
from parley.rights import service
from parley.rights.schemas import EventOut, ExtendIn, FulfilIn, NoteIn, RefuseIn, RequestIn, RequestListOut, RequestOut
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

router = APIRouter(prefix="/api/v1/orgs/{org_id}/privacy/requests", tags=["privacy requests"])
ManagePrivacy = Annotated[OrgScope, Depends(require(Permission.PRIVACY_MANAGE))]


async def request_out(db: Db, scope: OrgScope, request: PrivacyRequest, *, events: bool = True) -> RequestOut:
    out = RequestOut(
        id=request.id,
        kind=request.kind,
        status=request.status,
        source=request.source,
        contact_id=request.contact_id,
        received_at=request.received_at,
        due_at=request.due_at,
        extended_due_at=request.extended_due_at,
        extension_reason=request.extension_reason,
        deadline_flag=request.deadline_flag,
        acted_by_user_id=request.acted_by_user_id,
        completed_at=request.completed_at,
        details=request.details,
        outcome=request.outcome,
        download_available_until=request.export_expires_at if request.export_file else None,
    )
    if events:
        out.events = [EventOut.model_validate(e) for e in await repo.events(db, scope, request.id)]
    return out


@router.post("", response_model=RequestOut, status_code=status.HTTP_201_CREATED)
async def file_request(body: RequestIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> RequestOut:
    """File a request a person made to the business (by letter, phone, e-mail); the staff member vouches for
    who the person is. Name the person by contact id or by any of their identifiers."""
    contact = None
    if body.contact_id:
        contact = await repo.contact(db, scope, body.contact_id)
        if contact is None:
            raise InvalidField("body.contact_id", "no such contact")
    elif body.identifier:
        contact = await export.find_contact(db, scope, body.identifier.kind, body.identifier.value)
    else:
        raise InvalidField("body", "name the person: contact_id or identifier")
    details: dict[str, object] = {"purposes": body.purposes}
    if body.message:
        details["message"] = body.message
    request = await service.do_file_request(
        db,
        runtime,
        scope,
        kind=body.kind,
        source="staff",
        contact=contact,
        subject_pseudonym=None,
        details=details,
        verified_by={"method": "staff", "user_id": scope.actor.user_id, "token_id": scope.actor.id},
    )
    return await request_out(db, scope, request)


@router.get("", response_model=RequestListOut)
async def list_requests(
    scope: ManagePrivacy,
    db: Db,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RequestListOut:
    found = await repo.requests(db, scope, status=status, limit=limit)
    return RequestListOut(requests=[await request_out(db, scope, r, events=False) for r in found])


@router.get("/{request_id}", response_model=RequestOut)
async def get_request(request_id: str, scope: ManagePrivacy, db: Db) -> RequestOut:
    return await request_out(db, scope, await service.access_request(db, scope, request_id))


@router.post("/{request_id}/start", response_model=RequestOut)
async def start_request(request_id: str, body: NoteIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> RequestOut:
    return await request_out(db, scope, await service.do_start(db, runtime, scope, request_id, body.note))


@router.post("/{request_id}/refuse", response_model=RequestOut)
async def refuse_request(
    request_id: str, body: RefuseIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep
) -> RequestOut:
    """Refuse a manifestly unfounded or excessive request (Art. 12(5)); the reason is sent to the person."""
    return await request_out(db, scope, await service.do_refuse(db, runtime, scope, request_id, body.reason))


@router.post("/{request_id}/extend", response_model=RequestOut)
async def extend_request(
    request_id: str, body: ExtendIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep
) -> RequestOut:
    """Extend the deadline by up to two months in all (Art. 12(3)); needs a reason, which the person is told."""
    extended = await service.do_extend(db, runtime, scope, request_id, months=body.months, reason=body.reason)
    return await request_out(db, scope, extended)


@router.post("/{request_id}/fulfil", response_model=RequestOut, dependencies=[Depends(reads_only)])
async def fulfil_request(
    request_id: str, body: FulfilIn, scope: ManagePrivacy, runtime: RuntimeDep, background: BackgroundTasks
) -> RequestOut:
    """Carry the request out (see `parley.rights.fulfil`): export, erase, restrict, record an objection or a
    withdrawal, or apply a rectification."""
    await fulfilment.fulfil(runtime, scope, request_id, body)
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        out = await request_out(db, scope, await service.access_request(db, scope, request_id))
    if out.kind == "erasure":
        # Once this request's own transaction has ended (SQLite: its snapshot kept the write-ahead log busy),
        # push the erased rows' old page images off the disk.
        background.add_task(runtime.scrub_deleted)
    return out


@router.get(
    "/{request_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}, 404: {}},
    dependencies=[Depends(audited_read)],
)
async def download_export(request_id: str, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> FileResponse:
    """The access ZIP, for staff to hand over by other means; audited."""
    request = await service.access_request(db, scope, request_id)
    if not request.export_file:
        raise NotFound("no export for this request (none made, or already deleted)")
    await audit.record_in_scope(
        db, runtime.clock, scope, "privacy_request.downloaded", target_type="privacy_request", target_id=request.id
    )
    return FileResponse(
        runtime.settings.data_dir / request.export_file,
        media_type="application/zip",
        filename=f"parley-export-{request.id}.zip",
    )
