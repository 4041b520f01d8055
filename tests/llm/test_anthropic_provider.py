"""The Anthropic provider, driven through the real SDK against a fake server speaking the Messages protocol."""

from __future__ import annotations

import time

import pytest

from parley.kit.clock import FrozenClock
from parley.llm.anthropic_provider import AnthropicProvider
from parley.llm.base import ChatMessage, Finished, ProviderError, TextDelta, ToolCall, Usage
from parley.llm.resilience import ResilientProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.replies import Reply, ToolUse
from tests.llm.support import ORDER_TOOL, RecordingSleep, chat, collect, collect_until_error, text_of


def resilient(provider: AnthropicProvider, sleep: RecordingSleep, clock: FrozenClock) -> ResilientProvider:
    return ResilientProvider(provider, retries=2, backoff_base=0.01, backoff_max=0.05, sleep=sleep, clock=clock)


async def test_answer_streams_in_pieces_then_usage_and_finish(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    fake_anthropic.script(Reply.text("Hello there, friend", chunks=3, usage=(42, 7)))

    events = await collect(anthropic_provider, chat(model="claude-fake"))

    assert text_of(events) == "Hello there, friend"
    assert sum(isinstance(e, TextDelta) for e in events) == 3
    assert events[-2:] == [Usage(input_tokens=42, output_tokens=7), Finished(reason="stop")]


async def test_request_puts_system_apart_and_history_in_content_blocks(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    history = (
        ChatMessage(role="system", content="You are the bakery's assistant."),
        ChatMessage(role="system", content="Answer in English."),
        ChatMessage(role="user", content="Where are orders A1 and B2?"),
        ChatMessage(
            role="assistant",
            content="Let me look.",
            tool_calls=(
                ToolCall(id="toolu_1", name="lookup_order", arguments={"order": "A1"}),
                ToolCall(id="toolu_2", name="lookup_order", arguments={"order": "B2"}),
            ),
        ),
        ChatMessage(role="tool", content='{"status": "shipped"}', tool_call_id="toolu_1"),
        ChatMessage(role="tool", content='{"status": "baking"}', tool_call_id="toolu_2"),
        ChatMessage(role="assistant", content="A1 has shipped; B2 is in the oven."),
        ChatMessage(role="user", content="Thanks!"),
    )

    await collect(anthropic_provider, chat(*history, model="claude-fake", tools=(ORDER_TOOL,), temperature=0.3))

    sent = fake_anthropic.last
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"]
    assert fake_anthropic.api_key in (sent.headers.get("x-api-key"), sent.headers["authorization"].split()[-1])
    body = sent.json
    assert body["model"] == "claude-fake"
    assert body["stream"] is True
    assert body["max_tokens"] == 1024
    assert body["system"] == "You are the bakery's assistant.\n\nAnswer in English."
    assert "store" not in body  # Anthropic has no such flag
    assert "temperature" not in body  # nor, since SDK 2.x, sampling parameters
    assert body["messages"] == [
        {"role": "user", "content": "Where are orders A1 and B2?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup_order", "input": {"order": "A1"}},
                {"type": "tool_use", "id": "toolu_2", "name": "lookup_order", "input": {"order": "B2"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"status": "shipped"}'},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": '{"status": "baking"}'},
            ],
        },
        {"role": "assistant", "content": "A1 has shipped; B2 is in the oven."},
        {"role": "user", "content": "Thanks!"},
    ]
    assert body["tools"] == [
        {"name": "lookup_order", "description": "Finds an order by its number.", "input_schema": ORDER_TOOL.parameters}
    ]


async def test_max_tokens_from_the_request_is_sent(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    await collect(anthropic_provider, chat(model="claude-fake", max_tokens=64))

    assert fake_anthropic.last.json["max_tokens"] == 64
    assert "tools" not in fake_anthropic.last.json
    assert "system" not in fake_anthropic.last.json


async def test_tool_use_is_assembled_from_json_fragments(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    fake_anthropic.script(
        Reply.tools(
            ToolUse("lookup_order", {"order": "A1", "include": ["items", "tracking"]}, id="toolu_a", fragments=6),
            ToolUse("handoff_to_human", {}, id="toolu_b"),
            text="Let me check.",
        )
    )

    events = await collect(anthropic_provider, chat(model="claude-fake", tools=(ORDER_TOOL,)))

    assert text_of(events) == "Let me check."
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall(id="toolu_a", name="lookup_order", arguments={"order": "A1", "include": ["items", "tracking"]}),
        ToolCall(id="toolu_b", name="handoff_to_human", arguments={}),
    ]
    assert events[-1] == Finished(reason="tool_calls")


@pytest.mark.parametrize(("finish", "ours"), [("length", "length"), ("content_filter", "content_filter")])
async def test_stop_reason_is_mapped(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider, finish: str, ours: str
) -> None:
    fake_anthropic.script(Reply.text("Cut sh", finish=finish))  # type: ignore[arg-type]

    events = await collect(anthropic_provider, chat(model="claude-fake"))

    assert events[-1] == Finished(reason=ours)  # type: ignore[arg-type]


async def test_malformed_tool_input_fails_without_retry(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    fake_anthropic.script(Reply.tools(ToolUse("lookup_order", '{"order": ', id="toolu_a")))

    _, error = await collect_until_error(anthropic_provider, chat(model="claude-fake"))

    assert not error.retryable
    assert "malformed input for the tool 'lookup_order'" in str(error)


async def test_rate_limit_then_success_is_retried_without_repeating_text(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider, clock: FrozenClock
) -> None:
    fake_anthropic.script(Reply.error(429, "Number of requests has exceeded your rate limit", retry_after=0.02))
    fake_anthropic.script(Reply.text("Hello!", chunks=2))
    sleep = RecordingSleep(clock)

    events = await collect(resilient(anthropic_provider, sleep, clock), chat(model="claude-fake"))

    assert text_of(events) == "Hello!"
    assert len(fake_anthropic.requests) == 2
    assert sleep.waits == [0.02]


async def test_overload_exhausts_retries_and_stays_retryable(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider, clock: FrozenClock
) -> None:
    fake_anthropic.script(*[Reply.error(529, "Overloaded")] * 3)
    sleep = RecordingSleep(clock)

    _, error = await collect_until_error(resilient(anthropic_provider, sleep, clock), chat(model="claude-fake"))

    assert error.retryable
    assert error.status == 529
    assert "Overloaded" in str(error)
    assert len(fake_anthropic.requests) == 3
    assert len(sleep.waits) == 2


async def test_rejected_key_fails_at_once_with_a_message_staff_can_act_on(
    fake_anthropic: FakeAnthropic, clock: FrozenClock
) -> None:
    wrong_key = "sk-ant-wrong-0123456789"
    provider = AnthropicProvider(api_key=wrong_key, model="claude-fake", base_url=fake_anthropic.base_url)
    sleep = RecordingSleep(clock)

    _, error = await collect_until_error(resilient(provider, sleep, clock), chat(model="claude-fake"))
    await provider.aclose()

    assert not error.retryable
    assert error.status == 401
    assert "rejected the API key" in str(error)
    assert wrong_key not in str(error)
    assert len(fake_anthropic.requests) == 1
    assert sleep.waits == []


async def test_invalid_request_explains_itself(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    fake_anthropic.script(Reply.error(400, "messages: roles must alternate"))

    _, error = await collect_until_error(anthropic_provider, chat(model="claude-fake"))

    assert not error.retryable
    assert str(error).endswith("The provider said: messages: roles must alternate")


async def test_slow_server_times_out_as_a_retryable_error(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(
        api_key=fake_anthropic.api_key, model="claude-fake", base_url=fake_anthropic.base_url, timeout_seconds=0.15
    )
    fake_anthropic.script(Reply.slow(2.0))
    started = time.monotonic()

    _, error = await collect_until_error(provider, chat(model="claude-fake"))
    await provider.aclose()

    assert error.retryable
    assert "did not respond within 0.15 s" in str(error)
    assert time.monotonic() - started < 1.5  # the fake would have waited 2 s


async def test_stream_broken_after_first_text_is_not_retried(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider, clock: FrozenClock
) -> None:
    fake_anthropic.script(Reply.cut("Hello there", chunks=3, after=1), Reply.text("A second answer"))
    sleep = RecordingSleep(clock)

    events, error = await collect_until_error(resilient(anthropic_provider, sleep, clock), chat(model="claude-fake"))

    assert text_of(events) == "Hell"
    assert error.retryable
    assert "dropped the connection while answering" in str(error)
    assert len(fake_anthropic.requests) == 1
    assert fake_anthropic.pending == 1
    assert sleep.waits == []


async def test_overload_inside_the_stream_is_retryable(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    fake_anthropic.script(Reply.stream_error("Hello there", chunks=3, after=1, message="Overloaded"))

    events, error = await collect_until_error(anthropic_provider, chat(model="claude-fake"))

    assert text_of(events) == "Hell"
    assert error.retryable
    assert "failed while answering: Overloaded" in str(error)


async def test_check_finds_the_configured_model(
    fake_anthropic: FakeAnthropic, anthropic_provider: AnthropicProvider
) -> None:
    await anthropic_provider.check()

    assert (fake_anthropic.last.method, fake_anthropic.last.path) == ("GET", "/v1/models/claude-fake")


async def test_check_with_an_unknown_model_says_so(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(api_key=fake_anthropic.api_key, model="claude-nope", base_url=fake_anthropic.base_url)

    with pytest.raises(ProviderError, match="does not know this model") as caught:
        await provider.check()
    await provider.aclose()

    assert not caught.value.retryable
    assert caught.value.status == 404


async def test_check_with_a_wrong_key_says_so(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(api_key="sk-ant-revoked", model="claude-fake", base_url=fake_anthropic.base_url)

    with pytest.raises(ProviderError, match="rejected the API key") as caught:
        await provider.check()
    await provider.aclose()

    assert not caught.value.retryable


def test_missing_key_is_refused_rather_than_taken_from_the_environment() -> None:
    with pytest.raises(ProviderError, match="No API key"):
        AnthropicProvider(api_key="", model="claude-fake", base_url="http://127.0.0.1:9")


async def test_stream_that_goes_quiet_mid_answer_times_out_as_retryable(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(
        api_key=fake_anthropic.api_key, model="claude-fake", base_url=fake_anthropic.base_url, timeout_seconds=0.15
    )
    fake_anthropic.script(Reply(content="Hello there", chunks=3, chunk_delay=1.0))

    _, error = await collect_until_error(provider, chat(model="claude-fake"))
    await provider.aclose()

    assert error.retryable
    assert "stopped sending within 0.15 s" in str(error)
