"""Organisation-wide live events for the staff inbox.

Besides the per-conversation key that a widget socket listens on, every change a staff member's open inbox must
show is announced on the organisation's key (`org:<org id>`) of the same `LiveHub`, so that it fans out across
server processes the same way (in-process when embedded, Redis or PostgreSQL when scaled). Events carry ids and
the kind of change, never message text: an inbox that wants the text reads it, and that read is audited.
Publish only after the change has committed (the hub is not transactional)."""

from __future__ import annotations

from typing import Literal

from parley.runtime import Runtime

Change = Literal["message", "state"]


def org_key(org_id: str) -> str:
    return f"org:{org_id}"


async def announce(runtime: Runtime, org_id: str, conversation_id: str, change: Change) -> None:
    await runtime.live.publish(
        org_key(org_id),
        {"type": "conversation", "conversation_id": conversation_id, "change": change},
    )
