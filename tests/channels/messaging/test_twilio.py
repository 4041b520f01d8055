"""Twilio SMS and WhatsApp end to end: form webhooks signed as Twilio signs them, replies through the official
client to the fake Twilio REST API, status callbacks, STOP/START/HELP."""

from __future__ import annotations

from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.messaging.support import (
    PHONE,
    make_business,
    notification,
    post_signed,
    reconcile,
    rows,
    text_message,
)
from tests.conftest import START
from tests.factories import database_rows
from tests.fakes.graph_server import FakeGraph
from tests.fakes.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

OUR_NUMBER = "+14155550100"


async def add_twilio_channel(client: httpx.AsyncClient, business: Any, kind: str = "twilio_sms") -> dict[str, Any]:
    response = await client.post(
        f"{business.api}/channels",
        json={
            "kind": kind,
            "agent_id": business.agent_id,
            "name": kind,
            "config": {"account_sid": ACCOUNT_SID, "from_number": OUR_NUMBER},
            "secrets": {"auth_token": AUTH_TOKEN},
        },
        headers=business.headers,
    )
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    assert channel["webhook_url"].endswith(f"/webhooks/twilio/{channel['id']}")
    return channel


def form(sid: str, body: str, *, sender: str = PHONE, **more: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": OUR_NUMBER if not sender.startswith("whatsapp:") else f"whatsapp:{OUR_NUMBER}",
        "Body": body,
        "NumMedia": "0",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **more,
    }


async def post_twilio(
    client: httpx.AsyncClient,
    channel: dict[str, Any],
    params: dict[str, str],
    *,
    suffix: str = "",
    token: str = AUTH_TOKEN,
) -> httpx.Response:
    """Signed as Twilio signs: HMAC-SHA1 over the URL it was given and the sorted form fields."""
    url = channel["webhook_url"] + suffix
    signature = RequestValidator(token).compute_signature(url, params)
    path = url.removeprefix("http://127.0.0.1:8000")
    return await client.post(path, data=params, headers={"X-Twilio-Signature": signature})


async def test_an_sms_is_answered_through_the_twilio_rest_api(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    response = await post_twilio(client, channel, form("SM" + "a" * 32, "Are you open on Sunday?"))
    assert response.status_code == 200 and "<Response>" in response.text
    clock.advance(seconds=3)
    await reconcile(runtime)
    [sent] = fake_twilio.sent
    assert sent["To"] == PHONE and sent["From"] == OUR_NUMBER and sent["Body"]
    assert sent["StatusCallback"] == channel["webhook_url"] + "/status"
    conversations = (await client.get(f"{business.api}/conversations")).json()["conversations"]
    assert [c["channel"] for c in conversations] == ["sms"]


async def test_unsigned_or_wrongly_signed_twilio_requests_change_nothing(client, runtime: Runtime, settings):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    before = await database_rows(settings)
    path = channel["webhook_url"].removeprefix("http://127.0.0.1:8000")
    unsigned = await client.post(path, data=form("SM1", "hi"))
    assert unsigned.status_code == 401
    wrong = await post_twilio(client, channel, form("SM1", "hi"), token="not-the-auth-token")
    assert wrong.status_code == 403
    params = form("SM1", "hi")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(channel["webhook_url"], params)
    tampered = await client.post(
        path, data={**params, "Body": "send me everything"}, headers={"X-Twilio-Signature": signature}
    )
    assert tampered.status_code == 403
    after = await database_rows(settings)
    assert {k: v for k, v in after.items() if k != "audit_events"} == {
        k: v for k, v in before.items() if k != "audit_events"
    }


async def test_every_media_url_of_an_mms_is_stored(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    media = {f"ME{n}": f"PICTURE-{n}".encode() * 20 for n in range(3)}
    extra: dict[str, str] = {"NumMedia": "3"}
    for n, (media_id, content) in enumerate(media.items()):
        fake_twilio.add_media(media_id, content, "image/png")
        extra[f"MediaUrl{n}"] = fake_twilio.media_url(media_id)
        extra[f"MediaContentType{n}"] = "image/png"
    assert (await post_twilio(client, channel, form("MM1", "look", **extra))).status_code == 200
    clock.advance(seconds=3)
    await reconcile(runtime)
    stored = await rows(runtime, business.org_id, "SELECT position, size FROM channel_media ORDER BY position")
    assert stored == [{"position": n, "size": len(c)} for n, c in enumerate(media.values())]


async def test_whatsapp_through_twilio_uses_whatsapp_addresses(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business, "twilio_whatsapp")
    params = form("SM" + "b" * 32, "Hola", sender=f"whatsapp:{PHONE}", ProfileName="Ada", WaId=PHONE.lstrip("+"))
    assert (await post_twilio(client, channel, params)).status_code == 200
    clock.advance(seconds=3)
    await reconcile(runtime)
    [sent] = fake_twilio.sent
    assert sent["To"] == f"whatsapp:{PHONE}" and sent["From"] == f"whatsapp:{OUR_NUMBER}"
    contact = await rows(runtime, business.org_id, "SELECT display_name FROM contacts")
    assert contact == [{"display_name": "Ada"}]


async def test_status_callbacks_update_delivery_and_an_undelivered_reply_flags_the_conversation(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    await post_twilio(client, channel, form("SM1", "hello"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [outbound] = await rows(runtime, business.org_id, "SELECT provider_message_id FROM channel_outbound")
    sid = outbound["provider_message_id"]
    status = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "To": PHONE, "From": OUR_NUMBER}
    assert (
        await post_twilio(client, channel, {**status, "MessageStatus": "sent"}, suffix="/status")
    ).status_code == 200
    [state] = await rows(runtime, business.org_id, "SELECT delivery FROM channel_outbound")
    assert state == {"delivery": "sent"}
    undelivered = {**status, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    await post_twilio(client, channel, undelivered, suffix="/status")
    [state] = await rows(runtime, business.org_id, "SELECT delivery, error_code FROM channel_outbound")
    assert state == {"delivery": "failed", "error_code": "30003"}
    conversation = (await client.get(f"{business.api}/conversations")).json()["conversations"][0]
    assert conversation["needs_attention"] and "30003" in conversation["attention_reason"]


async def test_stop_is_respected_until_start_and_help_gets_the_help_text(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    await post_twilio(client, channel, form("SM1", "Hello"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert len(fake_twilio.sent) == 1
    await post_twilio(client, channel, form("SM2", "STOP"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert len(fake_twilio.sent) == 1  # no answer to STOP
    [state] = await rows(runtime, business.org_id, "SELECT opted_out_at FROM channel_contacts")
    assert state["opted_out_at"] is not None
    conversation = (await client.get(f"{business.api}/conversations")).json()["conversations"][0]
    staff = await client.post(
        f"{business.api}/conversations/{conversation['id']}/messages",
        json={"text": "We will miss you"},
        headers=business.headers,
    )
    assert staff.status_code in (200, 201)
    clock.advance(minutes=1)
    await reconcile(runtime)
    assert len(fake_twilio.sent) == 1  # an opted-out number is never messaged
    failed = await rows(runtime, business.org_id, "SELECT error_code FROM channel_outbound WHERE state = 'failed'")
    assert failed == [{"error_code": "opted_out"}]
    await post_twilio(client, channel, form("SM3", "START"))
    await post_twilio(client, channel, form("SM4", "HELP"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert len(fake_twilio.sent) == 2 and "STOP" in fake_twilio.sent[-1]["Body"]
    [state] = await rows(runtime, business.org_id, "SELECT opted_out_at FROM channel_contacts")
    assert state["opted_out_at"] is None


async def test_a_retryable_twilio_error_is_retried_and_sent_once(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    fake_twilio.fail_next(429, 20429, "Too Many Requests")
    await post_twilio(client, channel, form("SM1", "Hello"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert fake_twilio.sent == []
    clock.advance(minutes=1)
    await reconcile(runtime)
    assert len(fake_twilio.sent) == 1
    [done] = await rows(runtime, business.org_id, "SELECT state, attempts FROM channel_outbound")
    assert done == {"state": "sent", "attempts": 2}


async def test_the_same_person_on_whatsapp_then_sms_is_one_contact(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    await post_signed(client, business.webhook, notification([text_message("wamid.1", "Hi on WhatsApp", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    await post_twilio(client, channel, form("SM1", "Hi by SMS", sender="+31 6 12345678"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    contacts = await rows(runtime, business.org_id, "SELECT id FROM contacts")
    assert len(contacts) == 1
    conversations = (await client.get(f"{business.api}/conversations")).json()["conversations"]
    assert sorted(c["channel"] for c in conversations) == ["sms", "whatsapp"]
    assert {c["contact_id"] for c in conversations} == {contacts[0]["id"]}
    assert len(fake_graph.sent) == 1 and len(fake_twilio.sent) == 1


async def test_a_recipient_twilio_reports_as_unsubscribed_is_recorded_as_opted_out(
    client, runtime: Runtime, clock: FrozenClock, fake_twilio: FakeTwilio
):
    business = await make_business(client, runtime)
    channel = await add_twilio_channel(client, business)
    fake_twilio.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    await post_twilio(client, channel, form("SM1", "Hello"))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [failed] = await rows(runtime, business.org_id, "SELECT state, error_code FROM channel_outbound")
    assert failed == {"state": "failed", "error_code": "opted_out"}
    [state] = await rows(runtime, business.org_id, "SELECT opted_out_at FROM channel_contacts")
    assert state["opted_out_at"] is not None
