"""The breach register over the API: the platform's super-admin keeps it; organisations see what concerns them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import Field, model_validator

from parley.auth.dependencies import Db, RuntimeDep, SuperadminDep, require
from parley.kit.schemas import RequestBody, ResponseBody
from parley.privacy import breaches
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(tags=["privacy"])
ReadAudit = Annotated[OrgScope, Depends(require(Permission.AUDIT_READ))]


class BreachIn(RequestBody):
    title: str = Field(min_length=3, max_length=200)
    description: str = Field(min_length=3, max_length=10_000)
    measures: str = Field(default="", max_length=10_000)
    detected_at: datetime
    window_start: datetime
    window_end: datetime
    compromised_actor_id: str | None = Field(default=None, max_length=40)
    org_ids: list[str] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _consistent(self) -> BreachIn:
        if self.window_end < self.window_start:
            raise ValueError("window_end must not be before window_start")
        if self.compromised_actor_id is None and not self.org_ids:
            raise ValueError("name the compromised account or token, or the organisations affected")
        return self


class AffectedOut(ResponseBody):
    org_id: str
    organization: str
    people_affected: int
    notified_at: datetime | None


class BreachOut(ResponseBody):
    id: str
    title: str
    detected_at: datetime
    authority_deadline: datetime
    overdue: bool
    authority_notified_at: datetime | None
    people_affected: int
    organizations: list[AffectedOut]
    drafts: dict[str, str]


def _out(found: breaches.Assessment) -> BreachOut:
    return BreachOut(
        id=found.breach.id,
        title=found.breach.title,
        detected_at=found.breach.detected_at,
        authority_deadline=found.deadline,
        overdue=found.overdue,
        authority_notified_at=found.breach.authority_notified_at,
        people_affected=found.people_affected,
        organizations=[
            AffectedOut(
                org_id=row.org_id, organization=name, people_affected=row.people_affected, notified_at=row.notified_at
            )
            for row, name in found.organizations
        ],
        drafts=breaches.drafts(found),
    )


@router.post("/api/v1/admin/breaches", response_model=BreachOut, status_code=status.HTTP_201_CREATED)
async def record_breach(body: BreachIn, admin: SuperadminDep, db: Db, runtime: RuntimeDep) -> BreachOut:
    breach = await breaches.record(
        db, runtime, admin.actor, **body.model_dump(exclude={"org_ids"}), org_ids=body.org_ids
    )
    return _out(await breaches.assessment(db, runtime, breach.id))


@router.get("/api/v1/admin/breaches/{breach_id}", response_model=BreachOut, responses={404: {}})
async def get_breach(breach_id: str, _: SuperadminDep, db: Db, runtime: RuntimeDep) -> BreachOut:
    return _out(await breaches.assessment(db, runtime, breach_id))


@router.post("/api/v1/admin/breaches/{breach_id}/authority-notified", response_model=BreachOut)
async def authority_notified(breach_id: str, admin: SuperadminDep, db: Db, runtime: RuntimeDep) -> BreachOut:
    """Records that the supervisory authority was notified (now)."""
    await breaches.mark_authority_notified(db, runtime, admin.actor, breach_id)
    return _out(await breaches.assessment(db, runtime, breach_id))


@router.post("/api/v1/admin/breaches/{breach_id}/organizations-notified", response_model=BreachOut)
async def organizations_notified(breach_id: str, admin: SuperadminDep, db: Db, runtime: RuntimeDep) -> BreachOut:
    """Records that every affected organisation was told; from then on each sees the breach in its own API."""
    await breaches.mark_organizations_notified(db, runtime, admin.actor, breach_id)
    return _out(await breaches.assessment(db, runtime, breach_id))


@router.get("/api/v1/orgs/{org_id}/breaches")
async def organization_breaches(scope: ReadAudit, db: Db) -> list[dict[str, Any]]:
    return await breaches.for_organization(db, scope.org_id)
