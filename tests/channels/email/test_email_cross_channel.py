"""One person across channels: someone who wrote on WhatsApp and then by email is one contact once staff merge
the two (the person gave their email address on WhatsApp), and their later emails go straight to that contact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.email.mail import plain
from tests.channels.email.support import conversations_of, count, make_email_channel, sent, work
from tests.channels.messaging.support import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    notification,
    post_signed,
    text_message,
)
from tests.channels.widget.support import QUESTION
from tests.fakes.graph_server import ACCESS_TOKEN, FakeGraph
from tests.fakes.imap_server import IMAPServer
from tests.fakes.smtp_server import SMTPServer


@pytest.fixture
def imap() -> Iterator[IMAPServer]:
    with IMAPServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


async def test_whatsapp_then_email_is_one_contact(
    client: httpx.AsyncClient,
    runtime: Runtime,
    clock: FrozenClock,
    smtp: SMTPServer,
    imap: IMAPServer,
    fake_graph: FakeGraph,
) -> None:
    channel = await make_email_channel(client, runtime, smtp=smtp, imap=imap)
    whatsapp = await client.post(
        f"{channel.base}/channels",
        json={
            "kind": "whatsapp",
            "agent_id": channel.agent_id,
            "name": "WhatsApp",
            "config": {"phone_number_id": PHONE_NUMBER_ID},
            "secrets": {"access_token": ACCESS_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        },
        headers=channel.headers,
    )
    assert whatsapp.status_code == 201, whatsapp.text
    at = datetime.fromtimestamp(int(clock.now().timestamp()) - 5, UTC)
    message = text_message("wamid.1", "My email is ann@example.org. " + QUESTION, at)
    accepted = await post_signed(client, f"/webhooks/whatsapp/{whatsapp.json()['id']}", notification([message]))
    assert accepted.status_code == 200, accepted.text
    await work(runtime, clock, poll=False)

    imap.deliver(plain(text=QUESTION, message_id="<x1@example.org>"))
    await work(runtime, clock)
    by_channel = {c["channel"]: c["contact_id"] for c in await conversations_of(client, channel)}
    assert set(by_channel) == {"whatsapp", "email"}
    assert by_channel["whatsapp"] != by_channel["email"]  # nothing links them yet

    merged = await client.post(
        f"{channel.base}/contacts/{by_channel['email']}/merge",
        json={"into_contact_id": by_channel["whatsapp"]},
        headers=channel.headers,
    )
    assert merged.status_code == 200, merged.text
    imap.deliver(plain(text="And is there parking?", message_id="<x2@example.org>"))
    await work(runtime, clock)
    contacts = {c["contact_id"] for c in await conversations_of(client, channel)}
    assert contacts == {by_channel["whatsapp"]}
    owner = by_channel["whatsapp"]
    identifiers = f"SELECT count(*) FROM contact_identifiers WHERE contact_id = '{owner}' AND kind = 'email'"
    assert await count(runtime, channel, identifiers) == 1
    assert len(sent(smtp)) == 2
