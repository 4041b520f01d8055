"""Staff views of personal data are audited: a page that shows a contact (or anything else a data subject owns)
records it here, in the page's transaction (give the route `dependencies=[Depends(audited_read)]`).
Conversations are recorded by `conversations.service.read_transcript` itself."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


async def staff_viewed(db: AsyncSession, runtime: Runtime, scope: OrgScope, target_type: str, target_id: str) -> None:
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        f"{target_type}.read",
        target_type=target_type,
        target_id=target_id,
        details={"via": "dashboard"},
    )
