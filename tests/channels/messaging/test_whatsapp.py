"""WhatsApp Cloud API end to end: signed webhooks in, the engine's reply out through the fake Graph API."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.messaging.support import (
    PHONE,
    VERIFY_TOKEN,
    WA_ID,
    image_message,
    make_business,
    notification,
    post_signed,
    reconcile,
    rows,
    signed,
    text_message,
)
from tests.conftest import START
from tests.factories import database_rows
from tests.fakes.graph_server import FakeGraph


async def _transcript(client: httpx.AsyncClient, business, conversation_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    response = await client.get(f"{business.api}/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return response.json()["messages"]


async def _only_conversation(client: httpx.AsyncClient, business) -> dict:  # type: ignore[no-untyped-def]
    response = await client.get(f"{business.api}/conversations")
    conversations = response.json()["conversations"]
    assert len(conversations) == 1, conversations
    return conversations[0]


async def test_channel_shows_its_webhook_url_and_never_its_secrets(client, runtime: Runtime):
    business = await make_business(client, runtime)
    channel = business.channel
    assert channel["webhook_url"] == f"http://127.0.0.1:8000/webhooks/whatsapp/{channel['id']}"
    assert channel["secret_names"] == ["access_token", "app_secret", "verify_token"]
    listed = (await client.get(f"{business.api}/channels")).json()
    assert "fake-app-secret" not in str(listed) and listed[0]["id"] == channel["id"]
    missing = await client.post(
        f"{business.api}/channels",
        json={"kind": "whatsapp", "agent_id": business.agent_id, "name": "x", "config": {}, "secrets": {}},
        headers=business.headers,
    )
    assert missing.status_code == 422 and "phone_number_id" in missing.text


async def test_verification_handshake_echoes_the_challenge_only_for_the_right_token(client, runtime: Runtime):
    business = await make_business(client, runtime)
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    ok = await client.get(business.webhook, params=params)
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = await client.get(business.webhook, params={**params, "hub.verify_token": "guess"})
    assert wrong.status_code == 403
    unknown = await client.get("/webhooks/whatsapp/chn_nothere", params=params)
    assert unknown.status_code == 404


async def test_a_message_is_answered_once_through_the_graph_api(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    response = await post_signed(client, business.webhook, notification([text_message("wamid.A", "Hello?", START)]))
    assert response.status_code == 200
    assert fake_graph.sent == []  # nothing happens inline: the burst window is still open
    await reconcile(runtime)
    assert fake_graph.sent == []
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert len(fake_graph.sent) == 1
    sent = fake_graph.sent[0]
    assert sent["to"] == WA_ID and sent["type"] == "text" and sent["text"]["body"]
    conversation = await _only_conversation(client, business)
    assert conversation["channel"] == "whatsapp"
    messages = await _transcript(client, business, conversation["id"])
    assert (messages[0]["role"], messages[0]["body"]) == ("user", "Hello?")
    assert [m["role"] for m in messages] == ["user", "assistant"]
    deliveries = (await client.get(f"{business.api}/conversations/{conversation['id']}/deliveries")).json()
    assert [(d["state"], d["delivery"]) for d in deliveries] == [("sent", "accepted")]


async def test_duplicated_webhook_delivered_twice_concurrently_gives_one_message_and_one_reply(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    payload = notification([text_message("wamid.DUP", "Do you deliver?", START)])
    first, second = await asyncio.gather(
        post_signed(client, business.webhook, payload), post_signed(client, business.webhook, payload)
    )
    assert first.status_code == second.status_code == 200
    clock.advance(seconds=3)
    await asyncio.gather(reconcile(runtime), reconcile(runtime))
    await post_signed(client, business.webhook, payload)  # and once more, after it was answered
    clock.advance(seconds=3)
    await reconcile(runtime)
    conversation = await _only_conversation(client, business)
    messages = await _transcript(client, business, conversation["id"])
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert len(fake_graph.sent) == 1
    inbound = await rows(runtime, business.org_id, "SELECT state FROM channel_inbound")
    assert inbound == [{"state": "processed"}]


async def test_a_burst_arriving_out_of_order_is_one_ordered_turn_with_one_reply(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    sent_at = [START - timedelta(seconds=9), START - timedelta(seconds=8), START - timedelta(seconds=7)]
    words = ["Hi", "I would like a table", "for four tonight"]
    for n in (2, 0, 1):  # the provider delivers the three webhooks out of order, within the burst window
        message = text_message(f"wamid.B{n}", words[n], sent_at[n])
        assert (await post_signed(client, business.webhook, notification([message]))).status_code == 200
        clock.advance(seconds=1)
    await reconcile(runtime)
    assert fake_graph.sent == []  # the last message came 1 s ago: the burst may go on
    clock.advance(seconds=2)
    await reconcile(runtime)
    conversation = await _only_conversation(client, business)
    messages = await _transcript(client, business, conversation["id"])
    assert [m["body"] for m in messages if m["role"] == "user"] == words
    assert [m["role"] for m in messages] == ["user", "user", "user", "assistant"]
    assert len(fake_graph.sent) == 1


async def test_one_request_with_several_entries_and_messages_records_them_all(
    client, runtime: Runtime, clock: FrozenClock
):
    business = await make_business(client, runtime)
    messages = [text_message(f"wamid.M{n}", f"part {n}", START + timedelta(seconds=n)) for n in range(4)]
    assert (await post_signed(client, business.webhook, notification(messages, entries=2))).status_code == 200
    clock.advance(seconds=3)
    await reconcile(runtime)
    conversation = await _only_conversation(client, business)
    bodies = [m["body"] for m in await _transcript(client, business, conversation["id"]) if m["role"] == "user"]
    assert bodies == ["part 0", "part 1", "part 2", "part 3"]


async def test_wrongly_signed_or_unsigned_requests_change_nothing(client, runtime: Runtime, settings):
    business = await make_business(client, runtime)
    before = await database_rows(settings)
    before.pop("audit_events", None)
    payload = notification([text_message("wamid.X", "hi", START)])
    raw, headers = signed(payload, secret="not-the-app-secret")
    wrong = await client.post(business.webhook, content=raw, headers=headers)
    assert wrong.status_code == 403 and wrong.json()["error"] == "signature_invalid"
    unsigned = await client.post(business.webhook, content=raw, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.json()["error"] == "signature_missing"
    raw_ok, headers_ok = signed(payload)
    tampered = await client.post(business.webhook, content=raw_ok.replace(b"hi", b"ho"), headers=headers_ok)
    assert tampered.status_code == 403
    after = await database_rows(settings)
    after.pop("audit_events", None)
    assert after == before


async def test_an_album_of_four_images_is_stored_whole_and_sealed(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph, settings
):
    business = await make_business(client, runtime)
    images = {f"media-{n}": f"JPEG-BYTES-{n}-".encode() * 50 for n in range(4)}
    for media_id, content in images.items():
        fake_graph.add_media(media_id, content, "image/jpeg")
    album = [
        image_message(f"wamid.IMG{n}", f"media-{n}", START, caption="our terrace" if n == 0 else None) for n in range(4)
    ]
    assert (await post_signed(client, business.webhook, notification(album))).status_code == 200
    clock.advance(seconds=3)
    await reconcile(runtime)
    stored = await rows(runtime, business.org_id, "SELECT size, mime_type, content_sealed FROM channel_media")
    assert sorted(r["size"] for r in stored) == sorted(len(c) for c in images.values())
    assert all(r["mime_type"] == "image/jpeg" for r in stored)
    everything = str(await database_rows(settings))
    assert "JPEG-BYTES" not in everything  # sealed, not stored in clear
    conversation = await _only_conversation(client, business)
    bodies = [m["body"] for m in await _transcript(client, business, conversation["id"]) if m["role"] == "user"]
    assert bodies == ["[image: our terrace]", "[image]", "[image]", "[image]"]
    assert len(fake_graph.sent) == 1


async def test_a_retryable_send_error_is_retried_and_delivered_once(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    fake_graph.fail_next(429, 130429, "(#130429) Rate limit hit")
    fake_graph.fail_next(503, 131016, "(#131016) Service unavailable")
    await post_signed(client, business.webhook, notification([text_message("wamid.R", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    assert fake_graph.sent == []
    [pending] = await rows(runtime, business.org_id, "SELECT state, attempts, error_code FROM channel_outbound")
    assert pending == {"state": "pending", "attempts": 1, "error_code": "130429"}
    await reconcile(runtime)  # the backoff has not passed: nothing is tried
    assert len([r for r in fake_graph.requests if r.path.endswith("/messages")]) == 1
    for _ in range(2):
        clock.advance(minutes=5)
        await reconcile(runtime)
    assert len(fake_graph.sent) == 1
    [done] = await rows(runtime, business.org_id, "SELECT state, attempts FROM channel_outbound")
    assert done == {"state": "sent", "attempts": 3}


async def test_a_final_send_error_fails_clearly_and_flags_the_conversation(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    fake_graph.fail_next(401, 190, "Error validating access token: Session has expired")
    await post_signed(client, business.webhook, notification([text_message("wamid.T", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    clock.advance(hours=1)
    await reconcile(runtime)
    [failed] = await rows(runtime, business.org_id, "SELECT state, error_code, attempts FROM channel_outbound")
    assert failed == {"state": "failed", "error_code": "190", "attempts": 1}
    conversation = await _only_conversation(client, business)
    assert conversation["needs_attention"] and "190" in conversation["attention_reason"]


async def test_outside_the_24_hour_window_the_configured_template_is_sent(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(
        client, runtime, config={"window_template": {"name": "follow_up", "language": "en_US"}}
    )
    await post_signed(client, business.webhook, notification([text_message("wamid.W", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    conversation = await _only_conversation(client, business)
    clock.advance(hours=30)
    staff = await client.post(
        f"{business.api}/conversations/{conversation['id']}/messages",
        json={"text": "Your table is ready whenever you are."},
        headers=business.headers,
    )
    assert staff.status_code in (200, 201), staff.text
    clock.advance(minutes=1)
    await reconcile(runtime)
    assert [s["type"] for s in fake_graph.sent] == ["text", "template"]
    template = fake_graph.sent[1]["template"]
    assert template["name"] == "follow_up" and template["language"] == {"code": "en_US"}


async def test_outside_the_24_hour_window_without_a_template_staff_are_told_why(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.W2", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    conversation = await _only_conversation(client, business)
    clock.advance(hours=25)
    await client.post(
        f"{business.api}/conversations/{conversation['id']}/messages",
        json={"text": "Are you still coming?"},
        headers=business.headers,
    )
    clock.advance(minutes=1)
    await reconcile(runtime)
    assert len(fake_graph.sent) == 1  # only the first, in-window reply
    conversation = await _only_conversation(client, business)
    assert conversation["needs_attention"] and "24 hours" in conversation["attention_reason"]
    deliveries = (await client.get(f"{business.api}/conversations/{conversation['id']}/deliveries")).json()
    assert deliveries[-1]["state"] == "failed" and deliveries[-1]["error_code"] == "outside_window"


async def test_whatsapp_refusing_free_text_outside_the_window_is_a_clear_failure(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    fake_graph.fail_next(400, 131047, "Re-engagement message")
    await post_signed(client, business.webhook, notification([text_message("wamid.W3", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [failed] = await rows(runtime, business.org_id, "SELECT state, error_code FROM channel_outbound")
    assert failed == {"state": "failed", "error_code": "131047"}
    conversation = await _only_conversation(client, business)
    assert "refused free text" in conversation["attention_reason"]


async def test_statuses_move_delivery_forward_and_a_failure_flags_the_conversation(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.S", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [outbound] = await rows(runtime, business.org_id, "SELECT provider_message_id FROM channel_outbound")
    wamid = outbound["provider_message_id"]
    at = str(int(START.timestamp()) + 5)

    def status(name: str, **more: object) -> dict[str, object]:
        return {"id": wamid, "status": name, "timestamp": at, "recipient_id": WA_ID, **more}

    await post_signed(client, business.webhook, notification(statuses=[status("read"), status("delivered")]))
    [state] = await rows(runtime, business.org_id, "SELECT delivery FROM channel_outbound")
    assert state == {"delivery": "read"}  # a late "delivered" does not move it back
    events = await rows(runtime, business.org_id, "SELECT status FROM channel_status_events ORDER BY status")
    assert events == [{"status": "delivered"}, {"status": "read"}]
    failed = status("failed", errors=[{"code": 131026, "title": "Message undeliverable"}])
    await post_signed(client, business.webhook, notification(statuses=[failed]))
    [state] = await rows(runtime, business.org_id, "SELECT delivery FROM channel_outbound")
    assert state == {"delivery": "read"}  # read means it arrived; a stray failure does not undo that


async def test_a_failed_status_for_an_undelivered_reply_flags_the_conversation(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.F", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [outbound] = await rows(runtime, business.org_id, "SELECT provider_message_id FROM channel_outbound")
    failed = {
        "id": outbound["provider_message_id"],
        "status": "failed",
        "timestamp": str(int(START.timestamp())),
        "recipient_id": WA_ID,
        "errors": [{"code": 131026, "title": "Message undeliverable"}],
    }
    await post_signed(client, business.webhook, notification(statuses=[failed]))
    [state] = await rows(runtime, business.org_id, "SELECT delivery, error_code FROM channel_outbound")
    assert state == {"delivery": "failed", "error_code": "131026"}
    conversation = await _only_conversation(client, business)
    assert conversation["needs_attention"] and "131026" in conversation["attention_reason"]


async def test_a_phone_number_is_one_contact_with_its_whatsapp_id(client, runtime: Runtime, clock: FrozenClock):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.C", "Hello", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    identifiers = await rows(runtime, business.org_id, "SELECT kind, value FROM contact_identifiers ORDER BY kind")
    assert identifiers == [{"kind": "phone", "value": PHONE}, {"kind": "whatsapp", "value": PHONE}]
