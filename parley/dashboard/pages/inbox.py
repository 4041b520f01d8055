"""The inbox: conversations across channels, updating live, filtered by channel, state and agent.

Live updates are Server-Sent Events: the page subscribes to its organisation's key on the `LiveHub`
(`conversations.events`), which every new message and state change is announced on once committed. The list
itself shows no message text (nothing personal is read to draw it); opening a conversation is the audited read.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from parley.agents import repository as agents_repo
from parley.auth.dependencies import Db
from parley.conversations import repository as repo
from parley.conversations.events import org_key
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import HEADERS, environment, render
from parley.runtime import Runtime
from parley.tenancy import repository as tenancy_repo
from parley.tenancy.permissions import Permission

page = Page(nav=[NavItem("Inbox", "inbox", Permission.CONVERSATIONS_READ, order=10)])

CHANNELS = ("widget", "whatsapp", "sms", "email", "voice", "api")
STATES = [
    ("", "All"),
    ("open", "Open"),
    ("needs_attention", "Needs attention"),
    ("low_confidence", "Low confidence"),
    ("handed_off", "Handed off"),
    ("closed", "Closed"),
]
HEARTBEAT_SECONDS = 15.0
# A stream ends after this long and the browser reconnects (EventSource does so by itself), which checks the
# session and the role again: a signed-out or demoted member stops receiving events within this bound.
STREAM_SECONDS = 600.0
LIMIT = 200

Filter = Annotated[str, Query(max_length=40, pattern=r"^[a-z0-9_]*$")]


async def staff_names(db: Db, ctx: OrgPage) -> dict[str, str]:
    return {user.id: user.name for _, user in await tenancy_repo.members(db, ctx.org_scope)}


async def _rows(db: Db, ctx: OrgPage, channel: str, state: str, agent: str) -> dict[str, Any]:
    ctx.org_scope.require(Permission.CONVERSATIONS_READ)
    conversations = await repo.inbox(
        db,
        ctx.org_scope,
        channel=channel or None,
        state=state or None,
        agent_id=agent or None,
        limit=LIMIT,
    )
    agents = {a.id: a.name for a in await agents_repo.agents(db, ctx.org_scope)}
    return {"conversations": conversations, "agents": agents, "names": await staff_names(db, ctx)}


@page.router.get("/o/{org_id}/inbox")
async def inbox(
    request: Request, ctx: OrgPageDep, db: Db, channel: Filter = "", state: Filter = "open", agent: Filter = ""
) -> Response:
    rows = await _rows(db, ctx, channel, state, agent)
    filters = {"channel": channel, "state": state, "agent": agent}
    return render(
        request,
        "inbox.html",
        ctx,
        channels=[("", "All channels")] + [(c, c) for c in CHANNELS],
        states=STATES,
        agent_options=[("", "All agents"), *rows["agents"].items()],
        values=filters,
        query="&".join(f"{k}={v}" for k, v in filters.items()),
        **rows,
    )


@page.router.get("/o/{org_id}/inbox/rows")
async def inbox_rows(
    request: Request, ctx: OrgPageDep, db: Db, channel: Filter = "", state: Filter = "open", agent: Filter = ""
) -> HTMLResponse:
    """The list's rows alone: what the page swaps in when an event arrives."""
    rows = await _rows(db, ctx, channel, state, agent)
    body = environment().get_template("_inbox_rows.html").render(ctx=ctx, **rows)
    return HTMLResponse(body, headers=HEADERS)


@page.router.get("/o/{org_id}/inbox/events")
async def inbox_events(request: Request, ctx: OrgPageDep) -> StreamingResponse:
    """The organisation's conversation events as Server-Sent Events. The request's transaction has ended before
    the stream starts: an open inbox holds no database connection."""
    ctx.org_scope.require(Permission.CONVERSATIONS_READ)
    runtime: Runtime = request.app.state.runtime
    return StreamingResponse(
        event_stream(runtime, ctx.org_id),
        media_type="text/event-stream",
        headers={**HEADERS, "x-accel-buffering": "no"},
    )


async def event_stream(runtime: Runtime, org_id: str) -> AsyncIterator[str]:
    async with runtime.live.subscribe(org_key(org_id)) as queue:
        # A first line at once: the browser (and the benchmark) know the subscription is in place.
        yield "retry: 2000\n: subscribed\n\n"
        deadline = asyncio.get_running_loop().time() + STREAM_SECONDS
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=min(HEARTBEAT_SECONDS, left))
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            yield f"event: conversation\ndata: {json.dumps(event)}\n\n"
