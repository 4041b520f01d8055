"""The public privacy notice of an organisation, its sub-processors, and its record of processing activities."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select

from parley.auth.dependencies import Db, RuntimeDep, require
from parley.consent import records, subprocessors
from parley.kit.context import Actor, RequestInfo
from parley.kit.errors import NotFound
from parley.models import Organization
from parley.privacy import notice
from parley.tenancy import platform
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(tags=["privacy"])

ReadOrg = Annotated[OrgScope, Depends(require(Permission.ORG_READ))]
ManagePrivacy = Annotated[OrgScope, Depends(require(Permission.PRIVACY_MANAGE))]
# Inline styles only; nothing else may load or run, and the page is not framed.
NOTICE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@router.get("/privacy/{slug}", response_class=HTMLResponse, responses={404: {}}, summary="Public privacy notice")
async def public_notice(slug: str, db: Db, runtime: RuntimeDep) -> HTMLResponse:
    """Generated from the data map, the organisation's settings and its configured providers; linked from the
    widget. Public: it is what the business tells everyone."""
    org_id = await db.scalar(
        select(Organization.id).where(Organization.slug == slug, Organization.deleted_at.is_(None))
    )
    if org_id is None:
        raise NotFound("no such organisation")
    scope = await platform.system_scope(db, org_id, Actor("anonymous", None, RequestInfo()))
    content = await notice.notice_content(db, runtime, scope)
    return HTMLResponse(notice.notice_html(content), headers={"Content-Security-Policy": NOTICE_CSP})


@router.get(
    "/privacy/{slug}/subprocessors",
    response_class=HTMLResponse,
    responses={404: {}},
    summary="Public list of an organisation's sub-processors",
)
async def public_subprocessors(slug: str, db: Db, runtime: RuntimeDep) -> HTMLResponse:
    """Who processes personal data for the organisation, where, on what transfer basis, and when the list last
    changed (owners are emailed on each change). Public, like the notice."""
    org = await db.scalar(select(Organization).where(Organization.slug == slug, Organization.deleted_at.is_(None)))
    if org is None:
        raise NotFound("no such organisation")
    scope = await platform.system_scope(db, org.id, Actor("anonymous", None, RequestInfo()))
    listed = await notice.subprocessors(db, scope, runtime)
    changes = [(s.created_at, s.changes) for s in await subprocessors.history(db, scope) if s.changes]
    return HTMLResponse(
        notice.subprocessors_html(org.name, listed, changes), headers={"Content-Security-Policy": NOTICE_CSP}
    )


@router.get("/api/v1/orgs/{org_id}/privacy/subprocessors")
async def list_subprocessors(scope: ReadOrg, db: Db, runtime: RuntimeDep) -> list[dict[str, Any]]:
    return [
        {**vars(p), "used_by_agents": list(p.used_by_agents)} for p in await notice.subprocessors(db, scope, runtime)
    ]


@router.get(
    "/api/v1/orgs/{org_id}/privacy/record-of-processing",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
    summary="Record of processing activities (GDPR Art. 30(1)) as JSON or CSV",
)
async def record_of_processing(
    scope: ManagePrivacy,
    db: Db,
    runtime: RuntimeDep,
    format: Literal["json", "csv"] = "json",
    role: Literal["controller", "processor"] = "controller",
) -> Response:
    """`role=controller`: Art. 30(1), the business's record; `role=processor`: Art. 30(2), the record kept by
    whoever runs this installation for the business."""
    rows = await records.record(db, runtime, scope, role)
    if format == "csv":
        return Response(notice.as_csv(rows), media_type="text/csv; charset=utf-8")
    return JSONResponse(rows)
