"""Retries, one overall deadline and a circuit breaker around any `Provider`.

- Only failures before the first event are retried. Once a text delta has reached the engine it may already be on
  a customer's screen or in a speech buffer; a second attempt would repeat or contradict it, so a stream that
  breaks mid-way surfaces as a retryable `ProviderError` and the engine decides what to say.
- Backoff is exponential with jitter (`base * 2**attempt`, capped, scaled by a random 0.5 to 1) so conversations that
  hit one rate limit together do not retry in lockstep. A provider's Retry-After, when it gives one, wins.
- One deadline bounds the whole request — attempts, waits between them and the stream itself. A wait that would
  end past it is not started: the customer gets a prompt failure instead of a silent stall.
- A circuit breaker per credential stops traffic to a provider that keeps failing (outage, exhausted quota): while
  open, calls fail at once with a message staff can act on. After the cooldown one trial call goes through; its
  success closes the breaker, its failure opens it for another cooldown. Only retryable failures count: a
  400/401/404 is a configuration problem whose own message says what to fix, and it proves the provider answers.
- Classifying HTTP failures lives here too, so both providers word and classify them the same way.
"""

from __future__ import annotations

import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal, Protocol, runtime_checkable

import anyio

from parley.kit.clock import Clock, SystemClock
from parley.llm.base import ChatRequest, Event, Finished, Provider, ProviderError

Sleep = Callable[[float], Awaitable[None]]


class RetryAfterError(ProviderError):
    """A retryable failure for which the provider said how long to wait (429 or 503 with Retry-After)."""

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, retryable=True, status=status)
        self.retry_after = retry_after


class CircuitOpenError(ProviderError):
    """Refused without calling the provider, because its recent calls kept failing."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message, retryable=False)
        self.retry_in = retry_in


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait, from `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date)."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return None


def http_failure(
    label: str, status: int, detail: str = "", *, code: str | None = None, retry_after: float | None = None
) -> ProviderError:
    """A `ProviderError` for an HTTP error status, worded for staff. `label` names the provider ("OpenAI")."""
    said = f" The provider said: {detail}" if detail else ""
    retryable = status in (408, 409, 429) or status >= 500
    if status == 401:
        message = f"{label} rejected the API key (HTTP 401). Check the key in the provider settings."
    elif status == 403:
        message = f"{label} refused this API key access to the model or endpoint (HTTP 403)."
    elif status == 402 or code in ("insufficient_quota", "billing_error"):
        message = f"{label} refused the request for billing reasons: the account is out of credit or quota."
        retryable = False
    elif status == 404:
        message = f"{label} does not know this model or endpoint (HTTP 404). Check the model name and base URL.{said}"
    elif status == 429:
        message = f"{label} is rate-limiting this API key (HTTP 429).{said}"
    elif status >= 500:
        message = f"{label} had a server error (HTTP {status}).{said}"
    else:
        message = f"{label} rejected the request (HTTP {status}).{said}"
    if retryable and retry_after is not None:
        return RetryAfterError(message, retry_after=retry_after, status=status)
    return ProviderError(message, retryable=retryable, status=status)


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; lets one trial call through every `reset_after`."""

    def __init__(
        self, key: str, *, failure_threshold: int = 5, reset_after: float = 30.0, clock: Clock | None = None
    ) -> None:
        self.key = key
        self._threshold = failure_threshold
        self._cooldown = timedelta(seconds=reset_after)
        self._clock = clock or SystemClock()
        self._failures = 0
        self._opened_at: datetime | None = None
        self._trial_since: datetime | None = None

    @property
    def state(self) -> Literal["closed", "open", "half_open"]:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self._clock.now() >= self._opened_at + self._cooldown else "open"

    def before_call(self) -> None:
        """Raises while open; in half-open state admits one trial call at a time."""
        if self._opened_at is None:
            return
        now = self._clock.now()
        ready_at = self._opened_at + self._cooldown
        # A trial that never reported back (its task was killed) must not block the breaker forever.
        if self._trial_since is not None:
            ready_at = max(ready_at, self._trial_since + self._cooldown)
        if now < ready_at:
            wait = (ready_at - now).total_seconds()
            raise CircuitOpenError(
                f"This AI provider is temporarily disabled after {self._failures} failed requests in a row; "
                f"Parley will try it again in about {max(1, round(wait))} s.",
                retry_in=wait,
            )
        self._trial_since = now

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = self._trial_since = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock.now()
            self._trial_since = None

    def release(self) -> None:
        """The call ended with no verdict (the caller went away): let the next caller make the trial."""
        self._trial_since = None


@runtime_checkable
class SupportsAclose(Protocol):
    async def aclose(self) -> None: ...


class ResilientProvider:
    """Wraps a provider with retries before the first event, an overall deadline and a circuit breaker."""

    def __init__(
        self,
        inner: Provider,
        *,
        breaker: CircuitBreaker | None = None,
        retries: int = 2,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        deadline_seconds: float = 120.0,
        clock: Clock | None = None,
        sleep: Sleep = anyio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = inner.name
        self.inner = inner
        self.breaker = breaker or CircuitBreaker(inner.name, clock=clock)
        self._retries = retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._deadline = deadline_seconds
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._jitter = jitter

    async def stream(self, request: ChatRequest) -> AsyncIterator[Event]:
        self.breaker.before_call()
        deadline = self._clock.now() + timedelta(seconds=self._deadline)
        attempt, settled = 0, False
        try:
            while True:
                started = False
                try:
                    async with aclosing(self._attempt(request, deadline)) as events:
                        async for event in events:
                            started = True
                            # A consumer may stop reading at `Finished`; the answer was complete all the same.
                            if isinstance(event, Finished) and not settled:
                                settled = True
                                self.breaker.record_success()
                            yield event
                except ProviderError as error:
                    delay = None if started else self._retry_delay(error, attempt, deadline)
                    if delay is None:
                        if not settled:
                            settled = True
                            self._record(error)
                        raise
                    await self._sleep(delay)
                    attempt += 1
                    continue
                if not settled:
                    settled = True
                    self.breaker.record_success()
                return
        finally:
            if not settled:
                self.breaker.release()

    async def check(self) -> None:
        """Straight to the provider: "test connection" must report what is true now, not what the breaker
        remembers. Success closes the breaker, so a fixed key is usable at once."""
        await self.inner.check()
        self.breaker.record_success()

    async def aclose(self) -> None:
        if isinstance(self.inner, SupportsAclose):
            await self.inner.aclose()

    async def _attempt(self, request: ChatRequest, deadline: datetime) -> AsyncGenerator[Event, None]:
        # Each step waits at most until the deadline; the inner stream is never left open behind us.
        async with aclosing(_as_generator(self.inner.stream(request))) as events:
            while True:
                remaining = (deadline - self._clock.now()).total_seconds()
                try:
                    with anyio.fail_after(max(remaining, 0.0)):
                        event = await anext(events)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise ProviderError(
                        f"The AI provider ({self.name}) did not finish answering within {self._deadline:g} s.",
                        retryable=True,
                    ) from None
                yield event

    def _retry_delay(self, error: ProviderError, attempt: int, deadline: datetime) -> float | None:
        if not error.retryable or attempt >= self._retries:
            return None
        if isinstance(error, RetryAfterError):
            delay = error.retry_after
        else:
            ceiling = min(self._backoff_max, self._backoff_base * 2**attempt)
            delay = ceiling * (0.5 + self._jitter() / 2)
        if self._clock.now() + timedelta(seconds=delay) >= deadline:
            return None
        return delay

    def _record(self, error: ProviderError) -> None:
        if error.retryable:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()


async def _as_generator(events: AsyncIterator[Event]) -> AsyncGenerator[Event, None]:
    """Providers return plain async iterators; a generator wrapper gives us `aclose()` to release connections."""
    try:
        async for event in events:
            yield event
    finally:
        if isinstance(events, SupportsAclose):
            await events.aclose()
