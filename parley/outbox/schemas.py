from __future__ import annotations

from datetime import datetime

from parley.kit.schemas import ResponseBody


class OutboxMessageOut(ResponseBody):
    """What staff need to see why an email did (not) go out; the body stays in the database."""

    id: str
    to_address: str
    subject: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    settled_at: datetime | None


class OutboxPageOut(ResponseBody):
    messages: list[OutboxMessageOut]
    next_before: str | None
