"""Marketing email goes out only with consent: the one door campaigns and automations use to queue it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.consent.service import allows
from parley.models import ContactIdentifier, OutboxMessage
from parley.outbox.service import enqueue_email
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


async def enqueue_marketing_email(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, contact_id: str, subject: str, text: str
) -> OutboxMessage | None:
    """Queues the email to the contact's address if their current choice for `marketing` is a grant; otherwise
    (withdrawn, never asked, no address) queues nothing and returns None."""
    if not await allows(db, scope, contact_id, "marketing"):
        return None
    address = await db.scalar(
        select(ContactIdentifier.value)
        .where(
            ContactIdentifier.org_id == scope.org_id,
            ContactIdentifier.contact_id == contact_id,
            ContactIdentifier.kind == "email",
        )
        .order_by(ContactIdentifier.created_at.desc())
        .limit(1)
    )
    if address is None:
        return None
    footer = "\n\nYou receive this because you agreed to. Reply STOP to unsubscribe."
    return await enqueue_email(db, runtime.clock, org_id=scope.org_id, to=address, subject=subject, text=text + footer)
