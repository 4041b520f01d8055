"""The email channel end to end: mail read over IMAP from a real IMAP server on 127.0.0.1, answered by the
agent, the answer handed to a real SMTP server — threaded, once, and only to people (not to robots)."""

from __future__ import annotations

import pytest

from parley.channels.email.imap import ImapAccount, ImapMailbox
from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.email.mail import bounce, plain
from tests.channels.email.support import (
    ADDRESS,
    EmailChannel,
    body_of,
    conversations_of,
    count,
    make_email_channel,
    sent,
    transcript,
    work,
)
from tests.channels.widget.support import ANSWER, QUESTION
from tests.fakes.imap_server import IMAPServer
from tests.fakes.smtp_server import SMTPServer

pytestmark = pytest.mark.usefixtures("anyio_backend")


@pytest.fixture
def imap() -> object:
    with IMAPServer() as server:
        yield server


@pytest.fixture
def smtp() -> object:
    with SMTPServer() as server:
        yield server


async def _channel(client: object, runtime: Runtime, smtp: SMTPServer, imap: IMAPServer) -> EmailChannel:
    return await make_email_channel(client, runtime, smtp=smtp, imap=imap)  # type: ignore[arg-type]


async def test_email_is_answered_with_a_threaded_reply(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    imap.deliver(plain(subject="Kitchen hours", text=QUESTION, message_id="<q1@example.org>"))
    await work(runtime, clock)
    [reply] = sent(smtp)
    assert reply["To"] == "ann@example.org"
    assert ADDRESS in reply["From"]
    assert reply["Subject"] == "Re: Kitchen hours"
    assert reply["In-Reply-To"] == "<q1@example.org>"
    assert "<q1@example.org>" in reply["References"]
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Reply-To"].startswith("reply+cnv_") and reply["Reply-To"].endswith("@in.bistro.test")
    assert reply["Message-ID"].startswith("<cob_")
    assert ANSWER in body_of(reply)
    [conversation] = await conversations_of(client, channel)  # type: ignore[arg-type]
    assert conversation["channel"] == "email"
    assert conversation["id"] in reply["Reply-To"]


async def test_a_reply_lands_in_the_conversation_it_answers(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    imap.deliver(plain(subject="Kitchen hours", text=QUESTION, message_id="<a1@example.org>"))
    await work(runtime, clock)
    imap.deliver(plain(subject="Parking", text="Is there parking nearby?", message_id="<b1@example.org>"))
    await work(runtime, clock)
    first_reply, second_reply = sent(smtp)
    conversations = {c["id"] for c in await conversations_of(client, channel)}  # type: ignore[arg-type]
    assert len(conversations) == 2  # a new email without threading headers is a new thread

    # Threaded by In-Reply-To (the Message-ID of our first reply), sent to the plain address.
    imap.deliver(
        plain(
            subject="Re: Kitchen hours",
            text="And on Sundays?",
            message_id="<a2@example.org>",
            in_reply_to=first_reply["Message-ID"],
        )
    )
    await work(runtime, clock)
    first_id = first_reply["Reply-To"].split("+")[1].split(".")[0]
    second_id = second_reply["Reply-To"].split("+")[1].split(".")[0]
    assert [m["role"] for m in await transcript(client, channel, first_id)] == ["user", "assistant"] * 2  # type: ignore[arg-type]

    # Threaded by the reply address alone (a client that dropped In-Reply-To).
    imap.deliver(plain(to=second_reply["Reply-To"], subject="Parking?", text="Thanks!", message_id="<b2@example.org>"))
    await work(runtime, clock)
    assert len(await transcript(client, channel, second_id)) == 4  # type: ignore[arg-type]

    # A forged reply address (another conversation's id under this one's MAC) opens a thread of its own.
    forged = second_reply["Reply-To"].replace(second_id, first_id)
    imap.deliver(plain(to=forged, subject="Hi", text="Hello?", message_id="<c1@example.org>"))
    await work(runtime, clock)
    assert len(await transcript(client, channel, first_id)) == 4  # type: ignore[arg-type]
    assert len(await conversations_of(client, channel)) == 3  # type: ignore[arg-type]


async def test_the_same_imap_message_polled_twice_is_one_message_and_one_reply(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    uid = imap.deliver(plain(text=QUESTION, message_id="<twice@example.org>"))
    await work(runtime, clock)
    assert imap.flags(uid) == {"\\Seen"}  # marked only after the durable write
    # The server renumbers its mailbox (new UIDVALIDITY): every message is offered again, as new.
    imap.renumber()
    await work(runtime, clock)
    await work(runtime, clock)
    assert len(sent(smtp)) == 1
    assert await count(runtime, channel, "SELECT count(*) FROM channel_inbound") == 1
    assert await count(runtime, channel, "SELECT count(*) FROM messages WHERE role = 'user'") == 1
    assert await count(runtime, channel, "SELECT last_uid FROM email_mailboxes") == 1


async def test_html_mail_is_stored_as_safe_text_without_quoted_history(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    html = (
        "<html><head><style>body{color:red}</style></head><body><p>When does the <b>kitchen</b> open?</p>"
        "<script>fetch('https://evil.example')</script><p>Thanks, <a href='https://evil.example'>Ann</a></p>"
        "<div class='gmail_quote'>On Mon, Bistro wrote:<blockquote>We are open daily.</blockquote></div>"
        "</body></html>"
    )
    imap.deliver(
        plain(text="", html=html, subject="Re: hours", message_id="<h1@example.org>", in_reply_to="<unknown@elsewhere>")
    )
    await work(runtime, clock)
    [conversation] = await conversations_of(client, channel)  # type: ignore[arg-type]
    user = (await transcript(client, channel, conversation["id"]))[0]  # type: ignore[arg-type]
    assert user["body"] == "When does the kitchen open?\n\nThanks, Ann"
    imap.deliver(
        plain(
            subject="Re: hours",
            message_id="<h2@example.org>",
            in_reply_to="<h1@example.org>",
            text="Great.\n\nOn Mon, 7 Dec 2026, Bistro <hello@bistro.test> wrote:\n> We open at noon.\n\n-- \nAnn",
        )
    )
    await work(runtime, clock)
    bodies = [m["body"] for m in await transcript(client, channel, conversation["id"])]  # type: ignore[arg-type]
    assert bodies[2] == "Great."


async def test_automated_mail_is_recorded_but_never_answered(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    imap.deliver(plain(text="I am out of office.", message_id="<ooo@x>", headers={"Auto-Submitted": "auto-replied"}))
    imap.deliver(plain(text="Newsletter", message_id="<news@x>", headers={"Precedence": "bulk"}))
    imap.deliver(plain(text="List post", message_id="<list@x>", headers={"List-Id": "<l.example.org>"}))
    imap.deliver(plain(sender=ADDRESS, text="Our own", message_id="<own@x>"))
    await work(runtime, clock)
    assert sent(smtp) == []
    assert await count(runtime, channel, "SELECT count(*) FROM channel_inbound WHERE state = 'ignored'") == 4
    assert await count(runtime, channel, "SELECT count(*) FROM messages") == 0


async def test_a_bounce_marks_the_reply_failed(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    imap.deliver(plain(sender="gone@example.org", text=QUESTION, message_id="<g1@example.org>"))
    await work(runtime, clock)
    [reply] = sent(smtp)
    imap.deliver(bounce(reply["Message-ID"], recipient="gone@example.org"))
    await work(runtime, clock)
    assert len(sent(smtp)) == 1  # the bounce itself is not answered
    deliveries = await count(runtime, channel, "SELECT count(*) FROM channel_outbound WHERE delivery = 'failed'")
    assert deliveries == 1
    assert await count(runtime, channel, "SELECT count(*) FROM conversations WHERE needs_attention") == 1


async def test_an_smtp_failure_is_retried_and_the_reply_sent_once(
    client: object, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer, imap: IMAPServer
) -> None:
    channel = await _channel(client, runtime, smtp, imap)
    smtp.refuse("451 4.3.0 try again later", times=1)
    imap.deliver(plain(text=QUESTION, message_id="<r1@example.org>"))
    await work(runtime, clock)
    assert sent(smtp) == []
    assert await count(runtime, channel, "SELECT attempts FROM channel_outbound") == 1
    clock.advance(hours=1)
    await work(runtime, clock, poll=False)
    await work(runtime, clock, poll=False)
    [reply] = sent(smtp)
    assert ANSWER in body_of(reply)
    assert await count(runtime, channel, "SELECT count(*) FROM channel_outbound WHERE state = 'sent'") == 1


async def test_imap_poll_reads_through_the_real_client(imap: IMAPServer) -> None:
    """The fake server and the stdlib client agree on the protocol (a guard for the tests above)."""
    imap.deliver(plain())
    account = ImapAccount("127.0.0.1", imap.port, imap.username, imap.password, security="none", timeout=5)
    async with ImapMailbox(account) as box:
        assert await box.new_uids(0, limit=5) == [1]
