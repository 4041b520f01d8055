"""A fake Anthropic server speaking the real Messages wire protocol.

    with FakeAnthropic() as fake:                    # or the `fake_anthropic` fixture
        fake.script(Reply.tools(ToolUse("lookup_order", {"order": "A1"})))
        provider = AnthropicProvider(api_key=fake.api_key, model="claude-fake", base_url=fake.base_url)
        ...
        assert fake.last.json["system"] == "Be brief."

Endpoints: `POST /v1/messages` (JSON, or SSE with named events — `message_start`, `ping`, `content_block_start`,
`content_block_delta` with `text_delta` / `input_json_delta`, `content_block_stop`, `message_delta`,
`message_stop` — when `stream` is true), `GET /v1/models` and `GET /v1/models/{model_id}` (404 for a model not
in `fake.models`). Like the real API it answers 400 without an `anthropic-version` header or without
`model`/`max_tokens`/`messages`, and 401 unless the key (in `x-api-key`, or `Authorization: Bearer`, which is
what the 2.x SDK sends) equals `fake.api_key`. Every request is recorded in `fake.requests` before it is answered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.replies import Reply
from tests.fakes.server import EventStream, FakeServer, wait_unless_disconnected

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeAnthropic(FakeServer):
    def __init__(self, *, api_key: str = "sk-ant-fake-key", models: Sequence[str] = ("claude-fake",)) -> None:
        super().__init__(api_key=api_key, models=models)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[Route]:
        return [
            Route("/v1/messages", self.messages, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
            Route("/v1/models/{model_id}", self.get_model, methods=["GET"]),
        ]

    async def messages(self, request: Request) -> Response:
        body = (await self.record(request)).json
        if (refused := self._refuse(request)) is not None:
            return refused
        missing = [name for name in ("model", "max_tokens", "messages") if name not in body]
        if missing:
            return error_response(Reply.error(400, f"{missing[0]}: Field required"))
        reply = self.next_reply(Reply.text("Hello from the fake model."))
        if reply.delay and not await wait_unless_disconnected(request, reply.delay):
            return Response(status_code=499)
        if reply.status >= 400:
            return error_response(reply)
        if not body.get("stream"):
            return JSONResponse(message(reply, body["model"]), headers=dict(reply.headers))
        events, cut = sse_events(reply, body["model"])
        return EventStream(events, delay=reply.chunk_delay, cut_after=cut, headers=dict(reply.headers))

    async def list_models(self, request: Request) -> Response:
        await self.record(request)
        if (answer := await self._model_reply(request)) is not None:
            return answer
        data = [model_info(m) for m in self.models]
        return JSONResponse({"data": data, "has_more": False, "first_id": None, "last_id": None})

    async def get_model(self, request: Request) -> Response:
        await self.record(request)
        if (answer := await self._model_reply(request)) is not None:
            return answer
        model_id = request.path_params["model_id"]
        if model_id not in self.models:
            return error_response(Reply.error(404, f"model: {model_id}"))
        return JSONResponse(model_info(model_id))

    async def _model_reply(self, request: Request) -> Response | None:
        if (refused := self._refuse(request)) is not None:
            return refused
        reply = self.next_reply(Reply())
        if reply.delay and not await wait_unless_disconnected(request, reply.delay):
            return Response(status_code=499)
        return error_response(reply) if reply.status >= 400 else None

    def _refuse(self, request: Request) -> Response | None:
        if not request.headers.get("anthropic-version"):
            return error_response(Reply.error(400, "anthropic-version: header is required"))
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key not in (request.headers.get("x-api-key"), bearer):
            return error_response(Reply.error(401, "invalid x-api-key"))
        return None


def error_response(reply: Reply) -> JSONResponse:
    kind = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": reply.message}, "request_id": "req_fake"}
    return JSONResponse(body, status_code=reply.status, headers={"request-id": "req_fake", **reply.headers})


def model_info(model_id: str) -> dict[str, Any]:
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": "2026-01-01T00:00:00Z"}


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()


def sse_events(reply: Reply, model: str) -> tuple[list[bytes], int | None]:
    """The SSE events for a reply, and the index to cut the connection at (if the reply asks for a cut)."""
    start = {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.usage[0], "output_tokens": 1},
    }
    events = [sse("message_start", {"message": start}), sse("ping", {})]
    index = 0
    cut = None
    texts = reply.text_chunks()
    if texts:
        events.append(sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}))
        for i, piece in enumerate(texts):
            if reply.error_after is not None and i == reply.error_after:
                error = {"error": {"type": "overloaded_error", "message": reply.message}}
                return [*events, sse("error", error)], None
            if reply.cut_after is not None and i == reply.cut_after:
                cut = len(events)
            events.append(sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}}))
        events.append(sse("content_block_stop", {"index": 0}))
        index = 1
    for offset, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": call.id or f"toolu_fake_{offset}", "name": call.name, "input": {}}
        events.append(sse("content_block_start", {"index": index, "content_block": block}))
        for fragment in ["", *call.argument_fragments()]:  # the real API opens with an empty fragment
            delta = {"type": "input_json_delta", "partial_json": fragment}
            events.append(sse("content_block_delta", {"index": index, "delta": delta}))
        events.append(sse("content_block_stop", {"index": index}))
        index += 1
    stop = {"stop_reason": STOP_REASONS[reply.finish_reason], "stop_sequence": None}
    events.append(sse("message_delta", {"delta": stop, "usage": {"output_tokens": reply.usage[1]}}))
    events.append(sse("message_stop", {}))
    return events, cut


def message(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.content}] if reply.content else []
    for offset, call in enumerate(reply.tool_calls):
        tool_input = json.loads(call.arguments_json())
        content.append(
            {"type": "tool_use", "id": call.id or f"toolu_fake_{offset}", "name": call.name, "input": tool_input}
        )
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS[reply.finish_reason],
        "stop_sequence": None,
        "usage": {"input_tokens": reply.usage[0], "output_tokens": reply.usage[1]},
    }
