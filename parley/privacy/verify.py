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
    first_seq: int | None  # above 1 once old rows were pruned (`privacy.prune`)
    head_seq: int | None
    head_hash: str | None


PRUNED_ACTION = "audit.pruned"


def _check(row: Any, expected_seq: int, expected_prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq}: a row before this one is missing or was added"
    if row.prev_hash != expected_prev:
        return "prev_hash does not match the previous row's hash: a row before this one was replaced"
    if link_hash(row.prev_hash, row) != row.hash:
        return "the row's content does not match its hash: the row was changed"
    return None


class _Walk:
    """The state of one walk. A chain whose oldest rows were pruned starts at its oldest remaining row; the
    pruning wrote an `audit.pruned` event into the chain naming that row's predecessor (seq and hash), and the
    walk must meet it, or the missing start is reported as a break."""

    def __init__(self, chain_id: str) -> None:
        self.chain_id = chain_id
        self.checked = 0
        self.first: Any = None
        self.expected_seq, self.expected_prev = 1, GENESIS
        self.unaccounted_start: tuple[int, str] | None = None

    def step(self, row: Any) -> BrokenLink | None:
        if self.first is None:
            self.first = row
            if row.seq != 1:  # anchored on the oldest remaining row, until a prune event accounts for it
                self.expected_seq, self.expected_prev = row.seq, row.prev_hash
                self.unaccounted_start = (row.seq - 1, row.prev_hash)
        reason = _check(row, self.expected_seq, self.expected_prev)
        if reason:
            return BrokenLink(row.id, row.seq, reason)
        if self.unaccounted_start and row.action == PRUNED_ACTION:
            details = row.details or {}
            if (details.get("through_seq"), details.get("through_hash")) == self.unaccounted_start:
                self.unaccounted_start = None
        self.checked += 1
        self.expected_seq, self.expected_prev = row.seq + 1, row.hash
        return None

    def result(self, broken: BrokenLink | None = None) -> Verification:
        if broken is None and self.unaccounted_start is not None:
            reason = f"the chain starts at seq {self.first.seq}; no {PRUNED_ACTION} event accounts for the rows before"
            broken = BrokenLink(self.first.id, self.first.seq, reason)
        if broken is not None:
            return Verification(self.chain_id, False, self.checked + 1, broken, None, None, None)
        if self.first is None:
            return Verification(self.chain_id, True, 0, None, None, None, None)
        head = (self.expected_seq - 1, self.expected_prev)
        return Verification(self.chain_id, True, self.checked, None, self.first.seq, *head)


async def verify_chain(db: AsyncSession, chain_id: str) -> Verification:
    """The caller's transaction must see the chain (the tenant, or the platform, set for row-level security)."""
    columns = AuditEvent.__table__.c
    walk = _Walk(chain_id)
    while True:
        page = (
            await db.execute(
                select(AuditEvent.__table__)
                .where(columns.chain_id == chain_id, columns.seq >= walk.expected_seq)
                .order_by(columns.seq)
                .limit(PAGE)
            )
        ).all()
        for row in page:
            broken = walk.step(row)
            if broken:
                return walk.result(broken)
        if len(page) < PAGE:
            return walk.result()


async def verify_organization(db: AsyncSession, scope: OrgScope) -> Verification:
    return await verify_chain(db, scope.org_id)


async def verify_platform(db: AsyncSession) -> Verification:
    """Events outside any organisation; for the platform super-admin and the operator's CLI."""
    await set_pg_setting(db, "app.platform", "on")
    return await verify_chain(db, PLATFORM_CHAIN)
