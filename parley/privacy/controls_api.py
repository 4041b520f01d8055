"""Privacy controls over the API: the data map, retention settings, and account deletion with its grace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import yaml
from fastapi import APIRouter, Depends, Response, status
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy import select

from parley.auth.dependencies import Db, PrincipalDep, RuntimeDep, SignedInUserDep, audited_read, reads_only, require
from parley.kit.errors import NotFound
from parley.kit.schemas import RequestBody, ResponseBody
from parley.models import Contact, Organization
from parley.privacy import audit, deletion, erasure, export
from parley.privacy.datamap import document
from parley.privacy.retention import MAX_RETENTION_DAYS, RETENTION_CLASSES
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(tags=["privacy"])

ReadOrg = Annotated[OrgScope, Depends(require(Permission.ORG_READ))]
ManagePrivacy = Annotated[OrgScope, Depends(require(Permission.PRIVACY_MANAGE))]
DeleteOrg = Annotated[OrgScope, Depends(require(Permission.ORG_DELETE))]


# --- data map -----------------------------------------------------------------------------------------------------


@router.get(
    "/api/v1/privacy/datamap",
    responses={200: {"content": {"application/json": {}, "application/yaml": {}}}},
    summary="What Parley stores, column by column: category, identifying, retention, erasure",
)
async def datamap(_caller: PrincipalDep, format: Literal["json", "yaml"] = "json") -> Response:
    content = document()
    if format == "yaml":
        return Response(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), media_type="application/yaml")
    return JSONResponse(content)


# --- retention ----------------------------------------------------------------------------------------------------


class RetentionOut(ResponseBody):
    conversation_retention_days: int
    maximum_days: int = MAX_RETENTION_DAYS
    classes: dict[str, str]


class RetentionIn(RequestBody):
    conversation_retention_days: int = Field(ge=1, le=MAX_RETENTION_DAYS)


def _retention_out(org: Organization) -> RetentionOut:
    return RetentionOut(conversation_retention_days=org.conversation_retention_days, classes=RETENTION_CLASSES)


@router.get("/api/v1/orgs/{org_id}/privacy/retention", response_model=RetentionOut)
async def get_retention(scope: ReadOrg, db: Db) -> RetentionOut:
    return _retention_out(await _org(db, scope))


@router.patch("/api/v1/orgs/{org_id}/privacy/retention", response_model=RetentionOut)
async def set_retention(body: RetentionIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> RetentionOut:
    org = await _org(db, scope)
    if body.conversation_retention_days != org.conversation_retention_days:
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "retention.changed",
            details={"from": org.conversation_retention_days, "to": body.conversation_retention_days},
        )
        org.conversation_retention_days = body.conversation_retention_days
        await db.flush()
    return _retention_out(org)


async def _org(db: Db, scope: OrgScope) -> Organization:
    org = await db.get(Organization, scope.org_id)
    assert org is not None
    return org


# --- one person: access / portability, erasure ----------------------------------------------------------------------


@router.get(
    "/api/v1/orgs/{org_id}/contacts/{contact_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, 404: {}},
    dependencies=[Depends(audited_read)],
    summary="Everything held about one person, as a ZIP (GDPR Art. 15 and 20); audited",
)
async def export_contact(contact_id: str, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> Response:
    archive = await export.export_contact(db, runtime, scope, contact_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="parley-export-{contact_id}.zip"'},
    )


class ErasureOut(ResponseBody):
    contact_id: str
    conversations: int
    messages: int
    key_destroyed: bool


@router.post(
    "/api/v1/orgs/{org_id}/contacts/{contact_id}/erasure",
    response_model=ErasureOut,
    responses={404: {}},
    dependencies=[Depends(reads_only)],  # the erasure writes in transactions of its own, key store first
)
async def erase_contact(contact_id: str, scope: ManagePrivacy, runtime: RuntimeDep) -> ErasureOut:
    """Erases the person: their key is destroyed (so every copy of what was sealed for them, backups included,
    is unreadable), then their conversations, messages and identifiers are deleted. Audited; irreversible."""
    done = await erasure.erase_contact(runtime, scope, contact_id)
    return ErasureOut(
        contact_id=done.contact_id,
        conversations=done.conversations,
        messages=done.messages,
        key_destroyed=done.key_destroyed,
    )


class RestrictionIn(RequestBody):
    ground: Literal["accuracy", "unlawful", "legal_claims", "objection"] = Field(
        description="Art. 18(1): accuracy contested, unlawful processing, needed for legal claims, objection pending"
    )


class RestrictionOut(ResponseBody):
    contact_id: str
    restricted: bool
    ground: str | None
    restricted_at: datetime | None


def _restriction_out(contact: Contact) -> RestrictionOut:
    return RestrictionOut(
        contact_id=contact.id,
        restricted=contact.restricted_at is not None,
        ground=contact.restriction_ground,
        restricted_at=contact.restricted_at,
    )


async def _contact(db: Db, scope: OrgScope, contact_id: str) -> Contact:
    contact = await db.scalar(select(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))
    if contact is None:
        raise NotFound("contact not found")
    return contact


@router.put("/api/v1/orgs/{org_id}/contacts/{contact_id}/restriction", response_model=RestrictionOut)
async def restrict_contact(
    contact_id: str, body: RestrictionIn, scope: ManagePrivacy, db: Db, runtime: RuntimeDep
) -> RestrictionOut:
    """Restricts processing for the person: their messages are still stored, the AI stops answering them and
    their conversations are flagged for staff with the reason."""
    contact = await _contact(db, scope, contact_id)
    if contact.restricted_at is None or contact.restriction_ground != body.ground:
        contact.restricted_at = contact.restricted_at or runtime.clock.now()
        contact.restriction_ground = body.ground
        await audit.record_in_scope(
            db, runtime.clock, scope, "contact.restricted", target_type="contact", target_id=contact_id,
            details={"ground": body.ground},
        )  # fmt: skip
        await db.flush()
    return _restriction_out(contact)


@router.delete("/api/v1/orgs/{org_id}/contacts/{contact_id}/restriction", response_model=RestrictionOut)
async def lift_restriction(contact_id: str, scope: ManagePrivacy, db: Db, runtime: RuntimeDep) -> RestrictionOut:
    contact = await _contact(db, scope, contact_id)
    if contact.restricted_at is not None:
        contact.restricted_at = contact.restriction_ground = None
        await audit.record_in_scope(
            db, runtime.clock, scope, "contact.restriction_lifted", target_type="contact", target_id=contact_id
        )
        await db.flush()
    return _restriction_out(contact)


# --- deletion -----------------------------------------------------------------------------------------------------


class DeletionOut(ResponseBody):
    pending: bool
    requested_at: datetime | None
    due_at: datetime | None = Field(description="when the deletion is carried out, irreversibly")
    days_left: int | None


def _deletion_out(requested_at: datetime | None, due_at: datetime | None, now: datetime) -> DeletionOut:
    left = deletion.grace_left(due_at, now)
    return DeletionOut(
        pending=due_at is not None,
        requested_at=requested_at,
        due_at=due_at,
        days_left=None if left is None else left.days,
    )


@router.get("/api/v1/orgs/{org_id}/deletion", response_model=DeletionOut)
async def organization_deletion(scope: ReadOrg, db: Db, runtime: RuntimeDep) -> DeletionOut:
    org = await _org(db, scope)
    return _deletion_out(org.deletion_requested_at, org.deletion_due_at, runtime.clock.now())


@router.post("/api/v1/orgs/{org_id}/deletion", response_model=DeletionOut, status_code=status.HTTP_202_ACCEPTED)
async def request_organization_deletion(scope: DeleteOrg, db: Db, runtime: RuntimeDep) -> DeletionOut:
    """Everything keeps working for 30 days and the request can be cancelled; then every trace of the
    organisation is removed and its keys destroyed."""
    org = await deletion.request_org_deletion(db, runtime, scope)
    return _deletion_out(org.deletion_requested_at, org.deletion_due_at, runtime.clock.now())


@router.delete("/api/v1/orgs/{org_id}/deletion", response_model=DeletionOut)
async def cancel_organization_deletion(scope: DeleteOrg, db: Db, runtime: RuntimeDep) -> DeletionOut:
    org = await deletion.cancel_org_deletion(db, runtime, scope)
    return _deletion_out(org.deletion_requested_at, org.deletion_due_at, runtime.clock.now())


@router.get("/api/v1/me/deletion", response_model=DeletionOut)
async def my_deletion(me: SignedInUserDep, runtime: RuntimeDep) -> DeletionOut:
    return _deletion_out(me.user.deletion_requested_at, me.user.deletion_due_at, runtime.clock.now())


@router.post(
    "/api/v1/me/deletion", response_model=DeletionOut, status_code=status.HTTP_202_ACCEPTED, responses={409: {}}
)
async def request_my_deletion(me: SignedInUserDep, db: Db, runtime: RuntimeDep) -> DeletionOut:
    user = await db.merge(me.user)
    await deletion.request_user_deletion(db, runtime, user, me.actor)
    return _deletion_out(user.deletion_requested_at, user.deletion_due_at, runtime.clock.now())


@router.delete("/api/v1/me/deletion", response_model=DeletionOut)
async def cancel_my_deletion(me: SignedInUserDep, db: Db, runtime: RuntimeDep) -> DeletionOut:
    user = await db.merge(me.user)
    await deletion.cancel_user_deletion(db, runtime, user, me.actor)
    return _deletion_out(user.deletion_requested_at, user.deletion_due_at, runtime.clock.now())
