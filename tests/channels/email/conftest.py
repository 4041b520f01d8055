from __future__ import annotations

from collections.abc import Iterator

import pytest

from parley.settings import Settings
from tests.fakes.graph_server import FakeGraph


@pytest.fixture(scope="session")
def fake_graph_server() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def fake_graph(fake_graph_server: FakeGraph) -> FakeGraph:
    fake_graph_server.reset()
    return fake_graph_server


@pytest.fixture
def settings(settings: Settings, fake_graph: FakeGraph) -> Settings:
    """Turns run when a test runs the reconcilers (its clock decides); WhatsApp is the local fake Graph API."""
    return settings.model_copy(update={"channel_dispatch_inline": False, "whatsapp_graph_url": fake_graph.base_url})
