"""Small helpers shared by the provider tests: building requests, draining streams, recording waits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from parley.kit.clock import FrozenClock
from parley.llm.base import ChatMessage, ChatRequest, Event, Provider, ProviderError, TextDelta, ToolSpec

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

ORDER_TOOL = ToolSpec(
    name="lookup_order",
    description="Finds an order by its number.",
    parameters={"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
)


def chat(*messages: ChatMessage, model: str = "gpt-fake", **options: object) -> ChatRequest:
    history = messages or (ChatMessage(role="user", content="Hello?"),)
    return ChatRequest(model=model, messages=tuple(history), **options)  # type: ignore[arg-type]


async def collect(provider: Provider, request: ChatRequest) -> list[Event]:
    return [event async for event in provider.stream(request)]


async def collect_until_error(provider: Provider, request: ChatRequest) -> tuple[list[Event], ProviderError]:
    events: list[Event] = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderError as error:
        return events, error
    raise AssertionError(f"expected a ProviderError, got a complete stream: {events}")


def text_of(events: Sequence[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


class RecordingSleep:
    """Stands in for `anyio.sleep`: records each wait and moves the clock instead of waiting."""

    def __init__(self, clock: FrozenClock | None = None) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.clock is not None:
            self.clock.advance(seconds=seconds)
