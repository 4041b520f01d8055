"""Walk an audit chain from its first link and report the first one that does not hold (see `privacy.chain`).

The walk reads the chain in pages by `seq`, so a long chain is checked in bounded memory. It detects a row
changed in place (its hash no longer matches) and a row removed or inserted (a gap in `seq`, or a `prev_hash`
that no longer matches). Removing the newest rows leaves a shorter valid chain: the reported head (`seq`,
`hash`) is what to record elsewhere to catch that.

The raw `ip` is not checked: it is outside the chain on purpose. Retention anonymises it (nulls or truncates
it), and the pseudonym key it could be compared under changes when the master key is rotated; either would
look like tampering. The chained `ip_hmac` is what stays evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import set_pg_setting
from parley.models import AuditEvent
from parley.privacy.chain import GENESIS, PLATFORM_CHAIN, link_hash
from parley.tenancy.scope import OrgScope

PAGE = 1000


@dataclass(frozen=True)
class BrokenLink:
    id: str
    seq: int
    reason: str


@dataclass(frozen=True)
class Verification:
    chain_id: str
    ok: bool
    checked: int
    first_broken: BrokenLink | None
    head_seq: int | None
    head_hash: str | None


def _check(row: Any, expected_seq: int, expected_prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq}: a row before this one is missing or was added"
    if row.prev_hash != expected_prev:
        return "prev_hash does not match the previous row's hash: a row before this one was replaced"
    if link_hash(row.prev_hash, row) != row.hash:
        return "the row's content does not match its hash: the row was changed"
    return None


async def verify_chain(db: AsyncSession, chain_id: str) -> Verification:
    """The caller's transaction must see the chain (the tenant, or the platform, set for row-level security)."""
    columns = AuditEvent.__table__.c
    checked, expected_prev, last_seq = 0, GENESIS, 0
    while True:
        page = (
            await db.execute(
                select(AuditEvent.__table__)
                .where(columns.chain_id == chain_id, columns.seq > last_seq)
                .order_by(columns.seq)
                .limit(PAGE)
            )
        ).all()
        for row in page:
            reason = _check(row, checked + 1, expected_prev)
            if reason:
                return Verification(chain_id, False, checked + 1, BrokenLink(row.id, row.seq, reason), None, None)
            checked, expected_prev, last_seq = checked + 1, row.hash, row.seq
        if len(page) < PAGE:
            if not checked:
                return Verification(chain_id, True, 0, None, None, None)
            return Verification(chain_id, True, checked, None, last_seq, expected_prev)


async def verify_organization(db: AsyncSession, scope: OrgScope) -> Verification:
    return await verify_chain(db, scope.org_id)


async def verify_platform(db: AsyncSession) -> Verification:
    """Events outside any organisation; for the platform super-admin and the operator's CLI."""
    await set_pg_setting(db, "app.platform", "on")
    return await verify_chain(db, PLATFORM_CHAIN)
