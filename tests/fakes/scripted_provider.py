"""An in-memory `Provider` that plays back a script, for tests about what surrounds a provider (retries, the
breaker, the engine) rather than about a wire protocol.

    provider = ScriptedProvider(
        [ProviderError("busy", retryable=True, status=503)],      # first call fails before any event
        answer("Hello", " there"),                                 # second call streams an answer
    )

Each call to `stream()` takes the next script step: its events are yielded in order and a `ProviderError` in it is
raised at that point. With the script used up, calls answer "OK".
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Sequence

from parley.llm.base import ChatRequest, Event, Finished, ProviderError, TextDelta, Usage

Step = Sequence[Event | ProviderError]


def answer(*pieces: str, usage: tuple[int, int] = (10, 3)) -> list[Event | ProviderError]:
    return [*(TextDelta(p) for p in pieces), Usage(*usage), Finished(reason="stop")]


class ScriptedProvider:
    name = "scripted"

    def __init__(self, *steps: Step, check_error: ProviderError | None = None) -> None:
        self._steps: deque[Step] = deque(steps)
        self.check_error = check_error
        self.requests: list[ChatRequest] = []
        self.checks = 0

    def script(self, *steps: Step) -> None:
        self._steps.extend(steps)

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.requests.append(request)
        step = self._steps.popleft() if self._steps else answer("OK")
        for item in step:
            if isinstance(item, ProviderError):
                raise item
            yield item

    async def check(self) -> None:
        self.checks += 1
        if self.check_error is not None:
            raise self.check_error
