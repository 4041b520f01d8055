"""Sub-processor changes reach the organisation's owners (GDPR Art. 28(2)).

The list is derived from what is configured (`privacy.notice.subprocessors`), so it changes when someone points an
agent at another provider, or when the operator changes hosting or the mail relay. This reconciler compares the
list with the organisation's last snapshot; on a difference it writes the next snapshot (what was added, removed,
or changed location, purpose or transfer mechanism) and queues one email per owner in the same transaction, so
each change is notified exactly once: the snapshot's `sequence` is unique per organisation, so of two workers
that notice the same change only one commits. The first snapshot of an organisation is its baseline and is not
emailed (the owners set it up themselves).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.kit.ids import new_id
from parley.models import Organization, SubprocessorSnapshot
from parley.outbox.service import enqueue_email
from parley.privacy import audit
from parley.privacy.deletion import owner_emails
from parley.privacy.notice import subprocessors
from parley.runtime import Runtime
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope

FIELDS = ("purpose", "location", "transfer_mechanism")
Entry = dict[str, str]


async def current_entries(db: AsyncSession, runtime: Runtime, scope: OrgScope) -> list[Entry]:
    """The comparable part of each sub-processor (which agents use it is not a change of sub-processor)."""
    return sorted(
        ({"name": p.name, **{f: getattr(p, f) for f in FIELDS}} for p in await subprocessors(db, scope, runtime)),
        key=lambda e: e["name"],
    )


async def latest(db: AsyncSession, scope: OrgScope) -> SubprocessorSnapshot | None:
    found: SubprocessorSnapshot | None = await db.scalar(
        select(SubprocessorSnapshot)
        .where(SubprocessorSnapshot.org_id == scope.org_id)
        .order_by(SubprocessorSnapshot.sequence.desc())
        .limit(1)
    )
    return found


async def history(db: AsyncSession, scope: OrgScope) -> list[SubprocessorSnapshot]:
    return list(
        await db.scalars(
            select(SubprocessorSnapshot)
            .where(SubprocessorSnapshot.org_id == scope.org_id)
            .order_by(SubprocessorSnapshot.sequence)
        )
    )


def differences(before: list[Entry], after: list[Entry]) -> list[dict[str, Any]]:
    old = {e["name"]: e for e in before}
    new = {e["name"]: e for e in after}
    changes: list[dict[str, Any]] = [{"change": "added", **new[n]} for n in sorted(new.keys() - old.keys())]
    changes += [{"change": "removed", **old[n]} for n in sorted(old.keys() - new.keys())]
    for name in sorted(old.keys() & new.keys()):
        for field in FIELDS:
            if old[name][field] != new[name][field]:
                changes.append(
                    {
                        "change": "changed",
                        "name": name,
                        "field": field,
                        "before": old[name][field],
                        "after": new[name][field],
                    }
                )
    return changes


def describe(change: dict[str, Any]) -> str:
    name = change["name"]
    if change["change"] == "changed":
        field = change["field"].replace("_", " ")
        return f"- {name}: {field} changed from {change['before']} to {change['after']}"
    details = "; ".join(str(change[f]) for f in FIELDS)
    return f"- {change['change']}: {name} ({details})"


async def reconcile_subprocessors(runtime: Runtime) -> dict[str, int]:
    """Reconciler `consent.subprocessor_changes`."""
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id).where(Organization.deleted_at.is_(None))))
    counts = {"baselines": 0, "changes": 0, "emails": 0}
    for org_id in org_ids:
        async with unit_of_work(runtime.sessionmaker, write=False) as db:  # most rounds change nothing: read first
            scope = await platform.system_scope(db, org_id, Actor.system())
            last = await latest(db, scope)
            if last is not None and last.entries == await current_entries(db, runtime, scope):
                continue
        try:
            kind, emails = await _record_change(runtime, org_id)
        except IntegrityError:  # another worker recorded this change first
            continue
        if kind:
            counts[kind] += 1
            counts["emails"] += emails
    return counts


async def _record_change(runtime: Runtime, org_id: str) -> tuple[str | None, int]:
    async with unit_of_work(runtime.sessionmaker) as db:
        scope = await platform.system_scope(db, org_id, Actor.system())
        last = await latest(db, scope)
        entries = await current_entries(db, runtime, scope)
        if last is not None and last.entries == entries:
            return None, 0
        changes = differences(last.entries if last else [], entries) if last else []
        snapshot = SubprocessorSnapshot(
            id=new_id("sps"),
            org_id=org_id,
            sequence=(last.sequence if last else 0) + 1,
            entries=entries,
            changes=changes,
            owners_notified=0,
            created_at=runtime.clock.now(),
        )
        db.add(snapshot)
        await db.flush()
        if last is None:
            return "baselines", 0
        org = await db.get(Organization, org_id)
        assert org is not None
        owners = await owner_emails(db, org_id)
        text = (
            f"The sub-processors that may process personal data for {org.name} on Parley have changed:\n\n"
            + "\n".join(describe(c) for c in changes)
            + f"\n\nThe current list: {runtime.settings.effective_public_url}/privacy/{org.slug}/subprocessors\n"
            "You are told because you are an owner of this organisation (GDPR Art. 28(2)). If you object, "
            "change the agents' providers or contact the operator of this installation."
        )
        for email in owners:
            await enqueue_email(
                db,
                runtime.clock,
                org_id=org_id,
                to=email,
                subject=f"Sub-processor change for {org.name}",
                text=text,
                dedupe_key=f"subprocessors/{snapshot.sequence}/{email}",
            )
        snapshot.owners_notified = len(owners)
        await audit.record_in_scope(
            db,
            runtime.clock,
            scope,
            "subprocessors.changed",
            target_type="organization",
            target_id=org_id,
            details={"sequence": snapshot.sequence, "changes": changes, "owners_notified": len(owners)},
        )
        return "changes", len(owners)
