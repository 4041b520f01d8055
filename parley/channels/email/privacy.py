"""The email channel's own personal data in a person's export: the subjects of their email threads.

Erasure needs nothing here: `email_threads` rows are deleted with their conversation (foreign key cascade), and
attachments are channel media (sealed under the person's key, exported and erased by the channel layer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Conversation, EmailThread
from parley.tenancy.scope import OrgScope


async def export_section(db: AsyncSession, scope: OrgScope, contact_ids: list[str]) -> list[dict[str, Any]]:
    threads = await db.scalars(
        select(EmailThread)
        .join(Conversation, Conversation.id == EmailThread.conversation_id)
        .where(EmailThread.org_id == scope.org_id, Conversation.contact_id.in_(contact_ids))
        .order_by(EmailThread.created_at)
    )
    return [
        {
            "conversation_id": t.conversation_id,
            "subject": t.subject,
            "message_ids": t.references,
            "updated_at": t.updated_at.isoformat(),
        }
        for t in threads
    ]
