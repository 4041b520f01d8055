"""The widget's routes: the business's settings (staff, per agent), the public endpoints a visitor's browser
calls (CORS-checked against the agent's allowed origins), the WebSocket, and `/widget.js`.

Visitors authenticate with `X-Parley-Visitor: <visitor id>:<secret>` (see visitors.py). These routes never set
a cookie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Response, WebSocket, status
from fastapi.responses import StreamingResponse

from parley.auth.dependencies import Db, RequestInfoDep, RuntimeDep, reads_only, require
from parley.channels.widget import service, visitors
from parley.channels.widget.cors import ALLOWED_HEADERS, STATE_KEY, WidgetCorsMiddleware, cors_headers
from parley.channels.widget.schemas import (
    ConsentIn,
    ConsentOut,
    ErasedOut,
    ExportOut,
    HistoryOut,
    MessageIn,
    VisitorOut,
    WidgetConfigOut,
    WidgetSettingsIn,
    WidgetSettingsOut,
)
from parley.channels.widget.service import WidgetContext, WidgetState
from parley.channels.widget.socket import WidgetSocket
from parley.channels.widget.static import serve_script
from parley.kit.db import unit_of_work
from parley.kit.errors import Forbidden, ParleyError, TooManyRequests
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope

router = APIRouter(tags=["widget"])
PUBLIC = "/widget/v1/agents/{agent_id}"
VISITOR_HEADER = "x-parley-visitor"

ReadAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_READ))]
ManageAgents = Annotated[OrgScope, Depends(require(Permission.AGENTS_MANAGE))]


def widget_state(app: FastAPI) -> WidgetState:
    """One per app (process): created on first use from the app's settings."""
    state: WidgetState | None = getattr(app.state, "widget", None)
    if state is None:
        runtime: Runtime = app.state.runtime
        state = app.state.widget = WidgetState.from_settings(runtime.settings)
    return state


def install(app: FastAPI) -> None:
    app.add_middleware(WidgetCorsMiddleware)
    app.include_router(router)


# --- The business's settings ------------------------------------------------------------------------------------


@router.get("/api/v1/orgs/{org_id}/agents/{agent_id}/widget", response_model=WidgetSettingsOut)
async def get_widget(agent_id: str, scope: ReadAgents, db: Db, runtime: RuntimeDep) -> WidgetSettingsOut:
    """The agent's web chat widget: where it may be embedded, and the snippet to paste into those pages."""
    return await service.widget_settings(db, runtime, scope, agent_id)


@router.put("/api/v1/orgs/{org_id}/agents/{agent_id}/widget", response_model=WidgetSettingsOut)
async def put_widget(
    agent_id: str, body: WidgetSettingsIn, scope: ManageAgents, db: Db, runtime: RuntimeDep
) -> WidgetSettingsOut:
    """Turn the widget on or change it. Only pages on `allowed_origins` can open it."""
    return await service.do_update_widget(db, runtime, scope, agent_id, body)


@router.delete("/api/v1/orgs/{org_id}/agents/{agent_id}/widget", status_code=status.HTTP_204_NO_CONTENT)
async def delete_widget(agent_id: str, scope: ManageAgents, db: Db, runtime: RuntimeDep) -> Response:
    await service.do_disable_widget(db, runtime, scope, agent_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- Visitors -----------------------------------------------------------------------------------------------------


async def widget_context(
    agent_id: str, request: Request, db: Db, runtime: RuntimeDep, info: RequestInfoDep
) -> WidgetContext:
    origin = request.headers.get("origin")
    ctx = await service.open_widget(db, runtime, agent_id, origin, info)
    if origin:
        setattr(request.state, STATE_KEY, origin)
    return ctx


Widget = Annotated[WidgetContext, Depends(widget_context)]


async def visitor_id(request: Request, ctx: Widget, runtime: RuntimeDep) -> str:
    return service.authenticate(runtime, ctx, visitors.parse_header(request.headers.get(VISITOR_HEADER)))


VisitorId = Annotated[str, Depends(visitor_id)]


@router.options(PUBLIC + "/{rest:path}", include_in_schema=False)
async def preflight(agent_id: str, request: Request, db: Db, runtime: RuntimeDep, info: RequestInfoDep) -> Response:
    origin = request.headers.get("origin")
    await service.open_widget(db, runtime, agent_id, origin, info)
    allow = {name.decode(): value.decode() for name, value in cors_headers(origin)} if origin else {}
    return Response(
        status_code=status.HTTP_204_NO_CONTENT,
        headers={
            **allow,
            "access-control-allow-methods": "GET, POST, DELETE",
            "access-control-allow-headers": ALLOWED_HEADERS,
            "access-control-max-age": "600",
        },
    )


@router.get(PUBLIC + "/config", response_model=WidgetConfigOut)
async def widget_config(ctx: Widget, db: Db, runtime: RuntimeDep) -> WidgetConfigOut:
    """What the widget shows before anyone types: names, greeting, age gate, consent text, privacy notice."""
    return await service.config(db, runtime, ctx)


@router.post(
    PUBLIC + "/visitors",
    response_model=VisitorOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(reads_only)],
)
async def new_visitor(ctx: Widget, runtime: RuntimeDep, request: Request) -> VisitorOut:
    """A new visitor id and secret, for the browser's localStorage. Nothing is stored on the server."""
    state = widget_state(request.app)
    ip = request.client.host if request.client else None
    if ip and (wait := state.per_ip.take(ip)):
        raise TooManyRequests("too many new conversations from your network; try again soon", retry_after=wait)
    created = visitors.new_visitor(runtime, ctx.scope.org_id)
    return VisitorOut(visitor_id=created.visitor_id, visitor_secret=created.secret)


@router.get(PUBLIC + "/conversation", response_model=HistoryOut)
async def conversation_history(ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep) -> HistoryOut:
    """The visitor's conversation with this agent so far (after a reload, or in another tab)."""
    return await service.history(db, runtime, ctx, visitor)


@router.get(PUBLIC + "/conversation/export", response_model=ExportOut)
async def export_conversation(
    ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep, response: Response
) -> ExportOut:
    """Download everything held about this conversation, as JSON."""
    response.headers["content-disposition"] = 'attachment; filename="conversation.json"'
    response.headers["cache-control"] = "no-store"
    return await service.export(db, runtime, ctx, visitor)


@router.delete(PUBLIC + "/conversation", response_model=ErasedOut)
async def erase_conversation(ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep) -> ErasedOut:
    """Erase this conversation: its messages and the conversation itself, for good."""
    return ErasedOut(erased_messages=await service.erase(db, runtime, ctx, visitor))


@router.post(PUBLIC + "/consent", response_model=ConsentOut, status_code=status.HTTP_201_CREATED)
async def record_consent(ctx: Widget, visitor: VisitorId, body: ConsentIn, db: Db, runtime: RuntimeDep) -> ConsentOut:
    """Record the visitor's choice in the consent ledger (the chat works the same either way)."""
    return await service.record_consent(
        db, runtime, ctx, visitor, purpose=body.purpose, granted=body.granted, text_id=body.text_id
    )


@router.delete(PUBLIC + "/consent/{purpose}", response_model=ConsentOut)
async def withdraw_consent(
    purpose: Literal["analytics"], ctx: Widget, visitor: VisitorId, db: Db, runtime: RuntimeDep
) -> ConsentOut:
    """Withdraw consent: one call, no text to cite, effective for everything counted from now on."""
    return await service.record_consent(db, runtime, ctx, visitor, purpose=purpose, granted=False, control="withdraw")


@router.post(PUBLIC + "/messages", response_class=StreamingResponse, dependencies=[Depends(reads_only)])
async def send_message(
    ctx: Widget, visitor: VisitorId, body: MessageIn, runtime: RuntimeDep, info: RequestInfoDep, request: Request
) -> StreamingResponse:
    """Send a message and receive the reply as server-sent events (`typing`, `delta`…, `message`, `done`): the
    transport for networks that block WebSockets."""
    state = widget_state(request.app)
    service.check_message(runtime, state, ctx, visitor, info.ip, body.text, age=body.age_confirmed)

    async def events() -> AsyncIterator[str]:
        async for event in service.turn(runtime, ctx, visitor, body.text, body.client_id, info):
            yield service.sse(event)

    return StreamingResponse(events(), media_type="text/event-stream", headers={"cache-control": "no-store"})


@router.websocket(PUBLIC + "/ws")
async def widget_socket(websocket: WebSocket, agent_id: str) -> None:
    """The widget's live connection. The handshake is refused unless it comes from an allowed origin; the first
    frame must be `{"type": "hello", "visitor": "<id>:<secret>", "age_confirmed": bool}`."""
    runtime: Runtime = websocket.app.state.runtime
    info = WidgetSocket.request_info(websocket)
    origin = websocket.headers.get("origin")
    try:
        if origin is None:
            raise Forbidden("browsers send an Origin", code="origin_not_allowed")
        async with unit_of_work(runtime.sessionmaker, write=False) as db:
            ctx = await service.open_widget(db, runtime, agent_id, origin, info)
    except ParleyError:
        await websocket.close(code=1008)  # before accept: the handshake is answered with 403
        return
    await WidgetSocket(websocket, runtime, widget_state(websocket.app), ctx, info).run()


@router.get("/widget.js", include_in_schema=False)
async def widget_js(request: Request) -> Response:
    return serve_script(request)
