"""Inbound email pushed by Postmark (JSON, basic auth) and SendGrid (Inbound Parse multipart, ECDSA-signed):
authenticated requests are recorded once; wrongly authenticated ones are refused and change nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.email.mail import plain
from tests.channels.email.support import body_of, count, make_email_channel, sent, work
from tests.channels.widget.support import ANSWER, QUESTION
from tests.fakes.smtp_server import SMTPServer


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def _postmark(message_id: str = "<pm1@example.org>") -> dict[str, object]:
    return {
        "FromFull": {"Email": "ann@example.org", "Name": "Ann"},
        "ToFull": [{"Email": "hello@bistro.test", "Name": ""}],
        "Subject": "Kitchen",
        "MessageID": "a8c1040e-8c5b-4c9d-8a2c-1a2b3c4d5e6f",
        "Date": "Mon, 7 Dec 2026 10:00:00 +0000",
        "TextBody": QUESTION,
        "HtmlBody": "",
        "Headers": [{"Name": "Message-ID", "Value": message_id}],
        "Attachments": [],
    }


def _basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def test_postmark_webhook_with_wrong_credentials_changes_nothing(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer
) -> None:
    channel = await make_email_channel(
        client,
        runtime,
        smtp=smtp,
        config={"inbound_provider": "postmark", "postmark_username": "postmark"},
        secrets={"postmark_password": "s3cret-pass"},
    )
    url = f"/webhooks/email/{channel.connection_id}"
    for headers in ({}, _basic("postmark", "wrong"), _basic("other", "s3cret-pass"), {"Authorization": "Basic !"}):
        refused = await client.post(url, json=_postmark(), headers=headers)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "not_authenticated"
    assert await count(runtime, channel, "SELECT count(*) FROM channel_inbound") == 0

    for _ in range(2):  # Postmark retries: the second delivery is the same email
        accepted = await client.post(url, json=_postmark(), headers=_basic("postmark", "s3cret-pass"))
        assert accepted.status_code == 200, accepted.text
    assert await count(runtime, channel, "SELECT count(*) FROM channel_inbound") == 1
    await work(runtime, clock, poll=False)
    [reply] = sent(smtp)
    assert reply["In-Reply-To"] == "<pm1@example.org>"
    assert ANSWER in body_of(reply)


async def test_postmark_webhook_rejects_a_malformed_body(
    client: httpx.AsyncClient, runtime: Runtime, smtp: SMTPServer
) -> None:
    channel = await make_email_channel(
        client,
        runtime,
        smtp=smtp,
        config={"inbound_provider": "postmark", "postmark_username": "postmark"},
        secrets={"postmark_password": "s3cret-pass"},
    )
    url = f"/webhooks/email/{channel.connection_id}"
    bad = await client.post(url, content=b"not json", headers=_basic("postmark", "s3cret-pass"))
    assert bad.status_code == 400
    assert bad.json()["error"] == "bad_request"
    missing = await client.post("/webhooks/email/chn_nope", json=_postmark(), headers=_basic("postmark", "s3cret-pass"))
    assert missing.status_code == 404


def _multipart(fields: dict[str, bytes], boundary: str = "xYzZY") -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


async def test_sendgrid_webhook_needs_a_valid_signature(
    client: httpx.AsyncClient, runtime: Runtime, clock: FrozenClock, smtp: SMTPServer
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    channel = await make_email_channel(
        client, runtime, smtp=smtp, config={"inbound_provider": "sendgrid", "sendgrid_public_key": public}
    )
    url = f"/webhooks/email/{channel.connection_id}"
    raw = plain(text=QUESTION, message_id="<sg1@example.org>")
    body = _multipart({"email": raw, "to": b"hello@bistro.test", "from": b"ann@example.org"})
    timestamp = "1765101600"
    signature = base64.b64encode(private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    headers = {"Content-Type": "multipart/form-data; boundary=xYzZY"}
    signed = {
        **headers,
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    forged = _multipart({"email": plain(text="Injected", message_id="<evil@x>")})
    for attempt_headers, content in (
        (headers, body),  # unsigned
        ({**signed, "X-Twilio-Email-Event-Webhook-Timestamp": "1765101601"}, body),  # replayed under another time
        (signed, forged),  # a valid signature over another body
    ):
        refused = await client.post(url, content=content, headers=attempt_headers)
        assert refused.status_code == 403, refused.text
    assert await count(runtime, channel, "SELECT count(*) FROM channel_inbound") == 0

    accepted = await client.post(url, content=body, headers=signed)
    assert accepted.status_code == 200, accepted.text
    assert json.loads(accepted.text) == {"accepted": 1, "ignored": 0}
    await work(runtime, clock, poll=False)
    [reply] = sent(smtp)
    assert reply["In-Reply-To"] == "<sg1@example.org>"
