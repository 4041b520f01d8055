"""SQL for data-subject requests. Every function takes an `OrgScope`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Contact, ContactIdentifier, PrivacyChallenge, PrivacyRequest, PrivacyRequestEvent
from parley.tenancy.scope import OrgScope

OPEN_STATUSES = ("received", "verified", "in_progress", "extended")


async def request(db: AsyncSession, scope: OrgScope, request_id: str) -> PrivacyRequest | None:
    return await db.scalar(
        select(PrivacyRequest).where(PrivacyRequest.org_id == scope.org_id, PrivacyRequest.id == request_id)
    )


async def requests(db: AsyncSession, scope: OrgScope, *, status: str | None, limit: int) -> list[PrivacyRequest]:
    query = select(PrivacyRequest).where(PrivacyRequest.org_id == scope.org_id)
    if status:
        query = query.where(PrivacyRequest.status == status)
    return list(await db.scalars(query.order_by(PrivacyRequest.received_at.desc(), PrivacyRequest.id).limit(limit)))


async def open_requests(db: AsyncSession, scope: OrgScope) -> list[PrivacyRequest]:
    return list(
        await db.scalars(
            select(PrivacyRequest).where(
                PrivacyRequest.org_id == scope.org_id, PrivacyRequest.status.in_(OPEN_STATUSES)
            )
        )
    )


async def expired_exports(db: AsyncSession, scope: OrgScope, now: datetime) -> list[PrivacyRequest]:
    return list(
        await db.scalars(
            select(PrivacyRequest).where(
                PrivacyRequest.org_id == scope.org_id,
                PrivacyRequest.export_file.is_not(None),
                PrivacyRequest.export_expires_at <= now,
            )
        )
    )


async def events(db: AsyncSession, scope: OrgScope, request_id: str) -> list[PrivacyRequestEvent]:
    return list(
        await db.scalars(
            select(PrivacyRequestEvent)
            .where(PrivacyRequestEvent.org_id == scope.org_id, PrivacyRequestEvent.request_id == request_id)
            .order_by(PrivacyRequestEvent.created_at, PrivacyRequestEvent.id)
        )
    )


async def contact(db: AsyncSession, scope: OrgScope, contact_id: str) -> Contact | None:
    return await db.scalar(select(Contact).where(Contact.org_id == scope.org_id, Contact.id == contact_id))


async def identifiers(db: AsyncSession, scope: OrgScope, contact_id: str) -> list[ContactIdentifier]:
    return list(
        await db.scalars(
            select(ContactIdentifier).where(
                ContactIdentifier.org_id == scope.org_id, ContactIdentifier.contact_id == contact_id
            )
        )
    )


async def challenge(db: AsyncSession, scope: OrgScope, challenge_id: str) -> PrivacyChallenge | None:
    return await db.scalar(
        select(PrivacyChallenge).where(PrivacyChallenge.org_id == scope.org_id, PrivacyChallenge.id == challenge_id)
    )


async def challenges_since(
    db: AsyncSession,
    scope: OrgScope,
    since: datetime,
    *,
    identifier_hash: str | None = None,
    ip_hash: str | None = None,
) -> int:
    query = select(func.count()).where(PrivacyChallenge.org_id == scope.org_id, PrivacyChallenge.created_at > since)
    if identifier_hash is not None:
        query = query.where(PrivacyChallenge.identifier_hash == identifier_hash)
    if ip_hash is not None:
        query = query.where(PrivacyChallenge.ip_hash == ip_hash)
    return int(await db.scalar(query) or 0)
