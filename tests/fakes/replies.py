"""What a fake provider answers, described once and rendered by each fake in its own wire protocol.

Tests queue `Reply` values with `fake.script(...)`; every request to the fake (chat, messages or models) takes
the next one, and an empty queue gives a default success. Names are provider-neutral ("stop", "tool_calls") and
each fake translates them (`end_turn`, `tool_use`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class ToolUse:
    """A tool call the fake model makes. A `str` for `arguments` is sent verbatim (e.g. malformed JSON)."""

    name: str
    arguments: Mapping[str, Any] | str
    id: str = ""
    fragments: int = 3  # the arguments JSON is streamed split into this many pieces

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def argument_fragments(self) -> list[str]:
        return split(self.arguments_json(), self.fragments)


@dataclass(frozen=True)
class Reply:
    content: str = ""  # the answer text
    chunks: int = 1  # streamed in this many pieces
    tool_calls: tuple[ToolUse, ...] = ()
    finish: FinishReason | None = None
    usage: tuple[int, int] = (12, 5)  # (input tokens, output tokens)
    status: int = 200
    message: str = ""  # error message when status >= 400, or of the mid-stream error
    error_type: str | None = None  # the wire error type/code, e.g. "insufficient_quota"; derived from status if None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the response starts (to exceed a client timeout)
    chunk_delay: float = 0.0  # seconds between streamed events
    cut_after: int | None = None  # drop the connection after this many text chunks
    error_after: int | None = None  # send an in-stream error event after this many text chunks

    @classmethod
    def text(
        cls, content: str, *, chunks: int = 1, finish: FinishReason = "stop", usage: tuple[int, int] = (12, 5)
    ) -> Reply:
        return cls(content=content, chunks=chunks, finish=finish, usage=usage)

    @classmethod
    def tools(cls, *calls: ToolUse, text: str = "", usage: tuple[int, int] = (20, 9)) -> Reply:
        return cls(content=text, tool_calls=calls, usage=usage)

    @classmethod
    def error(
        cls, status: int, message: str = "", *, retry_after: float | None = None, error_type: str | None = None
    ) -> Reply:
        headers = {} if retry_after is None else {"retry-after": f"{retry_after:g}"}
        return cls(status=status, message=message or f"fake error {status}", headers=headers, error_type=error_type)

    @classmethod
    def slow(cls, delay: float, text: str = "too late") -> Reply:
        return cls(content=text, delay=delay)

    @classmethod
    def cut(cls, text: str, *, chunks: int, after: int) -> Reply:
        """Streams `after` of `chunks` text pieces, then drops the connection without finishing the response."""
        return cls(content=text, chunks=chunks, cut_after=after)

    @classmethod
    def stream_error(cls, text: str, *, chunks: int, after: int, message: str = "Overloaded") -> Reply:
        """Streams `after` text pieces, then an error event inside the 200 stream (as providers do when overloaded)."""
        return cls(content=text, chunks=chunks, error_after=after, message=message)

    @property
    def finish_reason(self) -> FinishReason:
        return self.finish or ("tool_calls" if self.tool_calls else "stop")

    def text_chunks(self) -> list[str]:
        return split(self.content, self.chunks) if self.content else []


def split(value: str, pieces: int) -> list[str]:
    """Splits into `pieces` non-empty parts of nearly equal length (fewer if the string is shorter)."""
    pieces = max(1, min(pieces, len(value)))
    size, extra = divmod(len(value), pieces)
    parts, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        parts.append(value[start:end])
        start = end
    return parts or [value]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: Any  # parsed JSON, or None for a bodiless request

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), f"{self.method} {self.path} had no JSON object body"
        return self.body
