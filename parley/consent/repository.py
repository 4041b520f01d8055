"""SQL for the consent ledger. Every query names the organisation; the current state of a contact and purpose
is the latest event, read through `ix_consent_events_current` (one index seek, newest first)."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import ConsentEvent, ConsentText
from parley.tenancy.scope import OrgScope


async def latest_event(db: AsyncSession, scope: OrgScope, contact_id: str, purpose: str) -> ConsentEvent | None:
    found: ConsentEvent | None = await db.scalar(
        select(ConsentEvent)
        .where(
            ConsentEvent.org_id == scope.org_id,
            ConsentEvent.contact_id == contact_id,
            ConsentEvent.purpose == purpose,
        )
        .order_by(ConsentEvent.occurred_at.desc())
        .limit(1)
    )
    return found


# Built once: `allows()` sits on hot paths (every widget turn with analytics, every voice turn), and building the
# statement costs more than the index seek it runs (see bench/consent.py).
_LATEST_GRANTED = (
    select(ConsentEvent.granted)
    .where(
        ConsentEvent.org_id == bindparam("org_id"),
        ConsentEvent.contact_id == bindparam("contact_id"),
        ConsentEvent.purpose == bindparam("purpose"),
    )
    .order_by(ConsentEvent.occurred_at.desc())
    .limit(1)
)


async def latest_granted(db: AsyncSession, scope: OrgScope, contact_id: str, purpose: str) -> bool | None:
    """Only the flag: what `allows()` needs, without loading the row."""
    granted: bool | None = await db.scalar(
        _LATEST_GRANTED, {"org_id": scope.org_id, "contact_id": contact_id, "purpose": purpose}
    )
    return granted


async def events_of(db: AsyncSession, scope: OrgScope, contact_id: str) -> list[ConsentEvent]:
    return list(
        await db.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.org_id == scope.org_id, ConsentEvent.contact_id == contact_id)
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        )
    )


async def text(db: AsyncSession, scope: OrgScope, text_id: str) -> ConsentText | None:
    found: ConsentText | None = await db.scalar(
        select(ConsentText).where(ConsentText.org_id == scope.org_id, ConsentText.id == text_id)
    )
    return found


async def texts_by_id(db: AsyncSession, scope: OrgScope, ids: set[str]) -> dict[str, ConsentText]:
    if not ids:
        return {}
    rows = await db.scalars(select(ConsentText).where(ConsentText.org_id == scope.org_id, ConsentText.id.in_(ids)))
    return {t.id: t for t in rows}


async def texts(
    db: AsyncSession, scope: OrgScope, *, purpose: str | None = None, language: str | None = None
) -> list[ConsentText]:
    query = select(ConsentText).where(ConsentText.org_id == scope.org_id)
    if purpose:
        query = query.where(ConsentText.purpose == purpose)
    if language:
        query = query.where(ConsentText.language == language)
    return list(await db.scalars(query.order_by(ConsentText.purpose, ConsentText.language, ConsentText.version)))


async def current_text(db: AsyncSession, scope: OrgScope, purpose: str, language: str) -> ConsentText | None:
    found: ConsentText | None = await db.scalar(
        select(ConsentText)
        .where(ConsentText.org_id == scope.org_id, ConsentText.purpose == purpose, ConsentText.language == language)
        .order_by(ConsentText.version.desc())
        .limit(1)
    )
    return found


async def last_version(db: AsyncSession, scope: OrgScope, purpose: str, language: str) -> int:
    found = await db.scalar(
        select(func.max(ConsentText.version)).where(
            ConsentText.org_id == scope.org_id, ConsentText.purpose == purpose, ConsentText.language == language
        )
    )
    return int(found or 0)


async def text_in_use(db: AsyncSession, scope: OrgScope, text_id: str) -> bool:
    used = await db.scalar(
        select(ConsentEvent.id).where(ConsentEvent.org_id == scope.org_id, ConsentEvent.text_id == text_id).limit(1)
    )
    return used is not None
