"""Reconcilers for data-subject requests.

`flag_deadlines`: every open request's deadline (the extended one if any) is compared with now; a request due
within 7 days is flagged `soon`, one past it `overdue`. When the flag changes, the change is recorded in the
request's history and the organisation's owners and admins are e-mailed — once per change, since the e-mail's
dedupe key names the request and the flag, and a flag that did not change sends nothing.

`delete_expired_exports`: access ZIPs are deleted when their link expires.
"""

from __future__ import annotations

from sqlalchemy import select

from parley.kit.context import Actor
from parley.kit.db import unit_of_work
from parley.models import Organization
from parley.outbox.service import enqueue_email
from parley.rights import repository as repo
from parley.rights.deadlines import flag_for
from parley.rights.service import record_step
from parley.runtime import Runtime
from parley.tenancy import repository as tenancy_repo
from parley.tenancy.permissions import Role
from parley.tenancy.platform import system_scope
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

ACTOR = Actor.system()


async def _scopes(runtime: Runtime) -> list[OrgScope]:
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
        return [await system_scope(db, org_id, ACTOR) for org_id in org_ids]


async def flag_deadlines(runtime: Runtime) -> dict[str, int]:
    counts = {"soon": 0, "overdue": 0}
    now = runtime.clock.now()
    for scope in await _scopes(runtime):
        async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
            changed = [
                (request, flag)
                for request in await repo.open_requests(db, scope)
                if (flag := flag_for(request.extended_due_at or request.due_at, now)) != request.deadline_flag
            ]
            if not changed:
                continue
            admins = [
                user.email
                for membership, user in await tenancy_repo.members(db, scope)
                if membership.role in (Role.OWNER, Role.ADMIN)
            ]
            for request, flag in changed:
                due = request.extended_due_at or request.due_at
                request.deadline_flag = flag
                status = request.status  # the flag changes, not the status: history keeps both
                await record_step(
                    db,
                    runtime,
                    scope,
                    request,
                    status,
                    actor=ACTOR,
                    evidence={"deadline": flag},
                    action="privacy_request.deadline",
                )
                if flag == "none":
                    continue
                counts[flag] += 1
                for address in admins:
                    await enqueue_email(
                        db,
                        runtime.clock,
                        org_id=scope.org_id,
                        to=address,
                        subject=f"Privacy request {'overdue' if flag == 'overdue' else 'due soon'}: {request.id}",
                        text=f"The {request.kind.replace('_', ' ')} request {request.id}, received "
                        f"{request.received_at.date().isoformat()}, is due {due.date().isoformat()} "
                        f"({'past due' if flag == 'overdue' else 'within 7 days'}). Answer it in the privacy centre.",
                        dedupe_key=f"rights/{request.id}/{flag}/{due.isoformat()}/{address}",
                    )
    return counts


async def delete_expired_exports(runtime: Runtime) -> dict[str, int]:
    deleted = 0
    now = runtime.clock.now()
    for scope in await _scopes(runtime):
        async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
            for request in await repo.expired_exports(db, scope, now):
                if request.export_file:
                    (runtime.settings.data_dir / request.export_file).unlink(missing_ok=True)
                request.export_file = request.export_token_hash = None
                deleted += 1
    return {"exports_deleted": deleted}
