"""The breach register (GDPR Art. 33(5)): record, assess who is affected, draft the notifications, record them.

Who is affected is computed, not guessed: when a staff account or API token is believed misused, the audit log
says which people's data it read or exported during the window (conversation reads name their contact, exports
and erasures target it), organisation by organisation. Without a suspect, the organisations named are affected
with every person they hold. The authority must be told within 72 hours of detection (Art. 33(1)); affected
organisations are told without undue delay (Art. 33(2), the platform being their processor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.context import Actor
from parley.kit.db import set_pg_setting
from parley.kit.errors import NotFound
from parley.kit.ids import new_id
from parley.models import AuditEvent, Breach, BreachOrganization, Contact, Organization
from parley.outbox.service import enqueue_email
from parley.privacy import audit
from parley.privacy.deletion import owner_emails
from parley.runtime import Runtime

NOTIFY_AUTHORITY_WITHIN = timedelta(hours=72)


@dataclass(frozen=True)
class Assessment:
    breach: Breach
    organizations: list[tuple[BreachOrganization, str]]  # (row, organisation name)
    deadline: datetime
    overdue: bool

    @property
    def people_affected(self) -> int:
        return sum(row.people_affected for row, _ in self.organizations)


async def record(
    db: AsyncSession,
    runtime: Runtime,
    actor: Actor,
    *,
    title: str,
    description: str,
    measures: str,
    detected_at: datetime,
    window_start: datetime,
    window_end: datetime,
    compromised_actor_id: str | None,
    org_ids: list[str],
) -> Breach:
    await set_pg_setting(db, "app.platform", "on")
    breach = Breach(
        id=new_id("brc"),
        title=title,
        description=description,
        measures=measures,
        detected_at=detected_at,
        window_start=window_start,
        window_end=window_end,
        compromised_actor_id=compromised_actor_id,
        created_at=runtime.clock.now(),
    )
    db.add(breach)
    await db.flush()
    affected = await _affected(db, breach, org_ids)
    for org_id, people in affected.items():
        db.add(BreachOrganization(id=new_id("bro"), breach_id=breach.id, org_id=org_id, people_affected=people))
    await audit.record(
        db,
        runtime.clock,
        actor=actor,
        action="breach.recorded",
        org_id=None,
        target_type="breach",
        target_id=breach.id,
        details={"organizations": len(affected), "people": sum(affected.values())},
    )
    await db.flush()
    return breach


async def _affected(db: AsyncSession, breach: Breach, org_ids: list[str]) -> dict[str, int]:
    live = select(Organization.id).where(Organization.deleted_at.is_(None))
    if breach.compromised_actor_id is None:
        named = list(await db.scalars(live.where(Organization.id.in_(org_ids))))
        counts = {}
        for org_id in named:
            await set_pg_setting(db, "app.org_id", org_id)
            counts[org_id] = int(
                await db.scalar(select(func.count()).select_from(Contact).where(Contact.org_id == org_id)) or 0
            )
        return counts
    counts = {}
    for org_id in await db.scalars(live):
        await set_pg_setting(db, "app.org_id", org_id)
        events = list(
            await db.scalars(
                select(AuditEvent).where(
                    AuditEvent.org_id == org_id,
                    AuditEvent.actor_id == breach.compromised_actor_id,
                    AuditEvent.occurred_at >= breach.window_start,
                    AuditEvent.occurred_at <= breach.window_end,
                    or_(AuditEvent.target_type == "contact", AuditEvent.action == "conversation.read"),
                )
            )
        )
        people = {e.target_id if e.target_type == "contact" else e.details.get("contact_id") for e in events}
        people.discard(None)
        if events:
            counts[org_id] = len(people)
    return counts


async def assessment(db: AsyncSession, runtime: Runtime, breach_id: str) -> Assessment:
    await set_pg_setting(db, "app.platform", "on")
    breach = await db.get(Breach, breach_id)
    if breach is None:
        raise NotFound("breach not found")
    rows = list(
        await db.execute(
            select(BreachOrganization, Organization.name)
            .join(Organization, Organization.id == BreachOrganization.org_id)
            .where(BreachOrganization.breach_id == breach_id)
            .order_by(Organization.name)
        )
    )
    deadline = breach.detected_at + NOTIFY_AUTHORITY_WITHIN
    overdue = breach.authority_notified_at is None and runtime.clock.now() > deadline
    return Assessment(breach, [(row, name) for row, name in rows], deadline, overdue)


def drafts(found: Assessment) -> dict[str, str]:
    """Notification drafts with what Art. 33(3) and 34(2) require; the operator edits and sends them."""
    b = found.breach
    orgs = ", ".join(name for _, name in found.organizations) or "none identified yet"
    window = f"between {b.window_start.isoformat()} and {b.window_end.isoformat()}"
    authority = (
        f"Notification of a personal data breach\n\nNature: {b.title}. {b.description}\n"
        f"When: {window}; detected {b.detected_at.isoformat()}.\n"
        f"Controllers concerned: {orgs}.\n"
        f"Data subjects concerned: about {found.people_affected}; categories of data: contact identifiers and "
        "conversation content.\n"
        f"Likely consequences and measures taken or proposed: {b.measures or 'to be completed'}.\n"
        "Contact point: the platform's data protection contact.\n"
    )
    people = (
        f"We are writing to tell you about an incident that may concern your data. {b.description}\n"
        f"It happened {window}. What we have done: {b.measures or 'to be completed'}.\n"
        "You can ask us for a copy of your data, or for its erasure, at any time.\n"
    )
    return {"authority": authority, "people": people}


async def mark_authority_notified(db: AsyncSession, runtime: Runtime, actor: Actor, breach_id: str) -> Breach:
    found = await assessment(db, runtime, breach_id)
    if found.breach.authority_notified_at is None:
        found.breach.authority_notified_at = runtime.clock.now()
        await audit.record(
            db, runtime.clock, actor=actor, action="breach.authority_notified", org_id=None, target_type="breach",
            target_id=breach_id, details={"late": found.overdue},
        )  # fmt: skip
    return found.breach


async def mark_organizations_notified(db: AsyncSession, runtime: Runtime, actor: Actor, breach_id: str) -> int:
    found = await assessment(db, runtime, breach_id)
    told = 0
    for row, _ in found.organizations:
        if row.notified_at is None:
            row.notified_at = runtime.clock.now()
            told += 1
            await set_pg_setting(db, "app.org_id", row.org_id)  # the row goes into that organisation's audit log
            for email in await owner_emails(db, row.org_id):
                await enqueue_email(
                    db,
                    runtime.clock,
                    org_id=row.org_id,
                    to=email,
                    subject=f"Personal data breach notice: {found.breach.title}",
                    text=_organization_notice(found, row.people_affected),
                    dedupe_key=f"breach/{breach_id}/{email}",
                )
            await audit.record(
                db, runtime.clock, actor=actor, action="breach.organization_notified", org_id=row.org_id,
                target_type="breach", target_id=breach_id, details={"people": row.people_affected},
            )  # fmt: skip
    return told


def _organization_notice(found: Assessment, people: int) -> str:
    b = found.breach
    return (
        f"As your processor we are informing you of a personal data breach (GDPR Art. 33(2)).\n\n{b.description}\n"
        f"Window: {b.window_start.isoformat()} to {b.window_end.isoformat()}; detected {b.detected_at.isoformat()}.\n"
        f"People of your organisation concerned: {people}.\nMeasures: {b.measures or 'to be completed'}.\n"
        "The breach is listed with its details under /breaches in your organisation's API. You may have to notify "
        "your supervisory authority within 72 hours and the people concerned; a draft for them is:\n\n"
        + drafts(found)["people"]
    )


async def for_organization(db: AsyncSession, org_id: str) -> list[dict[str, Any]]:
    """The breaches an organisation has been told about."""
    rows = await db.execute(
        select(Breach, BreachOrganization)
        .join(BreachOrganization, BreachOrganization.breach_id == Breach.id)
        .where(BreachOrganization.org_id == org_id, BreachOrganization.notified_at.is_not(None))
        .order_by(Breach.detected_at.desc())
    )
    return [
        {
            "id": b.id,
            "title": b.title,
            "description": b.description,
            "measures": b.measures,
            "detected_at": b.detected_at,
            "people_affected": o.people_affected,
            "notified_at": o.notified_at,
        }
        for b, o in rows
    ]
