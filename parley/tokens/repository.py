from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import ApiToken
from parley.tenancy.scope import OrgScope


async def tokens(session: AsyncSession, scope: OrgScope) -> list[ApiToken]:
    return list(
        await session.scalars(
            select(ApiToken).where(ApiToken.org_id == scope.org_id).order_by(ApiToken.created_at.desc())
        )
    )


async def token(session: AsyncSession, scope: OrgScope, token_id: str) -> ApiToken | None:
    result: ApiToken | None = await session.scalar(
        select(ApiToken).where(ApiToken.org_id == scope.org_id, ApiToken.id == token_id)
    )
    return result
