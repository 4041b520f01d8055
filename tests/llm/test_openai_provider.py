"""The OpenAI provider, driven through the real SDK against a fake server speaking the Chat Completions protocol."""

from __future__ import annotations

import time

import pytest

from parley.kit.clock import FrozenClock
from parley.llm.base import ChatMessage, Finished, ProviderError, TextDelta, ToolCall, Usage
from parley.llm.openai_provider import OpenAIProvider
from parley.llm.resilience import ResilientProvider
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import Reply, ToolUse
from tests.llm.support import ORDER_TOOL, RecordingSleep, chat, collect, collect_until_error, text_of


def resilient(provider: OpenAIProvider, sleep: RecordingSleep, clock: FrozenClock) -> ResilientProvider:
    return ResilientProvider(provider, retries=2, backoff_base=0.01, backoff_max=0.05, sleep=sleep, clock=clock)


async def test_answer_streams_in_pieces_then_usage_and_finish(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider
) -> None:
    fake_openai.script(Reply.text("Hello there, friend", chunks=3, usage=(42, 7)))

    events = await collect(openai_provider, chat())

    assert text_of(events) == "Hello there, friend"
    assert sum(isinstance(e, TextDelta) for e in events) == 3
    assert events[-2:] == [Usage(input_tokens=42, output_tokens=7), Finished(reason="stop")]


async def test_request_keeps_nothing_at_openai_and_carries_history_tools_and_limits(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider
) -> None:
    history = (
        ChatMessage(role="system", content="You are the bakery's assistant."),
        ChatMessage(role="user", content="Where is order A1?"),
        ChatMessage(
            role="assistant",
            content="",
            tool_calls=(ToolCall(id="call_1", name="lookup_order", arguments={"order": "A1"}),),
        ),
        ChatMessage(role="tool", content='{"status": "shipped"}', tool_call_id="call_1"),
        ChatMessage(role="assistant", content="It has shipped."),
        ChatMessage(role="user", content="Thanks!"),
    )

    await collect(openai_provider, chat(*history, tools=(ORDER_TOOL,), temperature=0.2, max_tokens=300))

    sent = fake_openai.last
    assert sent.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    body = sent.json
    assert body["store"] is False
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-fake"
    assert body["temperature"] == 0.2
    assert body["max_completion_tokens"] == 300
    assert body["messages"] == [
        {"role": "system", "content": "You are the bakery's assistant."},
        {"role": "user", "content": "Where is order A1?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup_order", "arguments": '{"order": "A1"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
        {"role": "assistant", "content": "It has shipped."},
        {"role": "user", "content": "Thanks!"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "lookup_order",
                "description": "Finds an order by its number.",
                "parameters": ORDER_TOOL.parameters,
            },
        }
    ]


async def test_unset_options_are_not_sent(fake_openai: FakeOpenAI, openai_provider: OpenAIProvider) -> None:
    await collect(openai_provider, chat())

    body = fake_openai.last.json
    assert not {"tools", "temperature", "max_completion_tokens", "max_tokens"} & body.keys()


async def test_tool_call_arguments_split_across_chunks_are_assembled(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider
) -> None:
    fake_openai.script(
        Reply.tools(
            ToolUse("lookup_order", {"order": "A1", "include": ["items", "tracking"]}, id="call_a", fragments=5),
            ToolUse("handoff_to_human", {}, id="call_b"),
            text="Let me check.",
        )
    )

    events = await collect(openai_provider, chat(tools=(ORDER_TOOL,)))

    assert text_of(events) == "Let me check."
    assert [e for e in events if isinstance(e, ToolCall)] == [
        ToolCall(id="call_a", name="lookup_order", arguments={"order": "A1", "include": ["items", "tracking"]}),
        ToolCall(id="call_b", name="handoff_to_human", arguments={}),
    ]
    assert events[-1] == Finished(reason="tool_calls")


@pytest.mark.parametrize(("wire", "ours"), [("length", "length"), ("content_filter", "content_filter")])
async def test_finish_reason_is_mapped(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider, wire: str, ours: str
) -> None:
    fake_openai.script(Reply.text("Cut sh", finish=wire))  # type: ignore[arg-type]

    events = await collect(openai_provider, chat())

    assert events[-1] == Finished(reason=ours)  # type: ignore[arg-type]


async def test_malformed_tool_arguments_fail_without_retry(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider
) -> None:
    fake_openai.script(Reply.tools(ToolUse("lookup_order", '{"order": "A1', id="call_a")))

    _, error = await collect_until_error(openai_provider, chat(tools=(ORDER_TOOL,)))

    assert not error.retryable
    assert "malformed arguments for the tool 'lookup_order'" in str(error)


async def test_rate_limit_then_success_is_retried_without_repeating_text(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider, clock: FrozenClock
) -> None:
    fake_openai.script(Reply.error(429, "Slow down", retry_after=0.05), Reply.text("Hello!", chunks=2))
    sleep = RecordingSleep(clock)

    events = await collect(resilient(openai_provider, sleep, clock), chat())

    assert text_of(events) == "Hello!"
    assert len(fake_openai.requests) == 2
    assert sleep.waits == [0.05]  # the provider's Retry-After, not our backoff


async def test_server_errors_exhaust_retries_and_stay_retryable(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider, clock: FrozenClock
) -> None:
    fake_openai.script(*[Reply.error(500, "The server had an error")] * 3)
    sleep = RecordingSleep(clock)

    events, error = await collect_until_error(resilient(openai_provider, sleep, clock), chat())

    assert events == []
    assert error.retryable
    assert error.status == 500
    assert "server error (HTTP 500)" in str(error)
    assert len(fake_openai.requests) == 3
    assert len(sleep.waits) == 2


async def test_rejected_key_fails_at_once_with_a_message_staff_can_act_on(
    fake_openai: FakeOpenAI, clock: FrozenClock
) -> None:
    wrong_key = "sk-wrong-key-1234567890"
    provider = OpenAIProvider(api_key=wrong_key, base_url=fake_openai.base_url, timeout_seconds=5)
    sleep = RecordingSleep(clock)

    _, error = await collect_until_error(resilient(provider, sleep, clock), chat())
    await provider.aclose()

    assert not error.retryable
    assert error.status == 401
    assert "rejected the API key" in str(error)
    assert wrong_key not in str(error)
    assert len(fake_openai.requests) == 1
    assert sleep.waits == []


async def test_exhausted_quota_is_not_retried(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider, clock: FrozenClock
) -> None:
    fake_openai.script(Reply.error(429, "You exceeded your current quota", error_type="insufficient_quota"))
    sleep = RecordingSleep(clock)

    _, error = await collect_until_error(resilient(openai_provider, sleep, clock), chat())

    assert not error.retryable
    assert "out of credit or quota" in str(error)
    assert len(fake_openai.requests) == 1


async def test_unknown_model_is_not_retried(fake_openai: FakeOpenAI, openai_provider: OpenAIProvider) -> None:
    fake_openai.script(Reply.error(404, "The model `gpt-nope` does not exist", error_type="model_not_found"))

    _, error = await collect_until_error(openai_provider, chat(model="gpt-nope"))

    assert not error.retryable
    assert "does not know this model" in str(error)
    assert "gpt-nope" in str(error)


async def test_slow_server_times_out_as_a_retryable_error(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url, timeout_seconds=0.15)
    fake_openai.script(Reply.slow(2.0))
    started = time.monotonic()

    _, error = await collect_until_error(provider, chat())
    await provider.aclose()

    assert error.retryable
    assert "did not respond within 0.15 s" in str(error)
    assert time.monotonic() - started < 1.5  # the fake would have waited 2 s


async def test_stream_broken_after_first_text_is_not_retried(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider, clock: FrozenClock
) -> None:
    fake_openai.script(Reply.cut("Hello there", chunks=3, after=1), Reply.text("A second answer"))
    sleep = RecordingSleep(clock)

    events, error = await collect_until_error(resilient(openai_provider, sleep, clock), chat())

    assert text_of(events) == "Hell"
    assert error.retryable  # the engine may try again itself, knowing what the customer has seen
    assert "dropped the connection while answering" in str(error)
    assert len(fake_openai.requests) == 1
    assert fake_openai.pending == 1
    assert sleep.waits == []


async def test_error_event_inside_the_stream_is_retryable(
    fake_openai: FakeOpenAI, openai_provider: OpenAIProvider
) -> None:
    fake_openai.script(Reply.stream_error("Hello there", chunks=3, after=1, message="Overloaded"))

    events, error = await collect_until_error(openai_provider, chat())

    assert text_of(events) == "Hell"
    assert error.retryable
    assert "failed while answering: Overloaded" in str(error)


async def test_check_lists_models(fake_openai: FakeOpenAI, openai_provider: OpenAIProvider) -> None:
    await openai_provider.check()

    assert (fake_openai.last.method, fake_openai.last.path) == ("GET", "/v1/models")


async def test_check_with_a_wrong_key_says_so(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(api_key="sk-revoked", base_url=fake_openai.base_url, timeout_seconds=5)

    with pytest.raises(ProviderError, match="rejected the API key") as caught:
        await provider.check()
    await provider.aclose()

    assert not caught.value.retryable


async def test_unreachable_server_is_a_retryable_error() -> None:
    provider = OpenAIProvider(api_key="sk-any", base_url="http://127.0.0.1:9/v1", timeout_seconds=1)

    with pytest.raises(ProviderError, match="could not be reached") as caught:
        await provider.check()
    await provider.aclose()

    assert caught.value.retryable


def test_missing_key_is_refused_before_any_request() -> None:
    with pytest.raises(ProviderError, match="No API key"):
        OpenAIProvider(api_key="", base_url="http://127.0.0.1:9/v1")


async def test_stream_that_goes_quiet_mid_answer_times_out_as_retryable(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url, timeout_seconds=0.15)
    fake_openai.script(Reply(content="Hello there", chunks=3, chunk_delay=1.0))

    _, error = await collect_until_error(provider, chat())
    await provider.aclose()

    assert error.retryable
    assert "stopped sending within 0.15 s" in str(error)
