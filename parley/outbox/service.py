"""Enqueueing email: a row in the caller's transaction, never a send."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.clock import Clock
from parley.kit.db import insert_ignoring_conflict, platform_rows_visible
from parley.kit.ids import new_id
from parley.models import OutboxMessage


def scoped_dedupe_key(org_id: str | None, dedupe_key: str) -> str:
    """Keys are per tenant: the same key from two organisations names two emails."""
    return f"{org_id or '-'}/{dedupe_key}"


async def enqueue_email(
    db: AsyncSession,
    clock: Clock,
    *,
    org_id: str | None,
    to: str,
    subject: str,
    text: str,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Queue an email to be sent after the caller's transaction commits (nothing is sent if it rolls back).

    With `dedupe_key`, enqueueing is idempotent: a second call with the same key (in this organisation) returns
    the first row and queues nothing. `org_id=None` is a platform email; the caller's transaction must already
    be in `org_id`'s tenant scope otherwise.
    """
    now = clock.now()
    values: dict[str, Any] = {
        "id": new_id("obx"),
        "org_id": org_id,
        "to_address": to,
        "subject": subject,
        "body_text": text,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    if org_id is None:  # platform emails are visible only with the platform setting (row-level security)
        async with platform_rows_visible(db):
            return await _insert(db, values, dedupe_key)
    return await _insert(db, values, dedupe_key)


async def _insert(db: AsyncSession, values: dict[str, Any], dedupe_key: str | None) -> OutboxMessage:
    if dedupe_key is None:
        message = OutboxMessage(**values)
        db.add(message)
        await db.flush()
        return message
    key = scoped_dedupe_key(values["org_id"], dedupe_key)
    # Insert first, then read: two enqueues racing on one key both end up with the one row that won.
    await insert_ignoring_conflict(db, OutboxMessage.__table__, {**values, "dedupe_key": key})
    found = await db.scalar(
        select(OutboxMessage).where(OutboxMessage.dedupe_key == key).execution_options(populate_existing=True)
    )
    assert found is not None
    return found
