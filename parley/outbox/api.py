"""Staff read the organisation's outbox: what was sent, what waits and why, what failed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from parley.auth.dependencies import Db, RuntimeDep, audited_read, require
from parley.outbox import repository as repo
from parley.outbox.schemas import OutboxMessageOut, OutboxPageOut
from parley.privacy import audit
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(prefix="/api/v1/orgs/{org_id}", tags=["outbox"])

ReadOutbox = Annotated[OrgScope, Depends(require(Permission.OUTBOX_READ))]


@router.get("/outbox", response_model=OutboxPageOut, dependencies=[Depends(audited_read)])
async def list_outbox(
    scope: ReadOutbox,
    db: Db,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=40, description="Page backwards from this message id.")] = None,
    status: Annotated[Literal["pending", "sent", "failed"] | None, Query()] = None,
) -> OutboxPageOut:
    """Newest first. Recipients are personal data, so each read is audited."""
    found = await repo.list_messages(db, scope, limit=limit + 1, before=before, status=status)
    page = found[:limit]
    await audit.record_in_scope(
        db, runtime.clock, scope, "outbox.read", details={"messages": [m.id for m in page], "status": status}
    )
    return OutboxPageOut(
        messages=[OutboxMessageOut.model_validate(m) for m in page],
        next_before=page[-1].id if len(found) > limit else None,
    )
