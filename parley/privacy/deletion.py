"""Account deletion with a 30-day grace: organisations (asked by an owner) and staff accounts (asked by the person).

During the grace everything keeps working (the organisation's API shows `deletion_due_at`, which the dashboard
turns into a countdown banner) and the request can be cancelled. When it is due, the worker carries it out:

Organisation: (1) its key and every person key under it are destroyed in the key store — from that moment every
sealed record of the organisation, in the database, in files and in any backup, is unreadable; (2) its files are
removed from disk; (3) every tenant row is deleted (messages in batches, then the rest); (4) the organisation row
stays as a tombstone (name and slug replaced) because audit rows, kept for their own period, point at it. Steps
are idempotent: a worker that dies half-way leaves work the next run finishes.

Staff account: sessions, memberships and the account row go; what they did stays in the audit log by id. A person
who is the only owner of an organisation cannot be deleted (the organisation would be left without an owner): the
request is refused, and re-checked when due.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.context import Actor
from parley.kit.db import set_pg_setting, unit_of_work
from parley.kit.errors import Conflict
from parley.models import Membership, Message, Organization, User
from parley.outbox.service import enqueue_email
from parley.privacy import audit
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope

GRACE = timedelta(days=30)
BATCH = 5_000
# Kept: the audit trail (for its period; ids only, no content) and the breach register (a legal record).
KEPT_ON_DELETION = frozenset({"audit_events", "breach_organizations"})


# --- organisations ----------------------------------------------------------------------------------------------


async def request_org_deletion(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> Organization:
    org = await _org(db, scope.org_id)
    if org.deletion_due_at is None:
        now = runtime.clock.now()
        org.deletion_requested_at = now
        org.deletion_requested_by = scope.actor.user_id
        org.deletion_due_at = now + GRACE
        await audit.record_in_scope(
            db, runtime.clock, scope, "organization.deletion_requested", details={"due_at": org.deletion_due_at}
        )
        due = org.deletion_due_at.date().isoformat()
        await _tell_owners(
            db,
            runtime,
            org,
            f"{org.name} will be deleted on {due}",
            f"An owner asked to delete {org.name} on Parley. Everything keeps working until {due}; until then any "
            "owner can cancel. After that date every conversation, contact, document, file and key of the "
            "organisation is removed for good.",
        )
        await db.flush()
    return org


async def cancel_org_deletion(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> Organization:
    org = await _org(db, scope.org_id)
    if org.deletion_due_at is not None:
        await audit.record_in_scope(
            db, runtime.clock, scope, "organization.deletion_cancelled", details={"was_due_at": org.deletion_due_at}
        )
        org.deletion_requested_at = org.deletion_requested_by = org.deletion_due_at = None
        await _tell_owners(
            db,
            runtime,
            org,
            f"The deletion of {org.name} was cancelled",
            f"The deletion of {org.name} on Parley was cancelled; nothing was removed.",
        )
        await db.flush()
    return org


async def owner_emails(db: AsyncSession, org_id: str) -> list[str]:
    await set_pg_setting(db, "app.org_id", org_id)
    return list(
        await db.scalars(
            select(User.email)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == "owner")
            .order_by(User.email)
        )
    )


async def _tell_owners(
    db: AsyncSession, runtime: Runtime, org: Organization, subject: str, text: str, key: str | None = None
) -> None:
    """Platform e-mails (not the organisation's own outbox rows, which its deletion removes). `key` makes a
    notice that a re-run could repeat (the deletion itself) go out once."""
    for email in await owner_emails(db, org.id):
        dedupe = f"{key}/{email}" if key else None
        await enqueue_email(db, runtime.clock, org_id=None, to=email, subject=subject, text=text, dedupe_key=dedupe)


async def _org(db: AsyncSession, org_id: str) -> Organization:
    org = await db.get(Organization, org_id)
    assert org is not None, "a scope is only minted for an existing organisation"
    return org


async def delete_due_organizations(runtime: Runtime) -> dict[str, int]:
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        due = list(
            await db.scalars(
                select(Organization.id).where(Organization.deletion_due_at <= now, Organization.deleted_at.is_(None))
            )
        )
    for org_id in due:
        await delete_organization_now(runtime, org_id)
    return {"organizations": len(due)}


async def delete_organization_now(runtime: Runtime, org_id: str) -> None:
    """Carries out a due deletion (also the body of the reconciler; callable again after a crash)."""
    from parley.kit.db import Base

    async with unit_of_work(runtime.sessionmaker) as db:  # owners are told before their memberships go
        org = await db.get(Organization, org_id)
        if org is not None and org.deleted_at is None:
            await _tell_owners(
                db,
                runtime,
                org,
                f"{org.name} has been deleted",
                f"As requested, {org.name} and everything it held on Parley have been deleted. Its encryption keys "
                "were destroyed, so no copy, backups included, can be read again.",
                f"org-deleted/{org_id}",
            )
    await runtime.keystore.destroy_organization(org_id)  # first: from here on nothing of it can be read
    shutil.rmtree(runtime.settings.data_dir / "files" / org_id, ignore_errors=True)
    await _delete_messages_in_batches(runtime, org_id)
    async with unit_of_work(runtime.sessionmaker) as db:
        await set_pg_setting(db, "app.org_id", org_id)
        tenant_tables = [
            t
            for t in reversed(Base.metadata.sorted_tables)
            if "org_id" in t.c and t.name not in KEPT_ON_DELETION and t.name != "organizations"
        ]
        removed = 0
        for table in tenant_tables:
            result = await db.execute(delete(table).where(table.c.org_id == org_id))
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        now = runtime.clock.now()
        await db.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(name="Deleted organisation", slug=f"deleted-{org_id.lower()}", deleted_at=now)
        )
        await audit.record(
            db,
            runtime.clock,
            actor=Actor.system(),
            action="organization.deleted",
            org_id=org_id,
            target_type="organization",
            target_id=org_id,
            details={"rows_removed": removed},
        )
    await runtime.scrub_deleted()


async def _delete_messages_in_batches(runtime: Runtime, org_id: str) -> None:
    """The largest table first, in bounded transactions, so deleting a big organisation never holds one
    enormous transaction (or SQLite's write lock) for long."""
    while True:
        async with unit_of_work(runtime.sessionmaker) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            ids = list(await db.scalars(select(Message.id).where(Message.org_id == org_id).limit(BATCH)))
            if ids:
                await db.execute(delete(Message).where(Message.id.in_(ids)))
        if len(ids) < BATCH:
            return


# --- staff accounts ---------------------------------------------------------------------------------------------


async def request_user_deletion(db: AsyncSession, runtime: Runtime, user: User, actor: Actor) -> User:
    await _refuse_if_sole_owner(db, user)
    if user.deletion_due_at is None:
        now = runtime.clock.now()
        user.deletion_requested_at = now
        user.deletion_due_at = now + GRACE
        await audit.record(
            db,
            runtime.clock,
            actor=actor,
            action="user.deletion_requested",
            org_id=None,
            target_type="user",
            target_id=user.id,
            details={"due_at": user.deletion_due_at},
        )
        due = user.deletion_due_at.date().isoformat()
        await enqueue_email(
            db,
            runtime.clock,
            org_id=None,
            to=user.email,
            subject=f"Your Parley account will be deleted on {due}",
            text=f"You asked to delete your Parley account. You can still sign in and cancel until {due}.",
        )
        await db.flush()
    return user


async def cancel_user_deletion(db: AsyncSession, runtime: Runtime, user: User, actor: Actor) -> User:
    if user.deletion_due_at is not None:
        user.deletion_requested_at = user.deletion_due_at = None
        await audit.record(
            db, runtime.clock, actor=actor, action="user.deletion_cancelled", org_id=None, target_type="user",
            target_id=user.id,
        )  # fmt: skip
        await db.flush()
    return user


async def _sole_owner_of(db: AsyncSession, user_id: str) -> list[str]:
    """Organisations (not deleted) where this user is the only owner."""
    await set_pg_setting(db, "app.user_id", user_id)
    owned = list(
        await db.scalars(
            select(Membership.org_id)
            .join(Organization, Organization.id == Membership.org_id)
            .where(Membership.user_id == user_id, Membership.role == "owner", Organization.deleted_at.is_(None))
        )
    )
    sole: list[str] = []
    for org_id in owned:
        await set_pg_setting(db, "app.org_id", org_id)
        owners = await db.scalar(
            select(func.count()).select_from(Membership).where(Membership.org_id == org_id, Membership.role == "owner")
        )
        if owners == 1:
            sole.append(org_id)
    return sole


async def _refuse_if_sole_owner(db: AsyncSession, user: User) -> None:
    sole = await _sole_owner_of(db, user.id)
    if sole:
        raise Conflict(
            "you are the only owner of "
            + ", ".join(sole)
            + ": make someone else an owner, or delete the organisation, before deleting your account",
            code="sole_owner",
        )


async def delete_due_users(runtime: Runtime) -> dict[str, int]:
    now = runtime.clock.now()
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        due = list(await db.scalars(select(User.id).where(User.deletion_due_at <= now)))
    deleted = blocked = 0
    for user_id in due:
        async with unit_of_work(runtime.sessionmaker) as db:
            if await _sole_owner_of(db, user_id):
                blocked += 1  # became the only owner during the grace: stays pending, visible in the audit log
                continue
            memberships = list(await db.scalars(select(Membership.org_id).where(Membership.user_id == user_id)))
            for org_id in memberships:  # tenant rows: PostgreSQL wants the tenant set to delete them
                await set_pg_setting(db, "app.org_id", org_id)
                await db.execute(delete(Membership).where(Membership.org_id == org_id, Membership.user_id == user_id))
            email = await db.scalar(select(User.email).where(User.id == user_id))
            await db.execute(delete(User).where(User.id == user_id))
            if email:  # the last message to the address; the outbox forgets it after its retention period
                await enqueue_email(
                    db,
                    runtime.clock,
                    org_id=None,
                    to=email,
                    subject="Your Parley account has been deleted",
                    text="As you asked, your Parley account has been deleted.",
                    dedupe_key=f"user-deleted/{user_id}",
                )
            await audit.record(
                db, runtime.clock, actor=Actor.system(), action="user.deleted", org_id=None, target_type="user",
                target_id=user_id,
            )  # fmt: skip
            deleted += 1
    if deleted:
        await runtime.scrub_deleted()
    return {"users": deleted, "blocked": blocked}


def grace_left(due_at: datetime | None, now: datetime) -> timedelta | None:
    return None if due_at is None else max(due_at - now, timedelta(0))
