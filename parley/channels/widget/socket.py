"""One visitor's WebSocket: a `hello` frame that proves who they are, then their messages, each answered with
the reply streamed token by token; meanwhile, live events of their conversation (a staff member writing) are
forwarded as they happen. Sends are serialised with a lock, as the two flows share the socket."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from parley.channels.widget import service, visitors
from parley.channels.widget.schemas import MessageIn
from parley.channels.widget.service import WidgetContext, WidgetState
from parley.conversations import service as conversations
from parley.kit.context import RequestInfo
from parley.kit.errors import ParleyError
from parley.runtime import Runtime
from parley.tenancy.scope import scoped_unit_of_work

log = logging.getLogger("parley.widget")
HELLO_TIMEOUT_SECONDS = 15
POLICY_VIOLATION = 1008
NOT_FOUND = 4404


class WidgetSocket:
    def __init__(
        self, websocket: WebSocket, runtime: Runtime, state: WidgetState, ctx: WidgetContext, info: RequestInfo
    ) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.state = state
        self.ctx = ctx
        self.info = info
        self.lock = asyncio.Lock()
        self.live: asyncio.Task[None] | None = None

    @staticmethod
    def request_info(websocket: WebSocket) -> RequestInfo:
        return RequestInfo(
            request_id=uuid.uuid4().hex,
            ip=websocket.client.host if websocket.client else None,
            user_agent=websocket.headers.get("user-agent"),
        )

    async def send(self, event: dict[str, Any]) -> None:
        async with self.lock:
            await self.ws.send_text(json.dumps(event, ensure_ascii=False))

    async def error(self, exc: ParleyError) -> None:
        await self.send({"type": "error", "error": exc.code, "detail": exc.detail, **exc.extra})

    async def run(self) -> None:
        await self.ws.accept()
        try:
            hello = await asyncio.wait_for(self._receive(), HELLO_TIMEOUT_SECONDS)
            visitor_id = self._authenticate(hello)
            if visitor_id is None:
                await self.send({"type": "error", "error": "not_found", "detail": "conversation not found"})
                await self.ws.close(code=NOT_FOUND)
                return
            age_confirmed = hello.get("age_confirmed") is True
            await self._follow_existing(visitor_id)
            await self.send({"type": "ready"})
            while True:
                frame = await self._receive()
                if frame.get("type") == "ping":
                    await self.send({"type": "pong"})
                elif frame.get("type") == "message":
                    await self._message(visitor_id, frame, age_confirmed)
        except (WebSocketDisconnect, TimeoutError):
            pass
        except ValueError:  # not JSON, or not an object
            with contextlib.suppress(RuntimeError):
                await self.ws.close(code=POLICY_VIOLATION)
        finally:
            if self.live is not None:
                self.live.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.live

    async def _receive(self) -> dict[str, Any]:
        frame = json.loads(await self.ws.receive_text())
        if not isinstance(frame, dict):
            raise ValueError("frames are JSON objects")
        return frame

    def _authenticate(self, hello: dict[str, Any]) -> str | None:
        if hello.get("type") != "hello":
            return None
        credentials = visitors.parse_header(str(hello.get("visitor") or ""))
        return visitors.verify(self.runtime, self.ctx.scope.org_id, credentials)

    async def _message(self, visitor_id: str, frame: dict[str, Any], age_confirmed: bool) -> None:
        try:
            body = MessageIn.model_validate(
                {"text": frame.get("text"), "client_id": frame.get("client_id"), "age_confirmed": age_confirmed}
            )
        except ValidationError:
            await self.send({"type": "error", "error": "invalid_request", "detail": "a message needs some text"})
            return
        try:
            service.check_message(
                self.runtime, self.state, self.ctx, visitor_id, self.info.ip, body.text, age=age_confirmed
            )
        except ParleyError as exc:
            await self.error(exc)
            return
        try:
            async for event in service.turn(self.runtime, self.ctx, visitor_id, body.text, body.client_id, self.info):
                if event["type"] == "conversation":
                    self._follow(event["conversation_id"])
                    continue
                await self.send(event)
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:
            # One failed turn (an overloaded database, say) must not cost the visitor their connection. The
            # message was recorded first if it got that far, and the reconciler answers it later.
            log.exception("widget turn failed", extra={"request_id": self.info.request_id})
            await self.send({"type": "error", "error": "internal_error", "detail": "something went wrong; try again"})

    async def _follow_existing(self, visitor_id: str) -> None:
        async with scoped_unit_of_work(self.runtime.sessionmaker, self.ctx.scope, write=False) as db:
            conversation = await conversations.find_conversation(
                db, self.ctx.scope, self.ctx.agent.id, service.IDENTIFIER_KIND, visitor_id, service.CHANNEL
            )
        if conversation is not None:
            self._follow(conversation.id)

    def _follow(self, conversation_id: str) -> None:
        if self.live is None:
            self.live = asyncio.create_task(self._forward(conversation_id))

    async def _forward(self, conversation_id: str) -> None:
        async with self.runtime.live.subscribe(conversation_id) as queue:
            while True:
                await self.send(await queue.get())
