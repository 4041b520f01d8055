"""Attachments are the person's files: stored sealed under their key, in their export, gone with their erasure
(with the thread's subject and Message-IDs). And one person writing on WhatsApp and by email is one contact."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator

import httpx
import pytest

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from parley.settings import Settings
from tests.channels.email.mail import plain
from tests.channels.email.support import conversations_of, count, make_email_channel, work
from tests.channels.widget.support import QUESTION
from tests.factories import database_text
from tests.fakes.imap_server import IMAPServer
from tests.fakes.smtp_server import SMTPServer

PDF = b"%PDF-1.4 the seating plan for Ann's party: table 7 by the window"


@pytest.fixture
def imap() -> Iterator[IMAPServer]:
    with IMAPServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


async def test_attachments_are_sealed_exported_and_erased_with_the_person(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    clock: FrozenClock,
    smtp: SMTPServer,
    imap: IMAPServer,
) -> None:
    channel = await make_email_channel(client, runtime, smtp=smtp, imap=imap)
    imap.deliver(
        plain(
            subject="Seating plan for the party",
            text=QUESTION,
            message_id="<att@example.org>",
            attachments=[("plan.pdf", "application/pdf", PDF), ("photo.png", "image/png", b"\x89PNG fake image")],
        )
    )
    await work(runtime, clock)
    assert await count(runtime, channel, "SELECT count(*) FROM channel_media WHERE content_sealed IS NOT NULL") == 2
    stored = await database_text(settings)
    assert b"table 7 by the window".decode() not in stored  # sealed, nowhere in clear
    assert "Seating plan for the party" in stored  # the thread subject, kept to thread the reply

    [conversation] = await conversations_of(client, channel)
    contact_id = conversation["contact_id"]
    export = await client.get(f"{channel.base}/contacts/{contact_id}/export", headers=channel.headers)
    assert export.status_code == 200, export.text
    data = json.loads(zipfile.ZipFile(io.BytesIO(export.content)).read("data.json"))
    files = {m["filename"]: base64.b64decode(m["content_base64"]) for m in data["channels"]["media"]}
    assert files == {"plan.pdf": PDF, "photo.png": b"\x89PNG fake image"}
    assert [t["subject"] for t in data["email_threads"]] == ["Seating plan for the party"]

    erased = await client.post(f"{channel.base}/contacts/{contact_id}/erasure", headers=channel.headers)
    assert erased.status_code == 200, erased.text
    for table in ("channel_media", "email_threads", "channel_inbound", "channel_outbound"):
        assert await count(runtime, channel, f"SELECT count(*) FROM {table}") == 0, table
    stored = await database_text(settings)
    assert "Seating plan for the party" not in stored
    assert "ann@example.org" not in stored


async def test_too_many_or_too_large_attachments_are_dropped(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await make_email_channel(
        client, runtime, smtp=smtp, imap=imap, config={"max_attachments": 1, "max_attachment_bytes": 100}
    )
    imap.deliver(
        plain(
            message_id="<many@example.org>",
            attachments=[
                ("a.txt", "text/plain", b"a"),
                ("b.txt", "text/plain", b"b"),
                ("c.bin", "text/plain", b"c" * 200),
            ],
        )
    )
    await work(runtime, clock)
    assert await count(runtime, channel, "SELECT count(*) FROM channel_media") == 1
