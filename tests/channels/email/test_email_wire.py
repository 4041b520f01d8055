"""The email channel's wire pieces against real protocol servers on 127.0.0.1: IMAP polling, reply addresses,
the reply's headers, provider webhook authentication."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from parley.channels.email import addresses
from parley.channels.email.imap import ImapAccount, ImapError, ImapMailbox
from parley.channels.email.mime import Limits
from parley.channels.email.outbound import Reply, build_reply, reply_subject
from parley.channels.email.webhooks import (
    BadPayload,
    basic_auth_matches,
    from_postmark,
    sendgrid_signature_valid,
)
from tests.channels.email.mail import plain
from tests.fakes.imap_server import IMAPServer


def _account(server: IMAPServer, password: str | None = None) -> ImapAccount:
    return ImapAccount(
        "127.0.0.1", server.port, server.username, password or server.password, security="none", timeout=5
    )


async def test_imap_poll_reads_new_mail_without_marking_it_seen() -> None:
    with IMAPServer() as server:
        first = server.deliver(plain(message_id="<a@x>"))
        second = server.deliver(plain(message_id="<b@x>"))
        async with ImapMailbox(_account(server)) as box:
            assert box.uidvalidity == server.inbox.uidvalidity
            uids = await box.new_uids(0, limit=10)
            fetched = await box.fetch(uids)
            assert [f.uid for f in fetched] == [first, second]
            assert b"<a@x>" in fetched[0].raw
            assert server.flags(first) == set()  # BODY.PEEK: nothing is marked before the durable write
            await box.mark_seen([first])
            assert await box.new_uids(second, limit=10) == []  # "n:*" answers the last UID; it is filtered
        assert server.flags(first) == {"\\Seen"}
        assert server.flags(second) == set()


async def test_imap_wrong_password_is_a_clear_error() -> None:
    with IMAPServer() as server, pytest.raises(ImapError, match="invalid credentials"):
        async with ImapMailbox(_account(server, password="wrong")):
            pass


def test_reply_address_verifies_only_for_its_conversation() -> None:
    key = addresses.reply_key(b"k" * 32)
    address = addresses.reply_address(key, "org_1", "cnv_06f3k2x0q9pbe1c4w7v5tn8mha", "in.bistro.test")
    assert address.startswith("reply+cnv_06f3k2x0q9pbe1c4w7v5tn8mha.")
    assert addresses.verify(key, "org_1", address, "in.bistro.test") == "cnv_06f3k2x0q9pbe1c4w7v5tn8mha"
    assert addresses.verify(key, "org_1", address.upper(), "IN.bistro.test") == "cnv_06f3k2x0q9pbe1c4w7v5tn8mha"
    forged = address.replace("cnv_06f3k2x0q9pbe1c4w7v5tn8mha", "cnv_06f3k2x0q9pbe1c4w7v5tn8mhb")
    assert addresses.verify(key, "org_1", forged, "in.bistro.test") is None
    assert addresses.verify(key, "org_2", address, "in.bistro.test") is None
    assert addresses.verify(addresses.reply_key(b"j" * 32), "org_1", address, "in.bistro.test") is None
    assert addresses.verify(key, "org_1", address, "other.test") is None


def test_reply_headers_thread_and_mark_the_answer_automatic() -> None:
    reply = Reply(
        outbox_id="chm_1",
        mail_from="hello@bistro.test",
        from_name="Bistro",
        to="ann@example.org",
        subject=reply_subject("Table for Friday?"),
        text="Yes, we have a table.",
        reply_to="reply+cnv_x.abc@in.bistro.test",
        in_reply_to="<m2@example.org>",
        references=["<m1@example.org>", "<chm_0@bistro.test>"],
    )
    parsed = message_from_bytes(bytes(build_reply(reply, datetime(2026, 12, 7, tzinfo=UTC))), policy=policy.default)
    assert parsed["Message-ID"] == "<chm_1@bistro.test>"
    assert parsed["In-Reply-To"] == "<m2@example.org>"
    assert parsed["References"] == "<m1@example.org> <chm_0@bistro.test> <m2@example.org>"
    assert parsed["Reply-To"] == "reply+cnv_x.abc@in.bistro.test"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["Subject"] == "Re: Table for Friday?"
    assert reply_subject("RE: x") == "RE: x"


def test_postmark_basic_auth() -> None:
    good = "Basic " + base64.b64encode(b"postmark:s3cret").decode()
    assert basic_auth_matches(good, "postmark", "s3cret")
    assert not basic_auth_matches(good, "postmark", "other")
    assert not basic_auth_matches("Basic !!!", "postmark", "s3cret")
    assert not basic_auth_matches(None, "postmark", "s3cret")


def test_postmark_json_is_read_like_a_raw_email() -> None:
    payload = {
        "FromFull": {"Email": "Ann@Example.org", "Name": "Ann"},
        "ToFull": [{"Email": "hello@bistro.test", "Name": ""}],
        "Subject": "Re: Table",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Mon, 7 Dec 2026 10:00:00 +0100",
        "TextBody": "Eight is fine.\n\nOn Mon, Bistro wrote:\n> old",
        "HtmlBody": "<p>Eight is fine.</p>",
        "Headers": [
            {"Name": "Message-ID", "Value": "<m9@example.org>"},
            {"Name": "In-Reply-To", "Value": "<chm_1@bistro.test>"},
        ],
        "Attachments": [{"Name": "a.txt", "Content": base64.b64encode(b"hi").decode(), "ContentType": "text/plain"}],
    }
    parsed = from_postmark(json.loads(json.dumps(payload)), Limits())
    assert parsed.sender == "ann@example.org"
    assert parsed.message_id == "<m9@example.org>"
    assert parsed.in_reply_to == ["<chm_1@bistro.test>"]
    assert parsed.text == "Eight is fine."
    assert parsed.attachments[0].data == b"hi"
    assert parsed.sent_at == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with pytest.raises(BadPayload):
        from_postmark({"FromFull": {"Email": ""}}, Limits())


def test_sendgrid_signature_is_checked_over_timestamp_and_body() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    body = b"--x\r\nContent-Disposition: form-data; name=email\r\n\r\nraw\r\n--x--\r\n"
    signature = base64.b64encode(private.sign(b"1765000000" + body, ec.ECDSA(hashes.SHA256()))).decode()
    assert sendgrid_signature_valid(public, signature, "1765000000", body)
    assert not sendgrid_signature_valid(public, signature, "1765000001", body)
    assert not sendgrid_signature_valid(public, signature, "1765000000", body + b"x")
    assert not sendgrid_signature_valid(public, None, "1765000000", body)
    assert not sendgrid_signature_valid(public, "bm90IGEgc2lnbmF0dXJl", "1765000000", body)
