"""One person's rights through the staff API: everything held about them as a ZIP, and erasure."""

from __future__ import annotations

import io
import json
import zipfile

from parley.conversations import service
from parley.kit.db import unit_of_work
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.permissions import Role
from tests.factories import ACTOR, audit_events, bearer, database_text, make_token
from tests.privacy_support import chat_in, say, start_chat, subject_key_ids


async def test_the_export_holds_every_conversation_of_the_person_and_nobody_else(client, runtime: Runtime):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, "Hello, I am Zoé <script>alert(1)</script>, do you open on Sunday?")
    # The same person, on another channel.
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, chat.org_id, ACTOR)
        contact = await service.repo.contact(db, scope, chat.contact_id)  # type: ignore[attr-defined]
        assert contact is not None
        second = await service.conversation_for(db, runtime, scope, chat.agent, contact, "email")
    chat_by_mail = type(chat)(chat.base, chat.headers, chat.scope, chat.agent, second.id, chat.contact_id)
    await say(runtime, chat_by_mail, "Following up by e-mail about the gluten-free pasta.")
    other = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33655555555")
    await say(runtime, other, "I am somebody else entirely.")

    response = await client.get(f"{chat.base}/contacts/{chat.contact_id}/export", headers=chat.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["README.txt", "consents.html", "consents.json", "data.json", "index.html"]
    data = json.loads(archive.read("data.json"))
    assert data["person"]["identifiers"] == [
        {"kind": "whatsapp", "value": "+33612345678", "since": data["person"]["known_since"]}
    ]
    assert [c["channel"] for c in data["conversations"]] == ["whatsapp", "email"]
    texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
    assert texts[0].startswith("Hello, I am Zoé") and any("gluten-free" in t for t in texts)
    everything = response.content + archive.read("data.json") + archive.read("index.html")
    assert b"somebody else" not in everything and b"+33655555555" not in everything
    page = archive.read("index.html").decode()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert {"purposes", "recipients", "retention", "rights", "automated_decision_making"} <= set(data["information"])
    exported = await audit_events(client, chat.org_id, chat.headers, action="contact.exported")
    assert exported[0]["target_id"] == chat.contact_id


async def test_only_admins_and_owners_may_export_or_erase(client, runtime: Runtime):
    chat = await start_chat(client, runtime)
    agent = bearer((await make_token(runtime, chat.org_id, Role.AGENT))[1])
    assert (await client.get(f"{chat.base}/contacts/{chat.contact_id}/export", headers=agent)).status_code == 403
    assert (await client.post(f"{chat.base}/contacts/{chat.contact_id}/erasure", headers=agent)).status_code == 403
    assert (await client.get(f"{chat.base}/contacts/con_nope/export", headers=chat.headers)).status_code == 404


async def test_staff_erase_a_person_everywhere(client, runtime: Runtime, settings: Settings):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, "My name is Zoé Kowalczyk, please forget me.")
    response = await client.post(f"{chat.base}/contacts/{chat.contact_id}/erasure", headers=chat.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "contact_id": chat.contact_id,
        "conversations": 1,
        "messages": 2,
        "key_destroyed": True,
    }
    assert await subject_key_ids(runtime, chat.org_id) == []
    dump = await database_text(settings)
    assert "Kowalczyk" not in dump and "+33612345678" not in dump
    assert (await client.get(f"{chat.base}/contacts/{chat.contact_id}/export", headers=chat.headers)).status_code == 404
    erased = await audit_events(client, chat.org_id, chat.headers, action="contact.erased")
    assert erased[0]["target_id"] == chat.contact_id


async def test_a_restricted_person_gets_no_ai_reply_and_staff_are_told_why(client, runtime: Runtime):
    chat = await start_chat(client, runtime)
    url = f"{chat.base}/contacts/{chat.contact_id}/restriction"
    assert (await client.put(url, json={"ground": "because"}, headers=chat.headers)).status_code == 422
    restricted = await client.put(url, json={"ground": "accuracy"}, headers=chat.headers)
    assert restricted.status_code == 200 and restricted.json()["restricted"] is True

    items = [
        i
        async for i in service.receive(
            runtime, chat.scope, chat.agent, chat.conversation_id, text="When does the kitchen open?", external_id=None
        )
    ]
    assert len(items) == 1 and items[0].reply_id is None  # stored, not answered
    conversation = (await client.get(f"{chat.base}/conversations/{chat.conversation_id}", headers=chat.headers)).json()
    assert conversation["conversation"]["needs_attention"] is True
    assert "restricted" in conversation["conversation"]["attention_reason"]
    assert [m["role"] for m in conversation["messages"]] == ["user"]

    lifted = await client.delete(url, headers=chat.headers)
    assert lifted.json()["restricted"] is False
    await say(runtime, chat, "And on Sunday?")
    roles = [
        m["role"]
        for m in (await client.get(f"{chat.base}/conversations/{chat.conversation_id}", headers=chat.headers)).json()[
            "messages"
        ]
    ]
    assert roles == ["user", "user", "assistant"]
    actions = [e["action"] for e in await audit_events(client, chat.org_id, chat.headers)]
    assert "contact.restricted" in actions and "contact.restriction_lifted" in actions
