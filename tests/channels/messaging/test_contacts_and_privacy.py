"""One person across channels; staff merge and un-merge; export and erasure reach the channels' data; one
tenant's webhooks and staff never reach another's."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from importlib import resources

import jsonschema

from parley.kit.clock import FrozenClock
from parley.runtime import Runtime
from tests.channels.messaging.support import (
    PHONE,
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
from tests.factories import audit_events, database_text
from tests.fakes.graph_server import FakeGraph

OTHER_WA_ID = "447700900123"


async def _contacts(runtime: Runtime, org_id: str) -> list[dict[str, object]]:
    return await rows(runtime, org_id, "SELECT id, merged_into_id FROM contacts ORDER BY created_at, id")


async def test_staff_merge_two_contacts_and_undo_it(client, runtime: Runtime, clock: FrozenClock):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.1", "Hi", START)]))
    await post_signed(
        client, business.webhook, notification([text_message("wamid.2", "Hi again", START, wa_id=OTHER_WA_ID)])
    )
    clock.advance(seconds=3)
    await reconcile(runtime)
    first, second = (c["id"] for c in await _contacts(runtime, business.org_id))
    merged = await client.post(
        f"{business.api}/contacts/{second}/merge", json={"into_contact_id": first}, headers=business.headers
    )
    assert merged.status_code == 200, merged.text
    assert len(merged.json()["moved"]["conversations"]) == 1
    conversations = (await client.get(f"{business.api}/conversations")).json()["conversations"]
    assert {c["contact_id"] for c in conversations} == {first}
    owners = await rows(runtime, business.org_id, "SELECT DISTINCT contact_id FROM contact_identifiers")
    assert owners == [{"contact_id": first}]
    again = await client.post(
        f"{business.api}/contacts/{second}/merge", json={"into_contact_id": first}, headers=business.headers
    )
    assert again.status_code == 409
    itself = await client.post(
        f"{business.api}/contacts/{first}/merge", json={"into_contact_id": first}, headers=business.headers
    )
    assert itself.status_code == 422

    undone = await client.post(f"{business.api}/contacts/{second}/unmerge", headers=business.headers)
    assert undone.status_code == 200 and undone.json()["undone_at"]
    conversations = (await client.get(f"{business.api}/conversations")).json()["conversations"]
    assert sorted(c["contact_id"] for c in conversations) == sorted([first, second])
    assert {c["merged_into_id"] for c in await _contacts(runtime, business.org_id)} == {None}
    actions = [e["action"] for e in await audit_events(client, business.org_id, {})]
    assert "contact.merged" in actions and "contact.unmerged" in actions
    nothing = await client.post(f"{business.api}/contacts/{second}/unmerge", headers=business.headers)
    assert nothing.status_code == 409


async def test_a_merged_contact_writing_again_lands_with_the_contact_that_remains(
    client, runtime: Runtime, clock: FrozenClock
):
    business = await make_business(client, runtime)
    await post_signed(client, business.webhook, notification([text_message("wamid.1", "Hi", START)]))
    await post_signed(client, business.webhook, notification([text_message("wamid.2", "Yo", START, wa_id=OTHER_WA_ID)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    first, second = (c["id"] for c in await _contacts(runtime, business.org_id))
    await client.post(
        f"{business.api}/contacts/{second}/merge", json={"into_contact_id": first}, headers=business.headers
    )
    await post_signed(
        client, business.webhook, notification([text_message("wamid.3", "Me again", START, wa_id=OTHER_WA_ID)])
    )
    clock.advance(seconds=3)
    await reconcile(runtime)
    latest = await rows(
        runtime, business.org_id, "SELECT contact_id FROM channel_inbound WHERE provider_message_id = 'wamid.3'"
    )
    assert latest == [{"contact_id": first}]


async def test_the_export_holds_the_persons_channel_data(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph
):
    business = await make_business(client, runtime)
    fake_graph.add_media("media-x", b"PHOTO-OF-THE-MENU", "image/jpeg")
    await post_signed(client, business.webhook, notification([image_message("wamid.P", "media-x", START)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    [contact] = await _contacts(runtime, business.org_id)
    response = await client.get(f"{business.api}/contacts/{contact['id']}/export")
    assert response.status_code == 200, response.text
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.content)).read("data.json"))
    channels = data["channels"]
    assert channels["addresses"] == [
        {"channel": "whatsapp", "address": PHONE, "last_message_at": START.isoformat(), "opted_out_at": None}
    ]
    assert base64.b64decode(channels["media"][0]["content_base64"]) == b"PHOTO-OF-THE-MENU"
    assert channels["sent_to_you"][0]["to"] == PHONE and channels["sent_to_you"][0]["message"]["text"]
    # Art. 15(1)(c): the recipients by name, the messaging provider among them; the schema holds.
    assert [p["name"] for p in data["information"]["subprocessors"]] == [
        "Meta Platforms Ireland Ltd (WhatsApp Business)"
    ]
    schema = json.loads(resources.files("parley.privacy").joinpath("export_schema.json").read_text())
    jsonschema.validate(data, schema)


async def test_erasure_removes_the_channels_data_of_the_person_and_of_contacts_merged_into_them(
    client, runtime: Runtime, clock: FrozenClock, fake_graph: FakeGraph, settings
):
    business = await make_business(client, runtime)
    fake_graph.add_media("media-y", b"SECRET-SELFIE", "image/jpeg")
    await post_signed(client, business.webhook, notification([image_message("wamid.E", "media-y", START)]))
    await post_signed(client, business.webhook, notification([text_message("wamid.O", "x", START, wa_id=OTHER_WA_ID)]))
    clock.advance(seconds=3)
    await reconcile(runtime)
    first, second = (c["id"] for c in await _contacts(runtime, business.org_id))
    await client.post(
        f"{business.api}/contacts/{second}/merge", json={"into_contact_id": first}, headers=business.headers
    )
    # A message accepted but not processed yet, from the person's number, goes too.
    await post_signed(client, business.webhook, notification([text_message("wamid.late", "one more", START)]))
    erased = await client.post(f"{business.api}/contacts/{first}/erasure", headers=business.headers)
    assert erased.status_code == 200, erased.text
    for table in ("channel_inbound", "channel_media", "channel_outbound", "channel_contacts", "contact_merges"):
        assert await rows(runtime, business.org_id, f"SELECT id FROM {table}") == [], table
    assert await _contacts(runtime, business.org_id) == []
    everything = await database_text(settings)
    assert PHONE not in everything and WA_ID not in everything and OTHER_WA_ID not in everything


async def test_another_tenants_signature_and_staff_reach_nothing(client, runtime: Runtime, clock: FrozenClock):
    victim = await make_business(client, runtime, name="Victim")
    await client.patch(
        f"{victim.api}/channels/{victim.channel['id']}",
        json={"secrets": {"app_secret": "the-victims-own-secret"}},
        headers=victim.headers,
    )
    attacker = await make_business(client, runtime, name="Attacker")  # signs with the default app secret
    raw, headers = signed(notification([text_message("wamid.I", "hi", START)]))
    assert (await client.post(victim.webhook, content=raw, headers=headers)).status_code == 403
    assert (await client.post(attacker.webhook, content=raw, headers=headers)).status_code == 200
    clock.advance(seconds=3)
    await reconcile(runtime)
    query = "SELECT id FROM channel_inbound WHERE org_id = :org"
    assert await rows(runtime, victim.org_id, query, org=victim.org_id) == []
    assert len(await rows(runtime, attacker.org_id, query, org=attacker.org_id)) == 1
    # The attacker's staff (signed in last) cannot see or change the victim's channel.
    seen = await client.get(f"{victim.api}/channels/{victim.channel['id']}")
    assert seen.status_code == 404
    foreign = await client.get(f"{attacker.api}/channels/{victim.channel['id']}")
    assert foreign.status_code == 404
