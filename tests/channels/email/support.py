"""An email channel wired to real protocol servers on 127.0.0.1 (an IMAP4rev1 server and aiosmtpd), and the
steps the worker takes, driven by hand: poll, take turns, deliver."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx

from parley.channels.email.polling import poll_mailboxes
from parley.channels.messaging.tasks import deliver_channels, process_inbound
from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.widget.support import make_widget_agent
from tests.factories import raw_scalars
from tests.fakes.imap_server import IMAPServer
from tests.fakes.smtp_server import SMTPServer

ADDRESS = "hello@bistro.test"
INBOUND_DOMAIN = "in.bistro.test"


@dataclass
class EmailChannel:
    org_id: str
    agent_id: str
    connection_id: str
    headers: dict[str, str]

    @property
    def base(self) -> str:
        return f"/api/v1/orgs/{self.org_id}"


async def make_email_channel(
    client: httpx.AsyncClient,
    runtime: Runtime,
    *,
    smtp: SMTPServer,
    imap: IMAPServer | None = None,
    config: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
    org_name: str = "Bistro Example",
) -> EmailChannel:
    """A business whose FAQ agent answers email at hello@bistro.test, sending through `smtp`."""
    agent = await make_widget_agent(client, runtime, org_name=org_name)
    settings: dict[str, Any] = {
        "address": ADDRESS,
        "from_name": "Bistro Example",
        "inbound_domain": INBOUND_DOMAIN,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
    }
    hidden: dict[str, str] = {}
    if imap is not None:
        settings.update(imap_host="127.0.0.1", imap_port=imap.port, imap_security="none", imap_username=imap.username)
        hidden["imap_password"] = imap.password
    settings.update(config or {})
    hidden.update(secrets or {})
    created = await client.post(
        f"/api/v1/orgs/{agent.org_id}/channels",
        json={
            "kind": "email",
            "agent_id": agent.agent_id,
            "name": "Bistro mailbox",
            "config": settings,
            "secrets": hidden,
        },
        headers=agent.headers,
    )
    assert created.status_code == 201, created.text
    return EmailChannel(agent.org_id, agent.agent_id, created.json()["id"], agent.headers)


async def work(runtime: Runtime, clock: FrozenClock, *, poll: bool = True) -> None:
    """One round of the worker: poll the mailboxes, let the burst window pass, take turns, send replies."""
    if poll:
        await poll_mailboxes(runtime)
    clock.advance(seconds=runtime.settings.channel_burst_seconds + 1)
    await process_inbound(runtime)
    await deliver_channels(runtime)


def sent(smtp: SMTPServer) -> list[EmailMessage]:
    parsed = []
    for received in smtp.received:
        message = message_from_bytes(received.message.as_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        parsed.append(message)
    return parsed


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def conversations_of(client: httpx.AsyncClient, channel: EmailChannel) -> list[dict[str, Any]]:
    page = await client.get(f"{channel.base}/conversations", headers=channel.headers)
    assert page.status_code == 200, page.text
    return list(page.json()["conversations"])


async def transcript(client: httpx.AsyncClient, channel: EmailChannel, conversation_id: str) -> list[dict[str, Any]]:
    found = await client.get(f"{channel.base}/conversations/{conversation_id}", headers=channel.headers)
    assert found.status_code == 200, found.text
    return list(found.json()["messages"])


async def count(runtime: Runtime, channel: EmailChannel, sql: str) -> int:
    return int(str((await raw_scalars(runtime, channel.org_id, sql))[0]))
