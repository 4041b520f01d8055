"""Retention deletes on time, checked by moving the injectable clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from typer.testing import CliRunner

from parley import cli
from parley.kit.clock import FrozenClock
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.reconcilers import run_once
from parley.models import AuditEvent, Conversation, UserSession
from parley.privacy import retention
from parley.runtime import Runtime
from parley.settings import Settings
from tests.factories import audit_events, database_text, make_org, make_user, raw_scalars, sign_in
from tests.privacy_support import chat_in, say, start_chat, subject_key_ids

WORDS = "please call me back on my private line, it is ZEBRA-4471"


async def _retention(client, chat, days: int):  # type: ignore[no-untyped-def]
    response = await client.patch(
        f"{chat.base}/privacy/retention", json={"conversation_retention_days": days}, headers=chat.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_conversation_is_gone_one_day_after_its_retention_and_kept_one_day_before(
    client, runtime: Runtime, clock: FrozenClock, settings: Settings
):
    chat = await start_chat(client, runtime)
    await _retention(client, chat, 30)
    await say(runtime, chat, WORDS)
    newer = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33611111111")
    clock.advance(days=2)
    await say(runtime, newer, "When does the kitchen open?")  # its last message is two days younger

    clock.advance(days=29)  # the first conversation is 31 days old (1 past), the second 29 (1 before)
    report = await retention.sweep(runtime)
    assert report.totals.conversations == 1 and report.totals.messages == 2
    remaining = await raw_scalars(runtime, chat.org_id, "SELECT id FROM conversations")
    assert remaining == [newer.conversation_id]
    assert "ZEBRA-4471" not in await database_text(settings)
    # The person has nothing left and has been known for longer than the period: erased, key destroyed.
    assert report.totals.contacts == 1
    assert await subject_key_ids(runtime, chat.org_id) == [newer.contact_id]

    events = await audit_events(client, chat.org_id, chat.headers, action="retention.swept")
    assert events and events[0]["details"]["conversations"] == 1 and events[0]["details"]["contacts"] == 1


async def test_a_person_with_nothing_left_is_erased_with_their_key(client, runtime: Runtime, clock: FrozenClock):
    chat = await start_chat(client, runtime)
    await _retention(client, chat, 30)
    await say(runtime, chat, WORDS)
    clock.advance(days=31)
    report = await retention.sweep(runtime)
    assert report.totals.conversations == 1 and report.totals.contacts == 1
    assert await subject_key_ids(runtime, chat.org_id) == []
    assert await raw_scalars(runtime, chat.org_id, "SELECT value FROM contact_identifiers") == []


async def test_an_agent_may_keep_conversations_for_less_time(client, runtime: Runtime, clock: FrozenClock):
    chat = await start_chat(client, runtime)
    agent_url = f"{chat.base}/agents/{chat.agent.id}"
    updated = await client.patch(agent_url, json={"retention_days": 7}, headers=chat.headers)
    assert updated.status_code == 200, updated.text
    await say(runtime, chat, WORDS)
    clock.advance(days=6)
    assert (await retention.sweep(runtime)).totals.conversations == 0
    clock.advance(days=2)
    assert (await retention.sweep(runtime)).totals.conversations == 1


async def test_the_default_is_twelve_months_and_a_business_may_only_choose_shorter(client, runtime: Runtime):
    chat = await start_chat(client, runtime)
    current = await client.get(f"{chat.base}/privacy/retention", headers=chat.headers)
    assert current.json()["conversation_retention_days"] == 365
    for bad in (0, 366, "a year"):
        response = await client.patch(
            f"{chat.base}/privacy/retention", json={"conversation_retention_days": bad}, headers=chat.headers
        )
        assert response.status_code == 422, response.text
    assert (await _retention(client, chat, 90))["conversation_retention_days"] == 90
    changed = await audit_events(client, chat.org_id, chat.headers, action="retention.changed")
    assert changed[0]["details"] == {"from": 365, "to": 90}


async def test_a_dry_run_counts_and_changes_nothing(client, runtime: Runtime, clock: FrozenClock, tmp_path: Path):
    chat = await start_chat(client, runtime)
    await _retention(client, chat, 30)
    await say(runtime, chat, WORDS)
    clock.advance(days=31)
    report = await retention.sweep(runtime, dry_run=True)
    assert report.dry_run and report.totals.conversations == 1 and report.totals.messages == 2
    assert await raw_scalars(runtime, chat.org_id, "SELECT id FROM conversations") == [chat.conversation_id]
    assert await audit_events(client, chat.org_id, chat.headers, action="retention.swept") == []


async def test_staff_ip_addresses_are_anonymised_after_thirty_days(client, runtime: Runtime, clock: FrozenClock):
    org = await make_org(runtime)
    old = await make_user(runtime, org_id=org.id)
    await sign_in(client, old)  # from 203.0.113.7, the test client's address
    clock.advance(days=2)
    recent = await make_user(runtime, org_id=org.id)
    await sign_in(client, recent)
    clock.advance(days=29)  # the first session is 31 days old, the second 29
    report = await retention.sweep(runtime)
    assert report.totals.ip_addresses == 2  # the older session, and the audit row of that sign-in
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        ips = sorted(await db.scalars(select(UserSession.ip).order_by(UserSession.created_at)))
    assert ips == ["203.0.113.0", "203.0.113.7"]
    assert (await retention.sweep(runtime)).totals.ip_addresses == 0  # idempotent


def test_ip_anonymisation_rules():
    assert retention.anonymise_ip("198.51.100.77") == "198.51.100.0"
    assert retention.anonymise_ip("2001:db8:1234:5678:9abc::1") == "2001:db8:1234::"
    assert retention.anonymise_ip("not an address") is None


async def test_usage_aggregates_are_kept_twenty_four_months(client, runtime: Runtime, clock: FrozenClock):
    chat = await start_chat(client, runtime)
    await say(runtime, chat, "When does the kitchen open?")  # one usage row, for today
    assert await raw_scalars(runtime, chat.org_id, "SELECT count(*) FROM usage_daily") == [1]
    clock.advance(days=700)
    assert (await retention.sweep(runtime)).totals.usage_rows == 0
    clock.advance(days=40)
    assert (await retention.sweep(runtime)).totals.usage_rows == 1


async def test_the_worker_runs_the_sweep(client, runtime: Runtime, clock: FrozenClock):
    chat = await start_chat(client, runtime)
    await _retention(client, chat, 1)
    await say(runtime, chat, WORDS)
    clock.advance(days=2)
    results = await run_once(runtime)
    assert results["privacy.enforce_retention"]["conversations"] == 1


async def test_cli_sweep_dry_run(client, runtime: Runtime, settings: Settings, clock: FrozenClock):
    """`parley privacy sweep --dry-run` against the same database, at the real time: a conversation whose last
    message was long ago shows up as what would go."""
    chat = await start_chat(client, runtime)
    await say(runtime, chat, WORDS)
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", chat.org_id)
        await db.execute(
            update(Conversation)
            .where(Conversation.id == chat.conversation_id)
            .values(last_message_at=datetime.now(UTC) - timedelta(days=400))
        )
    env = {"PARLEY_DATA_DIR": str(settings.data_dir), "PARLEY_MASTER_KEY": settings.master_key.get_secret_value()}
    if not settings.is_sqlite:
        env |= {
            "PARLEY_DATABASE_URL": settings.database_url,
            "PARLEY_DATABASE_OWNER_URL": settings.database_owner_url,
        }
    # In a thread: the command runs its own event loop, as it does from a shell.
    result = await asyncio.to_thread(CliRunner().invoke, cli.app, ["privacy", "sweep", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "would remove: conversations 1, messages 2" in result.output
    assert await raw_scalars(runtime, chat.org_id, "SELECT id FROM conversations") == [chat.conversation_id]


async def test_widget_visitor_ip_addresses_are_anonymised_after_thirty_days(
    client, runtime: Runtime, clock: FrozenClock
):
    chat = await start_chat(client, runtime)
    recent = await chat_in(runtime, chat.base, chat.headers, chat.org_id, chat.agent.id, phone="+33622223333")
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", chat.org_id)
        for conversation_id, ip in ((chat.conversation_id, "198.51.100.77"), (recent.conversation_id, "2001:db8::9")):
            await db.execute(update(Conversation).where(Conversation.id == conversation_id).values(visitor_ip=ip))
    clock.advance(days=31)
    async with unit_of_work(runtime.sessionmaker) as db:  # the second conversation is newer
        await set_pg_setting(db, "app.org_id", chat.org_id)
        await db.execute(
            update(Conversation).where(Conversation.id == recent.conversation_id).values(created_at=clock.now())
        )
    report = await retention.sweep(runtime)
    assert report.by_org[chat.org_id].ip_addresses == 1  # (the totals also count the audit rows' addresses)
    ips = await raw_scalars(runtime, chat.org_id, "SELECT visitor_ip FROM conversations ORDER BY created_at")
    assert ips == ["198.51.100.0", "2001:db8::9"]


async def test_audit_ip_addresses_are_anonymised_after_thirty_days_and_the_chain_holds(
    client, runtime: Runtime, clock: FrozenClock
):
    org = await make_org(runtime)
    email = await make_user(runtime, org_id=org.id, role="owner")
    await sign_in(client, email)  # audited with the client's address, 203.0.113.7
    clock.advance(days=31)
    await retention.sweep(runtime)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await set_pg_setting(db, "app.platform", "on")
        ips = set(await db.scalars(select(AuditEvent.ip).where(AuditEvent.ip.is_not(None))))
    assert ips == {"203.0.113.0"}
    from parley.privacy.verify import verify_platform

    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        result = await verify_platform(db)
    assert result.ok and result.checked >= 1, result
