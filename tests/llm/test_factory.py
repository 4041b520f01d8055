"""Building a provider from a credential's settings."""

from __future__ import annotations

import pytest

from parley.llm.anthropic_provider import AnthropicProvider
from parley.llm.base import ProviderError
from parley.llm.factory import BreakerRegistry, ProviderConfig, build_remote_provider
from parley.llm.openai_provider import OpenAIProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.replies import Reply
from tests.llm.support import chat, collect, collect_until_error, text_of


def openai_config(fake: FakeOpenAI, **overrides: object) -> ProviderConfig:
    settings: dict[str, object] = {
        "kind": "openai",
        "model": "gpt-fake",
        "api_key": fake.api_key,
        "base_url": fake.base_url,
        "timeout_seconds": 5,
        "breaker_key": "cred_openai",
        **overrides,
    }
    return ProviderConfig(**settings)  # type: ignore[arg-type]


async def test_openai_credential_gives_a_resilient_openai_provider(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply.error(503, "Busy", retry_after=0), Reply.text("Hello!", chunks=2))
    provider = build_remote_provider(openai_config(fake_openai), BreakerRegistry())

    events = await collect(provider, chat())
    await provider.aclose()

    assert isinstance(provider.inner, OpenAIProvider)
    assert provider.name == "openai"
    assert text_of(events) == "Hello!"
    assert len(fake_openai.requests) == 2


async def test_anthropic_credential_checks_its_configured_model(fake_anthropic: FakeAnthropic) -> None:
    config = ProviderConfig(
        kind="anthropic",
        model="claude-fake",
        api_key=fake_anthropic.api_key,
        base_url=fake_anthropic.base_url,
        breaker_key="cred_anthropic",
    )
    provider = build_remote_provider(config, BreakerRegistry())

    await provider.check()
    await provider.aclose()

    assert isinstance(provider.inner, AnthropicProvider)
    assert fake_anthropic.last.path == "/v1/models/claude-fake"


async def test_failures_through_one_credential_open_its_breaker_for_every_provider_built_from_it(
    fake_openai: FakeOpenAI,
) -> None:
    breakers = BreakerRegistry(failure_threshold=2)
    fake_openai.script(*[Reply.error(500, "Down", retry_after=0)] * 9)  # retry-after: 0 keeps the test from waiting
    first = build_remote_provider(openai_config(fake_openai), breakers)
    second = build_remote_provider(openai_config(fake_openai), breakers)
    other = build_remote_provider(openai_config(fake_openai, breaker_key="cred_other"), breakers)

    await collect_until_error(first, chat())
    _, error = await collect_until_error(second, chat())
    _, fast_error = await collect_until_error(second, chat())
    _, other_error = await collect_until_error(other, chat())
    for provider in (first, second, other):
        await provider.aclose()

    assert first.breaker is second.breaker is breakers.get("cred_openai")
    assert error.status == 500
    assert "temporarily disabled" in str(fast_error)
    assert other_error.status == 500  # another credential is not affected


def test_config_never_shows_the_api_key() -> None:
    config = ProviderConfig(kind="openai", model="gpt-fake", api_key="sk-secret-123", breaker_key="cred_1")

    assert "sk-secret-123" not in repr(config)


def test_empty_key_is_refused_when_building() -> None:
    config = ProviderConfig(kind="anthropic", model="claude-fake", api_key="", breaker_key="cred_1")

    with pytest.raises(ProviderError, match="No API key"):
        build_remote_provider(config, BreakerRegistry())
