"""A person asks, through the public page, for their data and then for erasure; staff carry both out."""

from __future__ import annotations

import io
import json
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
from sqlalchemy import select

from parley.conversations import service as conversations
from parley.kit.db import unit_of_work
from parley.models import Agent, Contact
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from tests.channels.widget.support import make_widget_agent, new_visitor
from tests.factories import ACTOR, audit_events, database_text, raw_scalars
from tests.privacy_support import Chat, chat_in, say
from tests.rights.support import ask_with_code, download_path, mails_to

EMAIL = "zoe.kowalczyk@example.org"
FRIEND_PHONE = "+33 6 99 88 77 66"
FRIEND_EMAIL = "bob@friend.example"


async def _person_on_two_channels(client, runtime: Runtime):  # type: ignore[no-untyped-def]
    """Zoé chats on the widget as an anonymous visitor; staff later learn her e-mail (a rectification request);
    then she writes by e-mail. Another customer writes on WhatsApp."""
    agent = await make_widget_agent(client, runtime)
    base = f"/api/v1/orgs/{agent.org_id}"
    visitor = await new_visitor(client, agent)
    words = f"Hi, I am Zoé Kowalczyk. Call my friend on {FRIEND_PHONE} or write to {FRIEND_EMAIL}."
    asked = await client.post(f"{agent.api}/messages", json={"text": words}, headers=visitor)
    assert asked.status_code == 200, asked.text
    contact_id = str((await raw_scalars(runtime, agent.org_id, "SELECT contact_id FROM conversations"))[0])
    filed = await client.post(
        f"{base}/privacy/requests", json={"kind": "rectification", "contact_id": contact_id}, headers=agent.headers
    )
    assert filed.status_code == 201, filed.text
    fixed = await client.post(
        f"{base}/privacy/requests/{filed.json()['id']}/fulfil",
        json={"display_name": "Zoé Kowalczyk", "add_identifiers": [{"kind": "email", "value": EMAIL}]},
        headers=agent.headers,
    )
    assert fixed.status_code == 200 and fixed.json()["status"] == "completed", fixed.text
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, agent.org_id, ACTOR)
        found = await db.get(Agent, agent.agent_id)
        contact = await db.scalar(select(Contact).where(Contact.id == contact_id))
        assert found is not None and contact is not None
        by_mail = await conversations.conversation_for(db, runtime, scope, found, contact, "email")
    mail = Chat(base, agent.headers, scope, found, by_mail.id, contact_id)
    await say(runtime, mail, "Following up by e-mail about the gluten-free pasta.")
    other = await chat_in(runtime, base, agent.headers, agent.org_id, agent.agent_id, phone="+33655555555")
    await say(runtime, other, "I am somebody else entirely, Ulrich Nemeth.")
    return agent, base, contact_id, visitor


def _files_under(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


async def test_a_person_gets_all_their_data_then_is_erased_everywhere(client, runtime: Runtime, settings: Settings):
    agent, base, contact_id, visitor = await _person_on_two_channels(client, runtime)
    people = settings.data_dir / "people" / agent.org_id / contact_id
    people.mkdir(parents=True)
    (people / "voice-note.ogg").write_bytes(b"OggS Kowalczyk voice")
    org_slug = (await client.get(base, headers=agent.headers)).json()["slug"]

    page = await client.get(f"/privacy/{org_slug}/requests")
    assert page.status_code == 200 and "<form" in page.text and "Get a copy of my data" in page.text
    receipt = await ask_with_code(client, runtime, org_slug, agent.org_id, "access", EMAIL)
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["kind"] == "access" and receipt.json()["due_at"].startswith("2026-02-05")
    request_id = receipt.json()["request_id"]

    done = await client.post(f"{base}/privacy/requests/{request_id}/fulfil", json={}, headers=agent.headers)
    assert done.status_code == 200, done.text
    assert [e["status"] for e in done.json()["events"]] == ["received", "verified", "in_progress", "completed"]
    assert done.json()["events"][1]["evidence"]["method"] == "email_code"
    link = download_path((await mails_to(runtime, agent.org_id, EMAIL))[-1])
    assert (await client.get(link.split("token=")[0] + "token=wrong")).status_code == 404
    archive_bytes = (await client.get(link)).content
    archive = zipfile.ZipFile(io.BytesIO(archive_bytes))
    assert sorted(archive.namelist()) == [
        "README.txt",
        "consents.html",
        "consents.json",
        "data.json",
        "files/voice-note.ogg",
        "index.html",
    ]
    data = json.loads(archive.read("data.json"))
    schema = json.loads(resources.files("parley.privacy").joinpath("export_schema.json").read_text())
    jsonschema.validate(data, schema)
    assert sorted(c["channel"] for c in data["conversations"]) == ["email", "widget"]
    assert {(r["kind"], r["status"]) for r in data["requests"]} == {
        ("rectification", "completed"),
        ("access", "in_progress"),
    }
    assert {i["kind"] for i in data["person"]["identifiers"]} == {"visitor", "email"}
    texts = "\n".join(m["text"] or "" for c in data["conversations"] for m in c["messages"])
    assert "Zoé Kowalczyk" in texts and "gluten-free" in texts
    everything = b"".join(archive.read(n) for n in archive.namelist())
    for other in (FRIEND_PHONE, FRIEND_EMAIL, "+33655555555", "Ulrich", "somebody else"):
        assert other.encode() not in everything, other
    assert "[someone else's phone number]" in texts and "[someone else's e-mail]" in texts
    staff_copy = await client.get(f"{base}/privacy/requests/{request_id}/download", headers=agent.headers)
    assert staff_copy.status_code == 200 and staff_copy.content == archive_bytes

    erasure = await ask_with_code(client, runtime, org_slug, agent.org_id, "erasure", EMAIL)
    assert erasure.status_code == 201, erasure.text
    erased = await client.post(
        f"{base}/privacy/requests/{erasure.json()['request_id']}/fulfil", json={}, headers=agent.headers
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["outcome"]["conversations"] == 2 and erased.json()["outcome"]["key_destroyed"] is True
    assert erased.json()["contact_id"] is None and erased.json()["details"] == {}

    visitor_id = visitor["x-parley-visitor"].split(":")[0]
    dump = await database_text(settings)
    disk = _files_under(settings.data_dir)
    # (the contact id, a random id, stays in the audit log: "contact erased", by id only)
    for trace in ("Kowalczyk", EMAIL, visitor_id, "gluten-free", FRIEND_EMAIL):
        assert trace not in dump, trace
        assert trace.encode() not in disk, (
            trace,
            [p for p in settings.data_dir.rglob("*") if p.is_file() and trace.encode() in p.read_bytes()],
        )
    assert "+33655555555" in dump  # the other customer is untouched
    assert await raw_scalars(runtime, agent.org_id, "SELECT id FROM privacy_challenges") == []
    other_id = str((await raw_scalars(runtime, agent.org_id, "SELECT contact_id FROM conversations"))[0])
    kept = zipfile.ZipFile(
        io.BytesIO((await client.get(f"{base}/contacts/{other_id}/export", headers=agent.headers)).content)
    )
    assert b"somebody else entirely" in kept.read("data.json")
    # The minimal record: both requests, completed, with their history, and nothing of the person.
    record = (await client.get(f"{base}/privacy/requests", headers=agent.headers)).json()["requests"]
    assert {(r["kind"], r["status"], r["contact_id"]) for r in record} >= {
        ("access", "completed", None),
        ("erasure", "completed", None),
    }
    actions = [e["action"] for e in await audit_events(client, agent.org_id, agent.headers)]
    assert "privacy_request.completed" in actions and "contact.erased" in actions
