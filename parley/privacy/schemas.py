from __future__ import annotations

from datetime import datetime
from typing import Any

from parley.kit.schemas import ResponseBody


class AuditEventOut(ResponseBody):
    id: str
    occurred_at: datetime
    actor_type: str
    actor_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    request_id: str | None
    ip: str | None
    details: dict[str, Any]


class AuditPageOut(ResponseBody):
    events: list[AuditEventOut]
    next_before: str | None


class BrokenLinkOut(ResponseBody):
    id: str
    seq: int
    reason: str


class AuditVerificationOut(ResponseBody):
    """`first_seq` is above 1 once old rows were pruned. `head_seq`/`head_hash`: the last link, to note
    elsewhere (removing the newest rows leaves a valid chain)."""

    ok: bool
    checked: int
    first_broken: BrokenLinkOut | None
    first_seq: int | None
    head_seq: int | None
    head_hash: str | None
