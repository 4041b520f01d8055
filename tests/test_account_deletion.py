"""Account deletion: 30 days to change one's mind, then every trace gone and the keys destroyed."""

from __future__ import annotations

import httpx

from parley.kit.clock import FrozenClock
from parley.kit.reconcilers import run_once
from parley.privacy import deletion
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy.permissions import Role
from tests.factories import bearer, database_text, make_org, make_token, make_user, sign_in
from tests.privacy_support import keystore_rows, say, start_chat, subject_key_ids, wrapped_keys

MESSAGE = "I am allergic to peanuts, my name is Zoé Kowalczyk"
PHONE = "+33612345678"
INVITEE = "future.colleague@example.com"
PROVIDER_SECRET = "sk-provider-secret-0123456789"
RECIPE = "Our house secret: a saffron and cardamom sorbet, churned every morning."


async def _populated(client: httpx.AsyncClient, runtime: Runtime):  # type: ignore[no-untyped-def]
    """An organisation with a bit of everything: documents (a file on disk), an agent, a provider credential,
    a conversation with a named person, an invitation, API tokens."""
    chat = await start_chat(client, runtime, phone=PHONE)
    await say(runtime, chat, MESSAGE)
    kb_id = (await client.get(f"{chat.base}/knowledge-bases", headers=chat.headers)).json()[0]["id"]
    uploaded = await client.post(
        f"{chat.base}/knowledge-bases/{kb_id}/documents",
        files={"file": ("recipe.md", f"# Desserts\n{RECIPE}\n".encode(), "text/markdown")},
        headers=chat.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    await run_once(runtime)  # ingested: its text is in chunks and in the keyword index
    invited = await client.post(
        f"{chat.base}/invitations", json={"email": INVITEE, "role": "agent"}, headers=chat.headers
    )
    assert invited.status_code == 201, invited.text
    credential = await client.post(
        f"{chat.base}/provider-credentials",
        json={"name": "Key", "provider": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": PROVIDER_SECRET},
        headers=chat.headers,
    )
    assert credential.status_code == 201, credential.text
    return chat


async def test_an_owner_asks_and_has_thirty_days_during_which_everything_works(
    client, runtime: Runtime, clock: FrozenClock
):
    org = await make_org(runtime)
    owner = bearer((await make_token(runtime, org.id, Role.OWNER))[1])
    admin = bearer((await make_token(runtime, org.id, Role.ADMIN))[1])
    base = f"/api/v1/orgs/{org.id}"

    assert (await client.post(f"{base}/deletion", headers=admin)).status_code == 403
    asked = await client.post(f"{base}/deletion", headers=owner)
    assert asked.status_code == 202, asked.text
    assert asked.json()["days_left"] == 30 and asked.json()["pending"] is True

    clock.advance(days=29)
    await run_once(runtime)
    shown = (await client.get(base, headers=admin)).json()
    assert shown["deletion_due_at"] == asked.json()["due_at"]  # what the countdown banner reads
    status = (await client.get(f"{base}/deletion", headers=admin)).json()
    assert status["days_left"] == 1
    assert (await client.get(f"{base}/members", headers=admin)).status_code == 200


async def test_a_deletion_cancelled_on_day_29_leaves_everything_intact(
    client, runtime: Runtime, clock: FrozenClock, settings: Settings
):
    chat = await _populated(client, runtime)
    assert (await client.post(f"{chat.base}/deletion", headers=chat.headers)).status_code == 202
    clock.advance(days=29)
    cancelled = await client.delete(f"{chat.base}/deletion", headers=chat.headers)
    assert cancelled.status_code == 200 and cancelled.json()["pending"] is False
    clock.advance(days=5)
    assert (await run_once(runtime))["privacy.delete_due_accounts"]["organizations"] == 0
    transcript = await client.get(f"{chat.base}/conversations/{chat.conversation_id}", headers=chat.headers)
    assert transcript.status_code == 200 and transcript.json()["messages"][0]["body"] == MESSAGE
    actions = [e["action"] for e in (await client.get(f"{chat.base}/audit", headers=chat.headers)).json()["events"]]
    assert "organization.deletion_requested" in actions and "organization.deletion_cancelled" in actions


async def test_thirty_days_later_every_trace_is_gone_and_the_keys_are_destroyed(
    client, runtime: Runtime, clock: FrozenClock, settings: Settings
):
    chat = await _populated(client, runtime)
    survivor = await start_chat(client, runtime, phone="+33700000000")  # another business, untouched
    await say(runtime, survivor, "When does the kitchen open?")
    files = settings.data_dir / "files" / chat.org_id
    assert any(files.iterdir())
    assert (await client.post(f"{chat.base}/deletion", headers=chat.headers)).status_code == 202
    destroyed_keys = await wrapped_keys(runtime, chat.org_id)  # as stored: wrapped by the master/org key
    assert len(destroyed_keys) == 2

    clock.advance(days=30, seconds=1)
    assert (await run_once(runtime))["privacy.delete_due_accounts"]["organizations"] == 1

    # Nothing of the organisation answers any more: its tokens are gone.
    assert (await client.get(chat.base, headers=chat.headers)).status_code == 401
    # Nothing of it is left in plaintext, in the database or on disk.
    dump = await database_text(settings)
    for trace in (MESSAGE, "Kowalczyk", PHONE, INVITEE, PROVIDER_SECRET, "saffron and cardamom"):
        assert trace not in dump, trace
    assert not files.exists()
    on_disk = b"".join(p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file() and "keys" not in p.name)
    for trace in (MESSAGE, PHONE, INVITEE, "saffron and cardamom"):
        assert trace.encode() not in on_disk, trace
    # Its keys are destroyed; the other organisation keeps its own.
    assert await subject_key_ids(runtime, chat.org_id) == []
    assert await subject_key_ids(runtime, survivor.org_id) == [survivor.contact_id]
    assert await keystore_rows(settings) == 2  # the survivor's organisation key and person key
    if settings.is_sqlite:  # destroyed keys are not left in the key store's free pages or log either
        keystore_disk = b"".join(p.read_bytes() for p in settings.data_dir.glob("keys.db*"))
        for key in destroyed_keys:
            assert key not in keystore_disk
    # Only a tombstone row and the audit trail (ids only) remain.
    assert "Deleted organisation" in dump
    # Running again does nothing more (idempotent).
    assert (await run_once(runtime))["privacy.delete_due_accounts"]["organizations"] == 0


async def test_a_staff_member_deletes_their_account_with_the_same_grace(
    client, runtime: Runtime, clock: FrozenClock, settings: Settings
):
    org = await make_org(runtime)
    email = await make_user(runtime, org_id=org.id, role=Role.ADMIN, name="Ada Leaving")
    csrf = await sign_in(client, email)
    asked = await client.post("/api/v1/me/deletion", headers=csrf)
    assert asked.status_code == 202, asked.text
    clock.advance(days=10)
    assert (await client.get("/api/v1/me/deletion")).json()["days_left"] == 20
    clock.advance(days=20, seconds=1)
    assert (await run_once(runtime))["privacy.delete_due_accounts"]["users"] == 1
    assert "Ada Leaving" not in await database_text(settings)
    refused = await client.post("/api/v1/auth/login", json={"email": email, "password": "whatever it was"})
    assert refused.status_code == 401


async def test_the_only_owner_cannot_delete_their_account(client, runtime: Runtime):
    org = await make_org(runtime)
    csrf = await sign_in(client, org.owner_email)
    refused = await client.post("/api/v1/me/deletion", headers=csrf)
    assert refused.status_code == 409 and refused.json()["error"] == "sole_owner"


async def test_a_cancelled_account_deletion_keeps_the_account(client, runtime: Runtime, clock: FrozenClock):
    org = await make_org(runtime)
    email = await make_user(runtime, org_id=org.id, role=Role.AGENT)
    csrf = await sign_in(client, email)
    assert (await client.post("/api/v1/me/deletion", headers=csrf)).status_code == 202
    clock.advance(days=29)
    csrf = await sign_in(client, email)  # the browser session has expired meanwhile; signing in still works
    cancelled = await client.delete("/api/v1/me/deletion", headers=csrf)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["pending"] is False
    clock.advance(days=2)
    assert (await run_once(runtime))["privacy.delete_due_accounts"]["users"] == 0
    assert (await client.get("/api/v1/auth/me")).status_code == 200


async def test_grace_left_is_never_negative():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert deletion.grace_left(now - timedelta(days=1), now) == timedelta(0)
    assert deletion.grace_left(None, now) is None


async def _outbox(settings: Settings) -> list[tuple[str, str]]:
    """(recipient, subject) of every e-mail queued, read as the owner (platform rows included)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(settings.effective_owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT to_address, subject FROM outbox ORDER BY created_at, id"))
            return [(str(r[0]), str(r[1])) for r in rows]
    finally:
        await engine.dispose()


async def test_owners_are_emailed_when_deletion_is_asked_cancelled_and_done(
    client, runtime: Runtime, clock: FrozenClock, settings: Settings
):
    org = await make_org(runtime, "Mailed Bistro")
    owner = bearer((await make_token(runtime, org.id, Role.OWNER))[1])
    base = f"/api/v1/orgs/{org.id}"
    await client.post(f"{base}/deletion", headers=owner)
    await client.delete(f"{base}/deletion", headers=owner)
    await client.post(f"{base}/deletion", headers=owner)
    clock.advance(days=31)
    await run_once(runtime)
    subjects = [s for to, s in await _outbox(settings) if to == org.owner_email]
    assert subjects[0].startswith("Mailed Bistro will be deleted on")
    assert subjects[1] == "The deletion of Mailed Bistro was cancelled"
    assert subjects[2].startswith("Mailed Bistro will be deleted on")
    assert subjects[3] == "Mailed Bistro has been deleted"
