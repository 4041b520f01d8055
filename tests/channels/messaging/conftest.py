from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley.settings import Settings
from tests.fakes.graph_server import FakeGraph
from tests.fakes.twilio_server import FakeTwilio


@pytest.fixture(scope="session")
def fake_graph_server() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def fake_graph(fake_graph_server: FakeGraph) -> FakeGraph:
    fake_graph_server.reset()
    return fake_graph_server


@pytest.fixture(scope="session")
def fake_twilio_server() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_twilio(fake_twilio_server: FakeTwilio) -> FakeTwilio:
    fake_twilio_server.reset()
    return fake_twilio_server


@pytest.fixture
def settings(settings: Settings, fake_graph: FakeGraph, fake_twilio: FakeTwilio) -> Settings:
    """The providers' APIs are the local fakes; turns run when a test runs the reconcilers (its clock decides)."""
    return settings.model_copy(
        update={
            "channel_dispatch_inline": False,
            "whatsapp_graph_url": fake_graph.base_url,
            "twilio_api_base": fake_twilio.base_url,
        }
    )
