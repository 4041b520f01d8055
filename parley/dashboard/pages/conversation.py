"""One conversation for staff: the transcript with citations and confidence, who has it, and what staff can do
(take over, write to the person live, hand back to the AI, close, leave internal notes).

Every page or fragment that shows message text is an audited read (`service.read_transcript`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import BackgroundTasks, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, ValidationError

from parley.auth.dependencies import Db, RuntimeDep, audited_read
from parley.conversations import events, inbox, service
from parley.conversations import repository as repo
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import errors_of
from parley.dashboard.pages.inbox import staff_names
from parley.dashboard.registry import Page
from parley.dashboard.web import HEADERS, environment, org_url, redirect, render
from parley.kit.schemas import RequestBody
from parley.models import Conversation, Message
from parley.privacy import audit
from parley.privacy.keys import Erased, keyring
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission

page = Page()


class TextIn(RequestBody):
    text: str = Field(min_length=1, max_length=4_000)


async def _view(
    db: Db, runtime: Runtime, ctx: OrgPage, conversation: Conversation, messages: list[tuple[Message, Any]]
) -> dict[str, Any]:
    names = await staff_names(db, ctx)
    agent = None
    if conversation.agent_id:
        from parley.agents import repository as agents_repo

        agent = await agents_repo.agent(db, ctx.org_scope, conversation.agent_id)
    return {
        "conversation": conversation,
        "messages": [(m, None if isinstance(body, Erased) else body) for m, body in messages],
        "notes": await inbox.read_notes(db, runtime, ctx.org_scope, conversation.id),
        "names": names,
        "agent": agent,
        "me": ctx.user.id,
    }


@page.router.get("/o/{org_id}/conversations/{conversation_id}", dependencies=[Depends(audited_read)])
async def conversation_page(
    conversation_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep
) -> Response:
    ctx.org_scope.require(Permission.CONVERSATIONS_READ)
    conversation, messages = await service.read_transcript(db, runtime, ctx.org_scope, conversation_id)
    return render(request, "conversation.html", ctx, **await _view(db, runtime, ctx, conversation, messages))


@page.router.get("/o/{org_id}/conversations/{conversation_id}/since", dependencies=[Depends(audited_read)])
async def since(
    conversation_id: str,
    ctx: OrgPageDep,
    db: Db,
    runtime: RuntimeDep,
    message: Annotated[str, Query(max_length=40)] = "",
) -> JSONResponse:
    """What changed since the page's last message: new messages and the conversation's state, as HTML
    fragments (rendered and escaped here). An audited read like the page itself."""
    ctx.org_scope.require(Permission.CONVERSATIONS_READ)
    scope = ctx.org_scope
    conversation = await service.access_conversation(db, scope, conversation_id)
    last = await repo.message(db, scope, message) if message else None
    if last is not None and last.conversation_id == conversation_id:
        found = await repo.messages_since(db, scope, conversation_id, last.created_at)
    else:
        found = await repo.messages(db, scope, conversation_id)
    ring = keyring(runtime, scope)
    opened = [(m, await service.open_body(ring, m)) for m in found]
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "conversation.read",
        target_type="conversation",
        target_id=conversation_id,
        details={"contact_id": conversation.contact_id, "via": "dashboard_live"},
    )
    view = await _view(db, runtime, ctx, conversation, opened)
    env = environment()
    return JSONResponse(
        {
            "messages": [
                {"id": m.id, "html": env.get_template("_message.html").render(m=m, body=body, **view)}
                for m, body in view["messages"]
            ],
            "state": env.get_template("_conversation_state.html").render(
                ctx=ctx, csrf_field="csrf_token", csrf_token=ctx.csrf_token, **view
            ),
        },
        headers=HEADERS,
    )


def _reply_target(ctx: OrgPage, conversation_id: str) -> str:
    return org_url(ctx.org_id, "conversations", conversation_id)


async def _text(request: Request) -> tuple[TextIn | None, str]:
    form = await request.form()
    try:
        return TextIn.model_validate({"text": str(form.get("text", "")).strip()}), ""
    except ValidationError as exc:
        return None, errors_of(exc).get("text", "invalid text")


@page.router.post("/o/{org_id}/conversations/{conversation_id}/reply")
async def reply(
    conversation_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    """Write to the person: takes the conversation over (as the API's staff reply) and reaches their widget live."""
    ctx.org_scope.require(Permission.CONVERSATIONS_REPLY)
    body, error = await _text(request)
    if body is None:
        return await _invalid(request, ctx, db, runtime, conversation_id, {"text": error})
    message, took_over = await service.do_staff_reply(db, runtime, ctx.org_scope, conversation_id, body.text)
    live = {
        "id": message.id,
        "role": "staff",
        "text": body.text,
        "citations": [],
        "created_at": message.created_at.isoformat(),
    }
    # Background tasks run after the response's transaction has committed.
    background.add_task(events.staff_replied, runtime, ctx.org_id, conversation_id, live, took_over=took_over)
    return redirect(_reply_target(ctx, conversation_id) + "#reply")


async def _invalid(
    request: Request, ctx: OrgPage, db: Db, runtime: Runtime, conversation_id: str, errors: dict[str, str]
) -> Response:
    # Showing the form again shows the transcript again: that is a read like any other, and audited.
    conversation, messages = await service.read_transcript(db, runtime, ctx.org_scope, conversation_id)
    view = await _view(db, runtime, ctx, conversation, messages)
    return render(request, "conversation.html", ctx, status=422, errors=errors, **view)


@page.router.post("/o/{org_id}/conversations/{conversation_id}/take-over")
async def take_over(
    conversation_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.CONVERSATIONS_REPLY)
    if await inbox.do_take_over(db, runtime, ctx.org_scope, conversation_id):
        background.add_task(runtime.live.publish, conversation_id, {"type": "handed_off"}, org_id=ctx.org_id)
        background.add_task(events.announce, runtime, ctx.org_id, conversation_id, "state")
    return redirect(_reply_target(ctx, conversation_id), "You have this conversation: the AI stays silent.")


@page.router.post("/o/{org_id}/conversations/{conversation_id}/hand-back")
async def hand_back(
    conversation_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.CONVERSATIONS_REPLY)
    await inbox.do_hand_back(db, runtime, ctx.org_scope, conversation_id)
    background.add_task(events.released, runtime, ctx.org_id, conversation_id)
    return redirect(_reply_target(ctx, conversation_id), "Handed back: the AI answers the next message.")


@page.router.post("/o/{org_id}/conversations/{conversation_id}/close")
async def close(
    conversation_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.CONVERSATIONS_REPLY)
    await inbox.do_close(db, runtime, ctx.org_scope, conversation_id)
    background.add_task(events.announce, runtime, ctx.org_id, conversation_id, "state")
    return redirect(_reply_target(ctx, conversation_id), "Conversation closed.")


@page.router.post("/o/{org_id}/conversations/{conversation_id}/notes")
async def add_note(
    conversation_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    ctx.org_scope.require(Permission.CONVERSATIONS_REPLY)
    body, error = await _text(request)
    if body is None:
        return await _invalid(request, ctx, db, runtime, conversation_id, {"note": error})
    await inbox.do_add_note(db, runtime, ctx.org_scope, conversation_id, body.text)
    background.add_task(events.announce, runtime, ctx.org_id, conversation_id, "state")
    return redirect(_reply_target(ctx, conversation_id) + "#notes", "Note added.")
