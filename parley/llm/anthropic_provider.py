"""Anthropic's Messages API through the official SDK, streamed.

The Messages API differs from Chat Completions in ways this module hides from the engine: the system prompt is a
top-level `system` field, not a message; tool calls are `tool_use` content blocks of an assistant turn and their
results `tool_result` blocks of the next user turn; `max_tokens` is required (default 1024). Anthropic has no
`store` flag to send — API inputs and outputs are not used for training by default, and retention is governed by
the organization's agreement with Anthropic, not by a request parameter. `ChatRequest.temperature` is not sent:
the 2.x SDK (API version 2026-10-21) has no sampling parameters on `messages.create` any more.

The SDK's own retries are off: `ResilientProvider` retries, and only before the first token. Note that the 2.x
SDK does not wrap transport errors raised while reading the stream body, so those are caught here too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import anthropic
import httpx2
from anthropic import omit
from anthropic.types import (
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
    RawMessageStreamEvent,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)
from anthropic.types import TextBlockParam as TextBlock

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

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_MAX_TOKENS = 1024
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "fallback"]
STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}
# Error types Anthropic may send inside a 200 stream that another attempt could get past.
TRANSIENT_STREAM_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}
Block = TextBlock | ToolUseBlockParam | ToolResultBlockParam


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_seconds: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        if not api_key:
            # Without a key the SDK would fall back to ANTHROPIC_API_KEY from the environment: the operator's key.
            raise ProviderError("No API key is configured for this Anthropic connection.", retryable=False)
        self._api_key = api_key
        self._model = model
        self._timeout = timeout_seconds
        self._clock = clock or SystemClock()
        host = urlsplit(base_url).netloc if base_url else "api.anthropic.com"
        self.label = "Anthropic" if host == "api.anthropic.com" else f"The Anthropic-compatible server at {host}"
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url or DEFAULT_BASE_URL,  # explicit, so ANTHROPIC_BASE_URL is not read
            timeout=timeout_seconds,
            max_retries=0,
            # Spans carry metadata only and no trace headers go to Anthropic, whatever the environment says.
            open_telemetry={"traces": {"content_mode": "metadata_only"}, "propagation": False},
            http_client=anthropic.DefaultAsyncHttpxClient(verify=tls_context()),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        system, messages = wire_messages(request.messages)
        try:
            events = await self._client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens or DEFAULT_MAX_TOKENS,
                messages=messages,
                system=system or omit,
                tools=[wire_tool(t) for t in request.tools] or omit,
                stream=True,
            )
            async with events:
                assembler = EventAssembler(self.label)
                async for raw in events:
                    for event in assembler.feed(raw):
                        yield event
            assembler.require_complete()
        except anthropic.APIError as exc:
            raise self._error(exc) from None
        except httpx2.TimeoutException:
            raise ProviderError(f"{self.label} stopped sending within {self._timeout:g} s.", retryable=True) from None
        except httpx2.RequestError as exc:
            raise ProviderError(
                f"{self.label} dropped the connection while answering ({exc}).", retryable=True
            ) from None

    async def check(self) -> None:
        """Retrieves the configured model: free, generates nothing, and proves the key and the model name."""
        try:
            await self._client.models.retrieve(self._model)
        except anthropic.APIError as exc:
            raise self._error(exc) from None

    async def aclose(self) -> None:
        await self._client.close()

    def _error(self, exc: anthropic.APIError) -> ProviderError:
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(f"{self.label} did not respond within {self._timeout:g} s.", retryable=True)
        if isinstance(exc, anthropic.APIConnectionError):
            cause = f" ({exc.__cause__})" if exc.__cause__ else ""
            return ProviderError(f"{self.label} could not be reached{self._scrub(cause)}.", retryable=True)
        if isinstance(exc, anthropic.APIStatusError):
            detail = self._scrub(exc.api_message or "")
            if exc.status_code < 400:  # an `error` event inside the 200 stream
                retryable = exc.type in TRANSIENT_STREAM_ERRORS
                return ProviderError(f"{self.label} failed while answering: {detail}", retryable=retryable)
            if exc.status_code in (401, 403):
                detail = ""
            retry_after = parse_retry_after(exc.response.headers, self._clock.now())
            return http_failure(self.label, exc.status_code, detail, code=exc.type, retry_after=retry_after)
        return ProviderError(f"{self.label} failed: {self._scrub(exc.message)}", retryable=True)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")


@dataclass
class _PartialCall:
    id: str
    name: str
    fragments: list[str] = field(default_factory=list)


class EventAssembler:
    """Turns stream events into ours: text as it comes, a tool call when its block closes, usage at the end."""

    def __init__(self, label: str) -> None:
        self._label = label
        self._calls: dict[int, _PartialCall] = {}
        self._input_tokens = 0
        self._output_tokens = 0
        self._stop_reason: str | None = None
        self._complete = False

    def feed(self, event: RawMessageStreamEvent) -> Iterator[Event]:
        if isinstance(event, RawMessageStartEvent):
            usage = event.message.usage
            # Cached prompt tokens are reported apart; the sum is what the prompt cost, comparable to OpenAI's.
            cached = (usage.cache_creation_input_tokens or 0) + (usage.cache_read_input_tokens or 0)
            self._input_tokens = usage.input_tokens + cached
            self._output_tokens = usage.output_tokens
        elif isinstance(event, RawContentBlockStartEvent):
            block = event.content_block
            if block.type == "tool_use":
                self._calls[event.index] = _PartialCall(id=block.id, name=block.name)
            elif block.type == "text" and block.text:
                yield TextDelta(block.text)
        elif isinstance(event, RawContentBlockDeltaEvent):
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                yield TextDelta(delta.text)
            elif delta.type == "input_json_delta" and event.index in self._calls:
                self._calls[event.index].fragments.append(delta.partial_json)
        elif isinstance(event, RawContentBlockStopEvent):
            if (call := self._calls.pop(event.index, None)) is not None:
                yield ToolCall(id=call.id, name=call.name, arguments=self._arguments(call))
        elif isinstance(event, RawMessageDeltaEvent):
            self._stop_reason = event.delta.stop_reason or self._stop_reason
            self._output_tokens = event.usage.output_tokens
        elif isinstance(event, RawMessageStopEvent):
            self._complete = True
            yield Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens)
            yield Finished(reason=STOP_REASONS.get(self._stop_reason or "end_turn", "stop"))

    def require_complete(self) -> None:
        if not self._complete:
            raise ProviderError(f"{self._label} ended the answer before it was complete.", retryable=True)

    def _arguments(self, call: _PartialCall) -> dict[str, Any]:
        raw = "".join(call.fragments).strip() or "{}"
        try:
            arguments = json.loads(raw)
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            raise ProviderError(f"{self._label} returned malformed input for the tool '{call.name}'.", retryable=False)
        return arguments


def wire_messages(messages: Sequence[ChatMessage]) -> tuple[str, list[MessageParam]]:
    """The `system` text and the turns. Adjacent turns of one role merge: tool results for one assistant turn
    must all arrive in the single user turn that follows it."""
    system = [m.content for m in messages if m.role == "system" and m.content]
    turns: list[tuple[Literal["user", "assistant"], list[Block]]] = []
    for message in messages:
        if message.role == "system":
            continue
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue  # the API rejects empty turns and empty text blocks
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return "\n\n".join(system), [_turn(role, blocks) for role, blocks in turns]


def _blocks(message: ChatMessage) -> list[Block]:
    if message.role == "tool":
        if message.tool_call_id is None:
            raise ValueError("a tool message needs the tool_call_id it answers")
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id, "content": message.content}]
    blocks: list[Block] = [{"type": "text", "text": message.content}] if message.content else []
    for call in message.tool_calls:
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments})
    return blocks


def _turn(role: Literal["user", "assistant"], blocks: list[Block]) -> MessageParam:
    first = blocks[0]
    if len(blocks) == 1 and first["type"] == "text":
        text = first["text"]
        return {"role": "user", "content": text} if role == "user" else {"role": "assistant", "content": text}
    if role == "user":
        return {"role": "user", "content": blocks}
    return {"role": "assistant", "content": blocks}


def wire_tool(tool: ToolSpec) -> ToolParam:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
