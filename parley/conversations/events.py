"""Organisation-wide live events for the staff inbox.

Besides the per-conversation key that a widget socket listens on, every change a staff member's open inbox must
show is announced on the organisation's key (`org:<org id>`) of the same `LiveHub`, so that it fans out across
server processes the same way (in-process when embedded, Redis or PostgreSQL when scaled). Events carry ids and
the kind of change, never message text: an inbox that wants the text reads it, and that read is audited.
Publish only after the change has committed (the hub is not transactional)."""

from __future__ import annotations

from typing import Any, Literal

from parley.runtime import Runtime

Change = Literal["message", "state"]


def org_key(org_id: str) -> str:
    return f"org:{org_id}"


async def announce(runtime: Runtime, org_id: str, conversation_id: str, change: Change) -> None:
    await runtime.live.publish(
        org_key(org_id),
        {"type": "conversation", "conversation_id": conversation_id, "change": change},
        org_id=org_id,
    )


async def staff_replied(
    runtime: Runtime, org_id: str, conversation_id: str, message: dict[str, Any], *, took_over: bool
) -> None:
    """A staff member wrote (from the API or the dashboard): the person's widget learns that a person has the
    conversation and gets the message; staff inboxes are told. Call after commit."""
    if took_over:
        await runtime.live.publish(conversation_id, {"type": "handed_off"}, org_id=org_id)
    await runtime.live.publish(conversation_id, {"type": "message", "message": message}, org_id=org_id)
    await announce(runtime, org_id, conversation_id, "message")


async def released(runtime: Runtime, org_id: str, conversation_id: str) -> None:
    """The conversation is handed back to the AI: the widget and staff inboxes are told. Call after commit."""
    await runtime.live.publish(conversation_id, {"type": "released"}, org_id=org_id)
    await announce(runtime, org_id, conversation_id, "state")
