"""Reconciler: remove credentials and counters that can no longer be used.

- browser sessions past their expiry;
- sign-in throttle counters whose window and lock have both passed;
- invitations settled (accepted, withdrawn or expired) more than 30 days ago — they hold an email address, and
  keeping them longer serves no purpose (the audit log keeps who invited whom, by id).

Invitations are tenant rows, so on PostgreSQL they are purged organisation by organisation, each in its own
transaction with that tenant set, exactly as the row-level security policies demand.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_, select

from parley.auth import repository as repo
from parley.kit.db import set_pg_setting, unit_of_work
from parley.models import Invitation, Organization
from parley.runtime import Runtime

SETTLED_INVITATIONS_KEPT = timedelta(days=30)


async def purge_expired_credentials(runtime: Runtime) -> dict[str, int]:
    now = runtime.clock.now()
    window = timedelta(minutes=runtime.settings.login_failure_window_minutes)
    async with unit_of_work(runtime.sessionmaker) as db:
        sessions = await repo.delete_expired_sessions(db, now)
        throttles = await repo.delete_stale_throttles(db, now - window)
    async with unit_of_work(runtime.sessionmaker, write=False) as db:
        org_ids = list(await db.scalars(select(Organization.id)))
    invitations = 0
    cutoff = now - SETTLED_INVITATIONS_KEPT
    for org_id in org_ids:
        async with unit_of_work(runtime.sessionmaker) as db:
            await set_pg_setting(db, "app.org_id", org_id)
            result = await db.execute(
                delete(Invitation).where(
                    Invitation.org_id == org_id,
                    or_(
                        Invitation.accepted_at < cutoff,
                        Invitation.revoked_at < cutoff,
                        Invitation.expires_at < cutoff,
                    ),
                )
            )
            invitations += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return {"sessions": sessions, "throttles": throttles, "invitations": invitations}
