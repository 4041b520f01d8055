"""Right after a webhook is accepted, this process takes the turn and sends the reply itself (no reconcile round
to wait for); the reconcilers only catch what such a nudge missed."""

from __future__ import annotations

import asyncio

import pytest

from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.messaging.support import make_business, notification, post_signed, text_message
from tests.conftest import START
from tests.fakes.graph_server import FakeGraph


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"channel_dispatch_inline": True, "channel_burst_seconds": 0.0})


async def test_a_webhook_is_answered_without_waiting_for_the_reconcilers(
    client, runtime: Runtime, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    response = await post_signed(client, business.webhook, notification([text_message("wamid.N", "Hi", START)]))
    assert response.status_code == 200
    for _ in range(500):
        if fake_graph.sent:
            break
        await asyncio.sleep(0.01)
    assert len(fake_graph.sent) == 1
