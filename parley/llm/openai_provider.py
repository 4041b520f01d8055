"""OpenAI, and any server that speaks its Chat Completions API (set `base_url`), through the official SDK.

Chat Completions rather than the Responses API because OpenAI-compatible servers (vLLM, Ollama, LM Studio,
gateways) implement it. Every request sends `store: false` so OpenAI keeps no copy of the conversation for
evals or distillation. `max_completion_tokens` is sent rather than the deprecated `max_tokens`, which
reasoning models reject. The SDK's own retries are off: `ResilientProvider` retries, and only before the first
token. Tool-call arguments arrive as JSON fragments spread over chunks; they are assembled per call index and
emitted, parsed, once the stream has finished.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import openai
from openai import omit
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCallParam,
    ChatCompletionMessageParam,
)

from parley.kit.clock import Clock, SystemClock
from parley.llm.base import (
    ChatMessage,
    ChatRequest,
    Event,
    Finished,
    ProviderError,
    TextDelta,
    ToolCall,
    ToolSpec,
    Usage,
)
from parley.llm.resilience import http_failure, parse_retry_after
from parley.llm.tls import tls_context

DEFAULT_BASE_URL = "https://api.openai.com/v1"
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "fallback"]
FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


class OpenAIProvider:
    name = "openai"

    def __init__(
        self, *, api_key: str, base_url: str | None = None, timeout_seconds: float = 30.0, clock: Clock | None = None
    ) -> None:
        if not api_key:
            raise ProviderError("No API key is configured for this OpenAI connection.", retryable=False)
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._clock = clock or SystemClock()
        host = urlsplit(base_url).netloc if base_url else "api.openai.com"
        self.label = "OpenAI" if host == "api.openai.com" else f"The OpenAI-compatible server at {host}"
        # An explicit base URL keeps the SDK from reading OPENAI_BASE_URL from the environment.
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,
            timeout=timeout_seconds,
            max_retries=0,
            http_client=openai.DefaultAsyncHttpxClient(verify=tls_context()),
        )
        # The SDK also picks up OPENAI_ORG_ID / OPENAI_PROJECT_ID; an operator's ids must not ride along with a
        # tenant's key (OpenAI rejects a key used with someone else's organization).
        self._client.organization = None
        self._client.project = None

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        answering = False
        try:
            chunks = await self._client.chat.completions.create(
                model=request.model,
                messages=[wire_message(m) for m in request.messages],
                tools=[wire_tool(t) for t in request.tools] or omit,
                temperature=omit if request.temperature is None else request.temperature,
                max_completion_tokens=omit if request.max_tokens is None else request.max_tokens,
                store=False,
                stream=True,
                stream_options={"include_usage": True},
            )
            answering = True
            async with chunks:
                assembler = ChunkAssembler(self.label)
                async for chunk in chunks:
                    for event in assembler.feed(chunk):
                        yield event
            for event in assembler.finish():
                yield event
        except openai.APIError as exc:
            raise self._error(exc, answering=answering) from None

    async def check(self) -> None:
        """Lists models: free, generates nothing, and every OpenAI-compatible server implements it, so it proves
        the base URL and the key. It does not prove the model name (gateways and Azure list models under other
        names than the ones requests use); a wrong model surfaces on the first chat as a non-retryable 404."""
        try:
            await self._client.models.list()
        except openai.APIError as exc:
            raise self._error(exc) from None

    async def aclose(self) -> None:
        await self._client.close()

    def _error(self, exc: openai.APIError, *, answering: bool = False) -> ProviderError:
        if isinstance(exc, openai.APITimeoutError):
            verb = "stopped sending" if answering else "did not respond"
            return ProviderError(f"{self.label} {verb} within {self._timeout:g} s.", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = self._scrub(f" ({exc.__cause__})" if exc.__cause__ else "")
            if answering:
                return ProviderError(f"{self.label} dropped the connection while answering{cause}.", retryable=True)
            return ProviderError(f"{self.label} could not be reached{cause}.", retryable=True)
        if isinstance(exc, openai.APIStatusError):
            detail = _api_message(exc.body) if exc.status_code not in (401, 403) else ""
            retry_after = parse_retry_after(exc.response.headers, self._clock.now())
            return http_failure(
                self.label, exc.status_code, self._scrub(detail), code=exc.code, retry_after=retry_after
            )
        # An error event inside a 200 stream: the provider failed mid-answer, typically overload.
        return ProviderError(f"{self.label} failed while answering: {self._scrub(exc.message)}", retryable=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    fragments: list[str] = field(default_factory=list)


class ChunkAssembler:
    """Turns chunks into events: text at once, tool calls and usage once the stream is complete."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._calls: dict[int, _PartialCall] = {}
        self._finish: str | None = None
        self._usage: Usage | None = None

    def feed(self, chunk: ChatCompletionChunk) -> Iterator[Event]:
        if chunk.usage is not None:
            self._usage = Usage(input_tokens=chunk.usage.prompt_tokens, output_tokens=chunk.usage.completion_tokens)
        for choice in chunk.choices[:1]:
            delta = choice.delta
            # A refusal is the model's answer to the customer, so it streams like text.
            for text in (delta.content, delta.refusal):
                if text:
                    yield TextDelta(text)
            for part in delta.tool_calls or ():
                call = self._calls.setdefault(part.index, _PartialCall())
                call.id = part.id or call.id
                if part.function is not None:
                    call.name = part.function.name or call.name
                    call.fragments.append(part.function.arguments or "")
            self._finish = choice.finish_reason or self._finish

    def finish(self) -> Iterator[Event]:
        if self._finish is None:
            raise ProviderError(f"{self._label} ended the answer before it was complete.", retryable=True)
        for index in sorted(self._calls):
            call = self._calls[index]
            yield ToolCall(id=call.id or f"call_{index}", name=call.name, arguments=self._arguments(call))
        if self._usage is not None:
            yield self._usage
        reason = FINISH_REASONS.get(self._finish, "stop")
        # Some compatible servers say "stop" after a tool call; the calls are what the engine must act on.
        yield Finished(reason="tool_calls" if self._calls and reason == "stop" else reason)

    def _arguments(self, call: _PartialCall) -> dict[str, Any]:
        raw = "".join(call.fragments).strip() or "{}"
        try:
            arguments = json.loads(raw)
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            cut = " (the answer hit its token limit)" if self._finish == "length" else ""
            raise ProviderError(
                f"{self._label} returned malformed arguments for the tool '{call.name}'{cut}.", retryable=False
            )
        return arguments


def wire_message(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the tool_call_id it answers")
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    if message.role == "assistant":
        if not message.tool_calls:
            return {"role": "assistant", "content": message.content}
        calls = [wire_tool_call(call) for call in message.tool_calls]
        if message.content:
            return {"role": "assistant", "content": message.content, "tool_calls": calls}
        return {"role": "assistant", "tool_calls": calls}
    if message.role == "system":
        return {"role": "system", "content": message.content}
    return {"role": "user", "content": message.content}


def wire_tool_call(call: ToolCall) -> ChatCompletionMessageFunctionToolCallParam:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}


def wire_tool(tool: ToolSpec) -> ChatCompletionFunctionToolParam:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def _api_message(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return ""
