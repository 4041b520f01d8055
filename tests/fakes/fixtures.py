"""Pytest fixtures for the fake providers. One server per fake per test session (starting uvicorn costs tens of
milliseconds); each test gets it with an empty script and no recorded requests.

Use from a conftest: `from tests.fakes.fixtures import fake_anthropic, fake_openai  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(scope="session")
def fake_anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    fake_openai_server.reset()
    return fake_openai_server


@pytest.fixture
def fake_anthropic(fake_anthropic_server: FakeAnthropic) -> FakeAnthropic:
    fake_anthropic_server.reset()
    return fake_anthropic_server
