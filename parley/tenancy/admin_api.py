"""Platform administration for multi-tenant hosting. A super-admin manages organisations, not their content:
being a super-admin grants no access to any organisation's data (join it as a member for that, audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from parley.auth.dependencies import Db, RuntimeDep, SuperadminDep
from parley.privacy import audit, verify
from parley.privacy.schemas import AuditEventOut, AuditPageOut, AuditVerificationOut
from parley.tenancy import platform
from parley.tenancy import repository as repo
from parley.tenancy.schemas import OrganizationOut, PlatformOrganizationCreatedOut, PlatformOrganizationIn

router = APIRouter(prefix="/api/v1/admin", tags=["platform admin"])


@router.get("/orgs", response_model=list[OrganizationOut])
async def list_all_organizations(_: SuperadminDep, db: Db) -> object:
    return await repo.all_organizations(db)


@router.post("/orgs", response_model=PlatformOrganizationCreatedOut, status_code=status.HTTP_201_CREATED)
async def create_organization(
    body: PlatformOrganizationIn, admin: SuperadminDep, db: Db, runtime: RuntimeDep
) -> PlatformOrganizationCreatedOut:
    created = await platform.create_organization_with_owner(
        db, runtime, name=body.name, owner_email=body.owner_email, actor=admin.actor
    )
    return PlatformOrganizationCreatedOut(
        organization=OrganizationOut.model_validate(created.organization),
        owner_invitation_url=created.owner_invitation_url,
    )


@router.get("/audit", response_model=AuditPageOut)
async def list_platform_audit_events(
    _: SuperadminDep,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[str | None, Query(max_length=40)] = None,
) -> AuditPageOut:
    """Sign-ins, failed sign-ins and account events, which belong to no organisation."""
    events = await audit.list_platform_events(db, limit=limit + 1, before=before)
    page = events[:limit]
    return AuditPageOut(
        events=[AuditEventOut.model_validate(e) for e in page], next_before=page[-1].id if len(events) > limit else None
    )


@router.get("/audit/verify", response_model=AuditVerificationOut)
async def verify_platform_audit_chain(_: SuperadminDep, db: Db) -> AuditVerificationOut:
    """Walk the chain of events outside any organisation and report the first link that does not hold."""
    result = await verify.verify_platform(db)
    return AuditVerificationOut.model_validate(result)
