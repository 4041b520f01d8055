"""One streaming interface for every language-model provider.

A provider turns a `ChatRequest` into a stream of events: text deltas, tool calls, token usage, and a final
`Finished`. The engine assembles the prompt (instructions, retrieved passages, history) and never knows which
provider it talks to. Providers raise `ProviderError` for failures; `retryable` says whether trying again can
help (429, 5xx, timeouts) or not (401, 400, unknown model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # for role="tool": the call this message answers


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object


@dataclass(frozen=True)
class Passage:
    """A retrieved knowledge chunk. LLM providers see passages inside the prompt the engine builds; the offline
    provider answers from them directly."""

    chunk_id: str
    document_id: str
    title: str
    text: str
    score: float
    url: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    # Context for providers that answer without a model (offline); remote providers ignore these.
    passages: tuple[Passage, ...] = ()
    language: str = "en"
    fallback: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Finished:
    reason: Literal["stop", "length", "tool_calls", "content_filter", "fallback"]
    # The provider's own confidence in [0, 1] where it has one (the offline provider does; most APIs do not).
    confidence: float | None = None
    # Chunk ids the answer actually used, where the provider knows (offline); otherwise the engine decides.
    used_chunk_ids: tuple[str, ...] = ()


Event = TextDelta | ToolCall | Usage | Finished


class ProviderError(Exception):
    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Provider(Protocol):
    name: str

    def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Yields events; the last one is `Finished`. Raises ProviderError."""
        ...

    async def check(self) -> None:
        """A cheap call that proves the configuration works ("test connection"). Raises ProviderError."""
        ...
