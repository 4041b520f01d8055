"""Email channel settings are checked when staff save them, and one organisation's email state is out of
another's reach (its reply addresses verify only under its own key; on PostgreSQL, row-level security)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.email.mail import plain
from tests.channels.email.support import INBOUND_DOMAIN, conversations_of, make_email_channel, sent, work
from tests.channels.widget.support import QUESTION, make_widget_agent
from tests.factories import raw_scalars
from tests.fakes.imap_server import IMAPServer
from tests.fakes.smtp_server import SMTPServer


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.mark.parametrize(
    ("config", "secrets", "field"),
    [
        ({}, {}, "body.config.address"),
        ({"address": "not an address"}, {}, "body.config.address"),
        ({"address": "a@b.test", "inbound_domain": "no spaces allowed"}, {}, "body.config.inbound_domain"),
        ({"address": "a@b.test", "imap_host": "imap.b.test"}, {}, "body.secrets.imap_password"),
        (
            {"address": "a@b.test", "imap_host": "h", "imap_security": "tls1"},
            {"imap_password": "p"},
            "body.config.imap_security",
        ),
        ({"address": "a@b.test", "smtp_host": "h", "smtp_port": 70000}, {}, "body.config.smtp_port"),
        ({"address": "a@b.test", "inbound_provider": "mailgun"}, {}, "body.config.inbound_provider"),
        ({"address": "a@b.test", "inbound_provider": "postmark"}, {}, "body.secrets.postmark_password"),
        (
            {"address": "a@b.test", "inbound_provider": "sendgrid", "sendgrid_public_key": "eA=="},
            {},
            "body.config.sendgrid_public_key",
        ),
        ({"address": "a@b.test", "max_attachment_bytes": 10**9}, {}, "body.config.max_attachment_bytes"),
    ],
)
async def test_wrong_email_settings_are_refused_with_the_field_named(
    client: httpx.AsyncClient, runtime: Runtime, config: dict[str, Any], secrets: dict[str, str], field: str
) -> None:
    agent = await make_widget_agent(client, runtime)
    refused = await client.post(
        f"/api/v1/orgs/{agent.org_id}/channels",
        json={"kind": "email", "agent_id": agent.agent_id, "name": "Mail", "config": config, "secrets": secrets},
        headers=agent.headers,
    )
    assert refused.status_code == 422, refused.text
    assert field in refused.text


async def test_a_reply_address_of_one_organisation_opens_nothing_in_another(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer
) -> None:
    with IMAPServer() as first_box, IMAPServer() as second_box:
        first = await make_email_channel(client, runtime, smtp=smtp, imap=first_box, org_name="First Bistro")
        second = await make_email_channel(client, runtime, smtp=smtp, imap=second_box, org_name="Second Bistro")
        first_box.deliver(plain(text=QUESTION, message_id="<one@example.org>"))
        await work(runtime, clock)
        [reply] = sent(smtp)
        assert reply["Reply-To"].endswith("@" + INBOUND_DOMAIN)
        # The same person answers, but the mail reaches the second organisation's mailbox.
        second_box.deliver(
            plain(to=reply["Reply-To"], text="Hello?", message_id="<two@example.org>", in_reply_to=reply["Message-ID"])
        )
        await work(runtime, clock)
    [mine] = await conversations_of(client, first)
    [theirs] = await conversations_of(client, second)
    assert mine["id"] != theirs["id"]
    assert mine["contact_id"] != theirs["contact_id"]


@pytest.mark.postgres
async def test_email_rows_are_invisible_to_another_tenant(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer
) -> None:
    with IMAPServer() as box:
        channel = await make_email_channel(client, runtime, smtp=smtp, imap=box)
        box.deliver(plain(text=QUESTION, message_id="<rls@example.org>"))
        await work(runtime, clock)
    other = await make_widget_agent(client, runtime, org_name="Other Bistro")
    for table in ("email_threads", "email_mailboxes"):
        assert await raw_scalars(runtime, channel.org_id, f"SELECT count(*) FROM {table}") == [1], table
        assert await raw_scalars(runtime, other.org_id, f"SELECT count(*) FROM {table}") == [0], table
