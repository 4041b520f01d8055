"""Email goes out after commit, through a real SMTP server: once, with retries for passing failures, never lost."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from parley.kit.db import unit_of_work
from parley.models import OutboxMessage
from parley.outbox import repository as repo
from parley.outbox.service import enqueue_email
from parley.outbox.tasks import LEASE, deliver_outbox
from parley.runtime import Runtime
from parley.tenancy import platform
from tests.factories import ACTOR, audit_events, bearer, make_org, make_token
from tests.fakes.smtp_server import SMTPServer, free_port


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def use_smtp(runtime: Runtime, port: int, **settings: object) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "mail_from": "Parley <parley@example.com>",
            **settings,
        }
    )


async def enqueue(
    runtime: Runtime,
    org_id: str | None,
    *,
    to: str = "customer@example.net",
    subject: str = "Your booking",
    text: str = "See you on Friday at eight.",
    dedupe_key: str | None = None,
) -> str:
    async with unit_of_work(runtime.sessionmaker) as db:
        if org_id:
            await platform.system_scope(db, org_id, ACTOR)
        message = await enqueue_email(
            db, runtime.clock, org_id=org_id, to=to, subject=subject, text=text, dedupe_key=dedupe_key
        )
    return message.id


async def rows(runtime: Runtime, org_id: str | None) -> dict[str, OutboxMessage]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        await repo.enter(db, org_id)
        query = select(OutboxMessage).where(
            OutboxMessage.org_id.is_(None) if org_id is None else OutboxMessage.org_id == org_id
        )
        return {m.id: m for m in await db.scalars(query)}


async def test_email_is_sent_after_commit_with_its_headers(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    assert smtp.received == []  # nothing is sent by enqueueing
    assert (await deliver_outbox(runtime))["sent"] == 1
    [received] = smtp.received
    assert received.recipients == ["customer@example.net"]
    assert received.mail_from == "parley@example.com"
    email = received.message
    assert email["To"] == "customer@example.net" and email["Subject"] == "Your booking"
    assert email["From"] == "Parley <parley@example.com>"
    assert email["Message-ID"] == f"<{message_id}@example.com>"
    assert email.get_payload(decode=True).decode().strip() == "See you on Friday at eight."
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts, row.settled_at, row.last_error) == ("sent", 1, runtime.clock.now(), None)
    assert (await deliver_outbox(runtime))["sent"] == 0 and len(smtp.received) == 1


async def test_email_enqueued_in_a_rolled_back_transaction_is_never_sent(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    with pytest.raises(RuntimeError):
        async with unit_of_work(runtime.sessionmaker) as db:
            await platform.system_scope(db, org.id, ACTOR)
            await enqueue_email(db, runtime.clock, org_id=org.id, to="a@example.net", subject="s", text="t")
            raise RuntimeError("the change failed")
    await deliver_outbox(runtime)
    assert smtp.received == [] and await rows(runtime, org.id) == {}


async def test_temporary_refusal_is_retried_with_backoff_and_sent_once(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port, outbox_backoff_base_seconds=60)
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    smtp.refuse("451 4.3.0 Mailbox busy, try again later")
    assert (await deliver_outbox(runtime))["retry"] == 1
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and row.last_error.startswith("451")
    assert row.next_attempt_at == runtime.clock.now() + timedelta(seconds=60)
    assert (await deliver_outbox(runtime))["sent"] == 0  # not due yet
    runtime.clock.advance(seconds=61)  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["sent"] == 1
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(smtp.received) == 1


async def test_unreachable_server_is_a_temporary_failure(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, free_port())  # nothing listens there
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    assert (await deliver_outbox(runtime))["retry"] == 1
    row = (await rows(runtime, org.id))[message_id]
    assert row.status == "pending" and "could not reach the mail server" in (row.last_error or "")
    use_smtp(runtime, smtp.port)
    runtime.clock.advance(hours=1)  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["sent"] == 1 and len(smtp.received) == 1


async def test_permanent_refusal_marks_the_email_failed_with_the_reason(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id, to="nobody@example.net")
    smtp.refuse("550 5.1.1 No such user here")
    assert (await deliver_outbox(runtime))["failed"] == 1
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "550 5.1.1 No such user here")
    runtime.clock.advance(days=1)  # type: ignore[attr-defined]
    await deliver_outbox(runtime)
    assert smtp.received == []


async def test_email_fails_after_the_last_allowed_attempt(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port, outbox_max_attempts=3, outbox_backoff_base_seconds=1)
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    smtp.refuse("421 4.7.0 Too many connections", times=5)
    outcomes = []
    for _ in range(4):
        outcomes.append(await deliver_outbox(runtime))
        runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert [(o["retry"], o["failed"]) for o in outcomes] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts) == ("failed", 3) and (row.last_error or "").startswith("421")


async def test_dedupe_key_makes_enqueueing_idempotent_within_a_tenant(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org, other = await make_org(runtime), await make_org(runtime)
    first = await enqueue(runtime, org.id, dedupe_key="booking:42:confirmation")
    again = await enqueue(runtime, org.id, dedupe_key="booking:42:confirmation", text="a second text")
    elsewhere = await enqueue(runtime, other.id, dedupe_key="booking:42:confirmation")
    assert first == again != elsewhere
    assert len(await rows(runtime, org.id)) == 1
    assert (await deliver_outbox(runtime))["sent"] == 2
    assert [r.message.get_payload(decode=True).decode().strip() for r in smtp.received] == [
        "See you on Friday at eight."
    ] * 2


async def test_platform_emails_are_delivered_too(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    message_id = await enqueue(runtime, None, to="staff@example.org", subject="Your account")
    first = await enqueue(runtime, None, to="staff@example.org", dedupe_key="user:1:welcome")
    assert await enqueue(runtime, None, to="staff@example.org", dedupe_key="user:1:welcome") == first
    assert (await deliver_outbox(runtime))["sent"] == 2
    assert smtp.received[0].message["Message-ID"] == f"<{message_id}@example.com>"
    assert (await rows(runtime, None))[message_id].status == "sent"


async def test_without_smtp_emails_wait_with_a_note_and_go_out_once_configured(
    runtime: Runtime, smtp: SMTPServer, caplog: pytest.LogCaptureFixture
):
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    for _ in range(2):
        assert (await deliver_outbox(runtime))["waiting"] == 1
    assert "no SMTP server is configured" in caplog.text
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts) == ("pending", 0) and "PARLEY_SMTP_HOST" in (row.last_error or "")
    runtime.clock.advance(days=60)  # type: ignore[attr-defined]  (waiting is not a retention clock)
    use_smtp(runtime, smtp.port)
    assert (await deliver_outbox(runtime))["sent"] == 1 and len(smtp.received) == 1


async def test_settled_emails_are_purged_after_the_retention_period(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port, outbox_retention_days=30)
    org = await make_org(runtime)
    sent = await enqueue(runtime, org.id)
    failed = await enqueue(runtime, org.id, to="nobody@example.net")
    smtp.refuse("550 5.1.1 No such user here")  # the first RCPT is the oldest row's: order the two
    await deliver_outbox(runtime)
    statuses = {m.id: m.status for m in (await rows(runtime, org.id)).values()}
    assert sorted(statuses.values()) == ["failed", "sent"] and set(statuses) == {sent, failed}
    runtime.clock.advance(days=29)  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["purged"] == 0
    runtime.clock.advance(days=2)  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["purged"] == 2
    assert await rows(runtime, org.id) == {}


async def test_a_claim_whose_worker_died_is_retried_after_the_lease(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    message_id = await enqueue(runtime, org.id)
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker) as db:  # a worker claims, then dies before sending
        await repo.enter(db, org.id)
        assert len(await repo.claim_due(db, org.id, now=now, lease_until=now + LEASE, token="clm_dead", limit=10)) == 1
    assert (await deliver_outbox(runtime))["sent"] == 0
    runtime.clock.advance(seconds=LEASE.total_seconds() + 1)  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["sent"] == 1
    row = (await rows(runtime, org.id))[message_id]
    assert (row.status, row.attempts) == ("sent", 2) and len(smtp.received) == 1


async def test_a_worker_does_not_start_a_send_its_lease_may_not_cover(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    ids = [await enqueue(runtime, org.id, to=f"c{n}@example.net") for n in range(3)]
    smtp.on_data(lambda: runtime.clock.advance(minutes=4))  # type: ignore[attr-defined]  (a very slow server)
    assert (await deliver_outbox(runtime))["sent"] == 1  # then less of the lease is left than a send may take
    assert (await deliver_outbox(runtime))["sent"] == 0  # the other two are still leased to that run
    smtp.on_data(lambda: None)
    runtime.clock.advance(seconds=LEASE.total_seconds())  # type: ignore[attr-defined]
    assert (await deliver_outbox(runtime))["sent"] == 2
    assert sorted(r.message["Message-ID"] for r in smtp.received) == sorted(f"<{i}@example.com>" for i in ids)


async def test_concurrent_workers_send_each_email_exactly_once(runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    orgs = [await make_org(runtime) for _ in range(2)]
    ids = {await enqueue(runtime, org.id, to=f"c{n}@example.net") for n in range(25) for org in orgs}
    results = await asyncio.gather(*(deliver_outbox(runtime) for _ in range(4)))
    assert sum(r["sent"] for r in results) == len(ids) == 50
    message_ids = [r.message["Message-ID"] for r in smtp.received]
    assert sorted(message_ids) == sorted(f"<{i}@example.com>" for i in ids)


async def test_admins_read_the_outbox_and_each_read_is_audited(client, runtime: Runtime, smtp: SMTPServer):
    use_smtp(runtime, smtp.port)
    org = await make_org(runtime)
    waiting = await enqueue(runtime, org.id, to="later@example.net")
    smtp.refuse("550 5.1.1 No such user here")
    await deliver_outbox(runtime)
    admin = bearer((await make_token(runtime, org.id, "admin"))[1])
    viewer = bearer((await make_token(runtime, org.id, "viewer"))[1])
    response = await client.get(f"/api/v1/orgs/{org.id}/outbox", headers=admin)
    assert response.status_code == 200, response.text
    [message] = response.json()["messages"]
    assert message["id"] == waiting and message["to_address"] == "later@example.net"
    assert (message["status"], message["attempts"], message["last_error"]) == (
        "failed",
        1,
        "550 5.1.1 No such user here",
    )
    assert "body_text" not in message
    assert (await client.get(f"/api/v1/orgs/{org.id}/outbox", headers=viewer)).status_code == 403
    [read] = await audit_events(client, org.id, admin, action="outbox.read")
    assert read["details"]["messages"] == [waiting] and read["actor_type"] == "token"
