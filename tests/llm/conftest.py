from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from parley.llm.anthropic_provider import AnthropicProvider
from parley.llm.openai_provider import OpenAIProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.fixtures import fake_anthropic, fake_anthropic_server, fake_openai, fake_openai_server  # noqa: F401
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def openai_provider(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:  # noqa: F811
    provider = OpenAIProvider(api_key=fake_openai.api_key, base_url=fake_openai.base_url, timeout_seconds=5)
    yield provider
    await provider.aclose()


@pytest.fixture
async def anthropic_provider(fake_anthropic: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:  # noqa: F811
    provider = AnthropicProvider(
        api_key=fake_anthropic.api_key, model="claude-fake", base_url=fake_anthropic.base_url, timeout_seconds=5
    )
    yield provider
    await provider.aclose()
