"""The organisation's audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from parley.auth.dependencies import Db, require
from parley.privacy import audit, verify
from parley.privacy.schemas import AuditEventOut, AuditPageOut, AuditVerificationOut
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["privacy"])

ReadAudit = Annotated[OrgScope, Depends(require(Permission.AUDIT_READ))]


@router.get("/audit", response_model=AuditPageOut)
async def list_audit_events(
    scope: ReadAudit,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, Query(max_length=40, description="Page backwards from this event id.")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPageOut:
    events = await audit.list_events(db, scope, limit=limit + 1, before=before, action=action)
    page = events[:limit]
    return AuditPageOut(
        events=[AuditEventOut.model_validate(e) for e in page],
        next_before=page[-1].id if len(events) > limit else None,
    )


@router.get("/audit/verify", response_model=AuditVerificationOut)
async def verify_audit_chain(scope: ReadAudit, db: Db) -> AuditVerificationOut:
    """Walk the organisation's audit chain and report the first link that does not hold."""
    result = await verify.verify_organization(db, scope)
    return AuditVerificationOut.model_validate(result)
