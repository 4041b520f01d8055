"""The consent ledger through the staff API: versioned texts, grants and withdrawals, the proof, STOP keywords,
marketing email gated by consent, export and erasure of the proof."""

from __future__ import annotations

import io
import json
import zipfile

from sqlalchemy import select

from parley.consent import keywords
from parley.consent.marketing import enqueue_marketing_email
from parley.kit.db import unit_of_work
from parley.models import OutboxMessage
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.permissions import Role
from tests.consent.support import add_text, allows, chat_with_email
from tests.factories import ACTOR, bearer, database_rows, database_text, make_token, raw_scalars
from tests.privacy_support import chat_in


async def _marketing(runtime: Runtime, org_id: str, contact_id: str) -> bool:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, ACTOR)
        queued = await enqueue_marketing_email(
            db, runtime, scope, contact_id=contact_id, subject="Spring menu", text="Our spring menu is out."
        )
    return queued is not None


async def test_grant_then_withdraw_stops_marketing(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    assert not await allows(runtime, chat.org_id, chat.contact_id, "marketing")  # never asked: no consent
    assert not await _marketing(runtime, chat.org_id, chat.contact_id)

    text_id = await add_text(client, chat, "marketing", "May we email you our offers?")
    granted = await client.post(
        url,
        json={"purpose": "marketing", "granted": True, "text_id": text_id, "channel": "staff"},
        headers=chat.headers,
    )
    assert granted.status_code == 201, granted.text
    assert await allows(runtime, chat.org_id, chat.contact_id, "marketing")
    assert not await allows(runtime, chat.org_id, chat.contact_id, "analytics")  # one purpose says nothing of another
    assert await _marketing(runtime, chat.org_id, chat.contact_id)

    withdrawn = await client.post(url, json={"purpose": "marketing", "granted": False}, headers=chat.headers)
    assert withdrawn.status_code == 201
    assert not await allows(runtime, chat.org_id, chat.contact_id, "marketing")
    assert not await _marketing(runtime, chat.org_id, chat.contact_id)
    sent = await raw_scalars(runtime, chat.org_id, "SELECT subject FROM outbox WHERE subject = 'Spring menu'")
    assert sent == ["Spring menu"]  # the one email queued while consent stood


async def test_stop_keywords_withdraw_marketing_in_several_languages(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    text_id = await add_text(client, chat, "marketing", "Offers by SMS?")
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    for message, withdraws in (("Stop", True), ("  arrêt ", True), ("UNSUBSCRIBE!", True), ("don't stop", False)):
        await client.post(url, json={"purpose": "marketing", "granted": True, "text_id": text_id}, headers=chat.headers)
        async with unit_of_work(runtime.sessionmaker) as db:
            scope = await platform.system_scope(db, chat.org_id, ACTOR)
            event = await keywords.withdraw_by_keyword(
                db, runtime, scope, contact_id=chat.contact_id, text=message, channel="sms"
            )
        assert (event is not None) is withdraws, message
        assert await allows(runtime, chat.org_id, chat.contact_id, "marketing") is not withdraws, message
    proof = (await client.get(url, headers=chat.headers)).json()
    keyword_events = [e for e in proof["events"] if e["channel"] == "sms"]
    assert keyword_events[0]["evidence"] == {"kind": "keyword", "message": "Stop"}


async def test_texts_are_versioned_and_the_proof_cites_the_exact_text_shown(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    first = await add_text(client, chat, "marketing", "Version one: may we email you?")
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    await client.post(url, json={"purpose": "marketing", "granted": True, "text_id": first}, headers=chat.headers)
    revised = await client.put(
        f"{chat.base}/consent/texts/{first}", json={"body": "Version two: offers weekly."}, headers=chat.headers
    )
    assert revised.status_code == 201 and revised.json()["version"] == 2 and revised.json()["id"] != first
    original = (await client.get(f"{chat.base}/consent/texts/{first}", headers=chat.headers)).json()
    assert original["version"] == 1 and original["body"] == "Version one: may we email you?"
    listed = await client.get(f"{chat.base}/consent/texts", params={"purpose": "marketing"}, headers=chat.headers)
    assert [t["version"] for t in listed.json()] == [1, 2]

    proof = (await client.get(url, headers=chat.headers)).json()
    assert proof["events"][0]["text"]["body"] == "Version one: may we email you?"
    assert proof["current"]["marketing"]["granted"] is True and proof["current"]["analytics"]["granted"] is None
    # A cited version is part of the proof and cannot be deleted; an unused one can.
    assert (await client.delete(f"{chat.base}/consent/texts/{first}", headers=chat.headers)).status_code == 409
    unused = revised.json()["id"]
    assert (await client.delete(f"{chat.base}/consent/texts/{unused}", headers=chat.headers)).status_code == 204
    assert (await client.get(f"{chat.base}/consent/texts/{unused}", headers=chat.headers)).status_code == 404


async def test_the_access_export_holds_the_proof_and_nobody_elses(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    other = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33677777777")
    text_id = await add_text(client, chat, "marketing", "Offers by email — <b>weekly</b>?")
    for contact_id, evidence in ((chat.contact_id, "form-mine"), (other.contact_id, "form-someone-else")):
        response = await client.post(
            f"{chat.base}/contacts/{contact_id}/consents",
            json={"purpose": "marketing", "granted": True, "text_id": text_id, "evidence": {"form": evidence}},
            headers=chat.headers,
        )
        assert response.status_code == 201
    export = await client.get(f"{chat.base}/contacts/{chat.contact_id}/export", headers=chat.headers)
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    consents = json.loads(archive.read("consents.json"))
    assert consents["contact_id"] == chat.contact_id
    assert [(e["purpose"], e["granted"], e["evidence"]) for e in consents["events"]] == [
        ("marketing", True, {"form": "form-mine"})
    ]
    assert consents["events"][0]["text"]["body"] == "Offers by email — <b>weekly</b>?"
    page = archive.read("consents.html").decode()
    assert "&lt;b&gt;weekly&lt;/b&gt;" in page and "<b>weekly" not in page
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"form-someone-else" not in everything and other.contact_id.encode() not in everything


async def test_erasure_keeps_the_proof_pseudonymised(client, runtime: Runtime, settings: Settings):
    chat = await chat_with_email(client, runtime)
    text_id = await add_text(client, chat, "marketing", "Offers?")
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    await client.post(
        url,
        json={"purpose": "marketing", "granted": True, "text_id": text_id, "evidence": {"said": "yes-zoe-42"}},
        headers=chat.headers,
    )
    erased = await client.post(f"{chat.base}/contacts/{chat.contact_id}/erasure", headers=chat.headers)
    assert erased.status_code in (200, 202), erased.text
    rows = await raw_scalars(runtime, chat.org_id, "SELECT contact_id FROM consent_events")
    assert len(rows) == 1 and str(rows[0]).startswith("pse_")  # the proof stays, without the person
    assert await raw_scalars(runtime, chat.org_id, "SELECT text_id FROM consent_events") == [text_id]
    ledger = str((await database_rows(settings))["consent_events"])
    assert chat.contact_id not in ledger  # (the audit log keeps the id of whom it erased, by design)
    assert "yes-zoe-42" not in await database_text(settings)
    assert not await allows(runtime, chat.org_id, chat.contact_id, "marketing")


async def test_validation_errors_use_the_error_envelope(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    marketing_text = await add_text(client, chat, "marketing", "Offers?")
    cases = [
        ({"purpose": "telepathy", "granted": True}, "purpose"),
        ({"purpose": "marketing", "granted": True}, "text_id"),  # a grant must cite the text shown
        ({"purpose": "analytics", "granted": True, "text_id": marketing_text}, "text_id"),  # another purpose's text
        ({"purpose": "marketing", "granted": True, "text_id": "ctx_nope"}, "text_id"),
        ({"purpose": "marketing", "granted": False, "channel": "carrier-pigeon"}, "channel"),
        ({"purpose": "marketing", "granted": "maybe"}, "granted"),
        ({"purpose": "marketing", "granted": False, "extra": 1}, "extra"),
    ]
    for body, field in cases:
        response = await client.post(url, json=body, headers=chat.headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "invalid_request"
        assert any(field in f["location"] for f in response.json()["fields"]), (body, response.json())
    for body in (
        {"purpose": "marketing", "language": "English", "body": "x"},
        {"purpose": "marketing", "language": "en", "body": "   "},
        {"purpose": "nope", "language": "en", "body": "x"},
    ):
        assert (await client.post(f"{chat.base}/consent/texts", json=body, headers=chat.headers)).status_code == 422
    missing = await client.post(
        f"{chat.base}/contacts/con_nope/consents", json={"purpose": "marketing", "granted": False}, headers=chat.headers
    )
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert await raw_scalars(runtime, chat.org_id, "SELECT count(*) FROM consent_events") == [0]


async def test_roles_and_tenants(client, runtime: Runtime):
    chat = await chat_with_email(client, runtime)
    viewer = bearer((await make_token(runtime, chat.org_id, Role.VIEWER))[1])
    agent = bearer((await make_token(runtime, chat.org_id, Role.AGENT))[1])
    body = {"purpose": "marketing", "language": "en", "body": "Offers?"}
    assert (await client.post(f"{chat.base}/consent/texts", json=body, headers=viewer)).status_code == 403
    text_id = await add_text(client, chat, "marketing", "Offers?")
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    grant = {"purpose": "marketing", "granted": True, "text_id": text_id}
    assert (await client.post(url, json=grant, headers=agent)).status_code == 403
    assert (await client.get(url, headers=viewer)).status_code == 403  # personal data: not for viewers
    assert (await client.get(url, headers=agent)).status_code == 200
    # Another organisation: the same contact id grants nothing there, and its text cannot be cited.
    other = await chat_with_email(client, runtime, email="someone@example.com")
    await client.post(url, json=grant, headers=chat.headers)
    assert not await allows(runtime, other.org_id, chat.contact_id, "marketing")
    foreign = await client.post(f"{other.base}/contacts/{other.contact_id}/consents", json=grant, headers=other.headers)
    assert foreign.status_code == 422
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await platform.system_scope(db, other.org_id, ACTOR)
        assert list(await db.scalars(select(OutboxMessage.id))) == []


async def test_voice_processing_needs_its_own_consent(client, runtime: Runtime):
    from parley.consent.service import ConsentRequired, may_process_voice, require_consent

    chat = await chat_with_email(client, runtime)
    url = f"{chat.base}/contacts/{chat.contact_id}/consents"
    recording = await add_text(client, chat, "call_recording", "This call may be recorded. Press 1 to agree.")
    await client.post(
        url,
        json={
            "purpose": "call_recording",
            "granted": True,
            "text_id": recording,
            "channel": "voice",
            "evidence": {"kind": "keypress", "digit": "1"},
        },
        headers=chat.headers,
    )
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, chat.org_id, ACTOR)
        assert not await may_process_voice(db, scope, chat.contact_id)  # recording consent is not AI consent
        try:
            await require_consent(db, scope, chat.contact_id, "ai_voice_processing")
            raise AssertionError("expected ConsentRequired")
        except ConsentRequired as refused:
            assert refused.code == "consent_required"
        await require_consent(db, scope, chat.contact_id, "call_recording")
    voice = await add_text(client, chat, "ai_voice_processing", "An assistant will answer. Say yes to agree.")
    said = {"kind": "utterance", "transcript": "yes"}
    body = {"purpose": "ai_voice_processing", "granted": True, "text_id": voice, "channel": "voice", "evidence": said}
    assert (await client.post(url, json=body, headers=chat.headers)).status_code == 201
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        scope = await platform.system_scope(db, chat.org_id, ACTOR)
        assert await may_process_voice(db, scope, chat.contact_id)


async def test_retention_forgetting_a_person_pseudonymises_their_proof(client, runtime: Runtime, clock):  # type: ignore[no-untyped-def]
    from parley.privacy import retention

    chat = await chat_with_email(client, runtime)
    kept = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33688888888")
    await client.patch(f"{chat.base}/privacy/retention", json={"conversation_retention_days": 30}, headers=chat.headers)
    text_id = await add_text(client, chat, "marketing", "Offers?")
    for contact_id in (chat.contact_id, kept.contact_id):
        await client.post(
            f"{chat.base}/contacts/{contact_id}/consents",
            json={"purpose": "marketing", "granted": True, "text_id": text_id, "evidence": {"said": "oui"}},
            headers=chat.headers,
        )
    clock.advance(days=31)
    async with unit_of_work(runtime.sessionmaker) as db:  # the other person wrote again: they are kept
        await platform.system_scope(db, chat.org_id, ACTOR)
        from sqlalchemy import update as sql_update

        from parley.models import Conversation

        await db.execute(
            sql_update(Conversation)
            .where(Conversation.id == kept.conversation_id)
            .values(last_message_at=clock.now(), created_at=clock.now())
        )
    report = await retention.sweep(runtime)
    assert report.totals.contacts >= 1
    owners = await raw_scalars(runtime, chat.org_id, "SELECT contact_id FROM consent_events ORDER BY contact_id")
    assert kept.contact_id in owners and chat.contact_id not in owners
    assert any(str(o).startswith("pse_") for o in owners)
    assert await allows(runtime, chat.org_id, kept.contact_id, "marketing")
