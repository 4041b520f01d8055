"""Retries, the deadline and the circuit breaker, around an in-memory provider (and one fake server for time)."""

from __future__ import annotations

import time
from contextlib import aclosing
from datetime import timedelta
from email.utils import format_datetime

import pytest

from parley.kit.clock import FrozenClock
from parley.llm.base import Finished, ProviderError, TextDelta
from parley.llm.openai_provider import OpenAIProvider
from parley.llm.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ResilientProvider,
    RetryAfterError,
    parse_retry_after,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import Reply
from tests.fakes.scripted_provider import ScriptedProvider, answer
from tests.llm.support import RecordingSleep, chat, collect, collect_until_error, text_of


def busy() -> ProviderError:
    return ProviderError("Busy (HTTP 503).", retryable=True, status=503)


def wrap(inner: ScriptedProvider, clock: FrozenClock, **options: object) -> tuple[ResilientProvider, RecordingSleep]:
    sleep = RecordingSleep(clock)
    settings: dict[str, object] = {"retries": 0, "breaker": CircuitBreaker("cred_1", clock=clock), **options}
    return ResilientProvider(inner, clock=clock, sleep=sleep, **settings), sleep  # type: ignore[arg-type]


async def open_breaker(provider: ResilientProvider, inner: ScriptedProvider) -> None:
    inner.script(*[[busy()]] * 5)
    for _ in range(5):
        await collect_until_error(provider, chat())
    assert provider.breaker.state == "open"


async def test_breaker_opens_after_five_failed_requests_and_then_fails_fast(clock: FrozenClock) -> None:
    inner = ScriptedProvider()
    provider, _ = wrap(inner, clock)
    await open_breaker(provider, inner)

    _, error = await collect_until_error(provider, chat())

    assert isinstance(error, CircuitOpenError)
    assert "temporarily disabled" in str(error)
    assert "about 30 s" in str(error)
    assert error.retry_in == 30
    assert not error.retryable
    assert inner.calls == 5  # the sixth request never reached the provider


async def test_breaker_lets_one_trial_through_after_the_cooldown_and_closes_on_success(clock: FrozenClock) -> None:
    inner = ScriptedProvider()
    provider, _ = wrap(inner, clock)
    await open_breaker(provider, inner)
    clock.advance(seconds=29)
    assert provider.breaker.state == "open"

    clock.advance(seconds=2)
    assert provider.breaker.state == "half_open"
    inner.script(answer("Back", " again"))
    events = await collect(provider, chat())

    assert text_of(events) == "Back again"
    assert provider.breaker.state == "closed"
    assert text_of(await collect(provider, chat())) == "OK"


async def test_failed_trial_opens_the_breaker_for_another_cooldown(clock: FrozenClock) -> None:
    inner = ScriptedProvider()
    provider, _ = wrap(inner, clock)
    await open_breaker(provider, inner)
    clock.advance(seconds=31)

    inner.script([busy()])
    _, trial_error = await collect_until_error(provider, chat())
    _, error = await collect_until_error(provider, chat())

    assert trial_error.status == 503
    assert "temporarily disabled" in str(error)
    assert inner.calls == 6
    clock.advance(seconds=31)
    assert text_of(await collect(provider, chat())) == "OK"


async def test_only_one_trial_at_a_time_and_an_abandoned_trial_frees_the_slot(clock: FrozenClock) -> None:
    inner = ScriptedProvider()
    provider, _ = wrap(inner, clock)
    await open_breaker(provider, inner)
    clock.advance(seconds=31)
    inner.script(answer("Slow", " answer"))

    trial = provider.stream(chat())
    assert await anext(trial) == TextDelta("Slow")
    _, error = await collect_until_error(provider, chat())
    assert "temporarily disabled" in str(error)

    await trial.aclose()  # type: ignore[attr-defined]  # the customer went away mid-answer
    assert text_of(await collect(provider, chat())) == "OK"


async def test_an_answer_read_up_to_finished_counts_as_a_success(clock: FrozenClock) -> None:
    inner = ScriptedProvider(*[[busy()]] * 4, answer("Fine"), *[[busy()]] * 4)
    provider, _ = wrap(inner, clock)
    for _ in range(4):
        await collect_until_error(provider, chat())

    async with aclosing(provider.stream(chat())) as events:  # type: ignore[type-var]
        async for event in events:
            if isinstance(event, Finished):
                break  # the engine stops reading here
    for _ in range(4):
        await collect_until_error(provider, chat())

    assert provider.breaker.state == "closed"  # 4 failures, a success, 4 failures: never 5 in a row


async def test_configuration_errors_do_not_open_the_breaker(clock: FrozenClock) -> None:
    rejected = ProviderError("OpenAI rejected the API key (HTTP 401).", retryable=False, status=401)
    inner = ScriptedProvider(*[[rejected]] * 7)
    provider, _ = wrap(inner, clock)

    for _ in range(7):
        _, error = await collect_until_error(provider, chat())
        assert error.status == 401

    assert provider.breaker.state == "closed"
    assert inner.calls == 7


async def test_backoff_doubles_with_jitter_up_to_the_cap(clock: FrozenClock) -> None:
    inner = ScriptedProvider(*[[busy()]] * 10)
    backoff = {"retries": 4, "backoff_base": 1.0, "backoff_max": 3.0}
    highest, highest_sleep = wrap(inner, clock, jitter=lambda: 1.0, **backoff)
    lowest, lowest_sleep = wrap(inner, clock, jitter=lambda: 0.0, **backoff)

    await collect_until_error(highest, chat())
    await collect_until_error(lowest, chat())

    assert highest_sleep.waits == [1.0, 2.0, 3.0, 3.0]
    assert lowest_sleep.waits == [0.5, 1.0, 1.5, 1.5]
    assert inner.calls == 10


async def test_retry_after_beyond_the_deadline_is_not_waited_for(clock: FrozenClock) -> None:
    quota = RetryAfterError("Rate limited (HTTP 429).", retry_after=600, status=429)
    inner = ScriptedProvider([quota], answer("too late"))
    provider, sleep = wrap(inner, clock, retries=2, deadline_seconds=120)

    _, error = await collect_until_error(provider, chat())

    assert error is quota
    assert sleep.waits == []
    assert inner.calls == 1


async def test_retries_stop_when_waiting_would_pass_the_deadline(clock: FrozenClock) -> None:
    inner = ScriptedProvider(*[[busy()]] * 10)
    provider, sleep = wrap(
        inner, clock, retries=10, backoff_base=4.0, backoff_max=100, deadline_seconds=30, jitter=lambda: 1.0
    )

    await collect_until_error(provider, chat())

    assert sleep.waits == [4.0, 8.0, 16.0]  # waiting 32 s more would end past the 30 s deadline
    assert inner.calls == 4


async def test_failure_after_the_first_event_is_not_retried(clock: FrozenClock) -> None:
    inner = ScriptedProvider([TextDelta("Hel"), busy()], answer("Hello"))
    provider, sleep = wrap(inner, clock, retries=2)

    events, error = await collect_until_error(provider, chat())

    assert events == [TextDelta("Hel")]
    assert error.retryable
    assert inner.calls == 1
    assert sleep.waits == []


async def test_success_after_a_retry_streams_the_answer_once(clock: FrozenClock) -> None:
    inner = ScriptedProvider([busy()], answer("Hello", " world"))
    provider, sleep = wrap(inner, clock, retries=2, backoff_base=0.1)

    events = await collect(provider, chat())

    assert text_of(events) == "Hello world"
    assert events[-1] == Finished(reason="stop")
    assert inner.calls == 2
    assert len(sleep.waits) == 1


async def test_deadline_bounds_a_stream_that_trickles(fake_openai: FakeOpenAI) -> None:
    inner = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url, timeout_seconds=5)
    fake_openai.script(Reply(content="Hello there, how are you", chunks=6, chunk_delay=0.5))
    provider = ResilientProvider(inner, retries=2, deadline_seconds=0.2)
    started = time.monotonic()

    _, error = await collect_until_error(provider, chat())
    await provider.aclose()

    assert error.retryable
    assert "did not finish answering within 0.2 s" in str(error)
    assert time.monotonic() - started < 1.5  # the whole answer would take 3 s
    assert len(fake_openai.requests) == 1  # no time was left to try again


async def test_check_bypasses_an_open_breaker_and_closes_it(clock: FrozenClock) -> None:
    inner = ScriptedProvider()
    provider, _ = wrap(inner, clock)
    await open_breaker(provider, inner)

    await provider.check()

    assert inner.checks == 1
    assert provider.breaker.state == "closed"


async def test_failed_check_is_reported_as_is(clock: FrozenClock) -> None:
    inner = ScriptedProvider(check_error=ProviderError("OpenAI rejected the API key (HTTP 401).", retryable=False))
    provider, _ = wrap(inner, clock)

    with pytest.raises(ProviderError, match="rejected the API key"):
        await provider.check()


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "150", "retry-after": "1"}, 0.15),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_is_read_in_seconds(
    headers: dict[str, str], seconds: float | None, clock: FrozenClock
) -> None:
    assert parse_retry_after(headers, clock.now()) == seconds


def test_retry_after_as_an_http_date(clock: FrozenClock) -> None:
    when = format_datetime(clock.now() + timedelta(seconds=45), usegmt=True)

    assert parse_retry_after({"retry-after": when}, clock.now()) == 45.0
