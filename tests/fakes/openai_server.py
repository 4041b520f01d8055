"""A fake OpenAI (or OpenAI-compatible) server speaking the real Chat Completions wire protocol.

    with FakeOpenAI() as fake:                       # or the `fake_openai` fixture
        fake.script(Reply.text("Hello there", chunks=3), Reply.error(429, retry_after=0.01))
        provider = OpenAIProvider(api_key=fake.api_key, base_url=fake.base_url)
        ...
        assert fake.last.json["store"] is False

Endpoints: `POST /v1/chat/completions` (JSON, or SSE `data: {...}` chunks ending in `data: [DONE]` when
`stream` is true, with tool-call arguments split across chunks and a final usage chunk when
`stream_options.include_usage` is set) and `GET /v1/models`. A request whose `Authorization: Bearer` key differs
from `fake.api_key` gets the real 401 body. Every request is recorded in `fake.requests` before it is answered.
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

CREATED = 1_767_600_000
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
}


class FakeOpenAI(FakeServer):
    def __init__(self, *, api_key: str = "sk-fake-openai-key", models: Sequence[str] = ("gpt-fake",)) -> None:
        super().__init__(api_key=api_key, models=models)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/v1/models", self.list_models, methods=["GET"]),
        ]

    async def chat_completions(self, request: Request) -> Response:
        body = (await self.record(request)).json
        if (refused := self._refuse(request)) is not None:
            return refused
        reply = self.next_reply(Reply.text("Hello from the fake model."))
        if reply.delay and not await wait_unless_disconnected(request, reply.delay):
            return Response(status_code=499)
        if reply.status >= 400:
            return error_response(reply)
        model = body.get("model", "gpt-fake")
        if not body.get("stream"):
            return JSONResponse(completion(reply, model), headers=dict(reply.headers))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        events, cut = sse_chunks(reply, model, include_usage=include_usage)
        return EventStream(events, delay=reply.chunk_delay, cut_after=cut, headers=dict(reply.headers))

    async def list_models(self, request: Request) -> Response:
        await self.record(request)
        if (refused := self._refuse(request)) is not None:
            return refused
        reply = self.next_reply(Reply())
        if reply.delay and not await wait_unless_disconnected(request, reply.delay):
            return Response(status_code=499)
        if reply.status >= 400:
            return error_response(reply)
        data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "fake"} for m in self.models]
        return JSONResponse({"object": "list", "data": data})

    def _refuse(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error_response(Reply.error(401, "Incorrect API key provided.", error_type="invalid_api_key"))
        return None


def error_response(reply: Reply) -> JSONResponse:
    code = reply.error_type or ("rate_limit_exceeded" if reply.status == 429 else None)
    kind = reply.error_type or ERROR_TYPES.get(reply.status, "server_error" if reply.status >= 500 else "requests")
    error = {"message": reply.message, "type": kind, "param": None, "code": code}
    return JSONResponse({"error": error}, status_code=reply.status, headers=dict(reply.headers))


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, include_usage: bool = False) -> bytes:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if include_usage:
        chunk["usage"] = None
    return sse(chunk)


def sse(data: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


def sse_chunks(reply: Reply, model: str, *, include_usage: bool) -> tuple[list[bytes], int | None]:
    """The SSE events for a reply, and the index to cut the connection at (if the reply asks for a cut)."""
    events = [_chunk(model, {"role": "assistant", "content": ""}, include_usage=include_usage)]
    texts = reply.text_chunks()
    for i, piece in enumerate(texts):
        if reply.error_after is not None and i == reply.error_after:
            return [*events, sse({"error": {"message": reply.message, "type": "server_error"}})], None
        events.append(_chunk(model, {"content": piece}, include_usage=include_usage))
    cut = None if reply.cut_after is None else 1 + reply.cut_after
    for index, call in enumerate(reply.tool_calls):
        opening = {"index": index, "id": call.id or f"call_fake_{index}", "type": "function"}
        opening["function"] = {"name": call.name, "arguments": ""}
        events.append(_chunk(model, {"tool_calls": [opening]}, include_usage=include_usage))
        for fragment in call.argument_fragments():
            part = {"index": index, "function": {"arguments": fragment}}
            events.append(_chunk(model, {"tool_calls": [part]}, include_usage=include_usage))
    events.append(_chunk(model, {}, reply.finish_reason, include_usage=include_usage))
    if include_usage:
        usage = {"prompt_tokens": reply.usage[0], "completion_tokens": reply.usage[1], "total_tokens": sum(reply.usage)}
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": CREATED, "model": model}
        events.append(sse({**base, "choices": [], "usage": usage}))
    events.append(b"data: [DONE]\n\n")
    return events, cut


def completion(reply: Reply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_fake_{i}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for i, call in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
        "usage": {
            "prompt_tokens": reply.usage[0],
            "completion_tokens": reply.usage[1],
            "total_tokens": sum(reply.usage),
        },
    }
