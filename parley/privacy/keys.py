"""Organisation data keys: created on first use, stored wrapped by the master key, opened per transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.crypto import Cipher, new_data_key, unwrap_key, wrap_key
from parley.kit.db import insert_ignoring_conflict
from parley.kit.ids import new_id
from parley.models import OrgKey
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


def _owner(org_id: str) -> str:
    return f"org:{org_id}"


async def org_cipher(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> Cipher:
    row = await db.scalar(select(OrgKey).where(OrgKey.org_id == scope.org_id))
    if row is None:
        # Two first uses at once: the unique org_id lets exactly one key win; both then read the winner.
        await insert_ignoring_conflict(
            db,
            OrgKey.__table__,
            {
                "key_id": new_id("okey"),
                "org_id": scope.org_id,
                "wrapped_key": wrap_key(runtime.master_key, new_data_key(), owner=_owner(scope.org_id)),
                "created_at": runtime.clock.now(),
            },
        )
        row = await db.scalar(select(OrgKey).where(OrgKey.org_id == scope.org_id))
        assert row is not None
    key = unwrap_key(runtime.master_key, row.wrapped_key, owner=_owner(scope.org_id))
    return Cipher(row.key_id, key, scope.org_id)
