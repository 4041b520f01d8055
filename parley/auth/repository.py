"""SQL for authentication: users, browser sessions, login throttles. None of these tables is tenant-owned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.db import insert_ignoring_conflict, set_pg_setting
from parley.models import ApiToken, LoginThrottle, Membership, Organization, User, UserSession


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    result: User | None = await session.scalar(select(User).where(User.email == email))
    return result


# The statements every authenticated request runs are built once, with bind parameters: building a SQLAlchemy
# expression (`Column == value`) costs more CPU than SQLite spends running the indexed lookup it describes.
_SESSION_WITH_USER = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(UserSession.token_hash == bindparam("token_hash"))
)
_MEMBERSHIP = select(Membership).where(
    Membership.org_id == bindparam("org_id"), Membership.user_id == bindparam("user_id")
)


async def session_with_user(session: AsyncSession, token_hash: str) -> tuple[UserSession, User] | None:
    row = (await session.execute(_SESSION_WITH_USER, {"token_hash": token_hash})).first()
    return (row[0], row[1]) if row else None


async def delete_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(UserSession).where(UserSession.id == session_id))


async def delete_sessions_of(session: AsyncSession, user_id: str, *, except_id: str | None = None) -> int:
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if except_id:
        query = query.where(UserSession.id != except_id)
    result = await session.execute(query)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def touch_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))


async def delete_expired_sessions(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def memberships_of(session: AsyncSession, user_id: str) -> list[tuple[Membership, Organization]]:
    """Every organisation the user belongs to (the RLS lookup policy admits a user's own memberships)."""
    await set_pg_setting(session, "app.user_id", user_id)
    rows = await session.execute(
        select(Membership, Organization)
        .join(Organization, Organization.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.name)
    )
    return [(m, o) for m, o in rows]


async def membership(session: AsyncSession, org_id: str, user_id: str) -> Membership | None:
    await set_pg_setting(session, "app.user_id", user_id)
    result: Membership | None = await session.scalar(_MEMBERSHIP, {"org_id": org_id, "user_id": user_id})
    return result


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """What authenticating a request needs of a token: read as plain columns, not an ORM object, because it
    happens on every API request."""

    id: str
    org_id: str
    role: str
    agent_id: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


_TOKEN_AUTH = select(
    ApiToken.id,
    ApiToken.org_id,
    ApiToken.role,
    ApiToken.agent_id,
    ApiToken.expires_at,
    ApiToken.revoked_at,
    ApiToken.last_used_at,
).where(ApiToken.token_hash == bindparam("token_hash"))


async def token_by_hash(session: AsyncSession, token_hash: str) -> TokenAuth | None:
    await set_pg_setting(session, "app.token_hash", token_hash)
    # Plain columns, so the Core connection runs it: the ORM's execution layer would add nothing but CPU.
    connection = await session.connection()
    row = (await connection.execute(_TOKEN_AUTH, {"token_hash": token_hash})).first()
    return TokenAuth(*row) if row else None


async def touch_token(session: AsyncSession, org_id: str, token_id: str, now: datetime) -> None:
    await set_pg_setting(session, "app.org_id", org_id)
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


async def throttles(session: AsyncSession, keys: list[str]) -> list[LoginThrottle]:
    return list(await session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))))


async def throttle_for_update(session: AsyncSession, key: str, now: datetime) -> LoginThrottle:
    await insert_ignoring_conflict(
        session,
        LoginThrottle.__table__,
        {
            "key": key,
            "failures": 0,
            "first_failure_at": now,
            "last_failure_at": now,
            "locked_until": None,
        },
    )
    row = await session.scalar(
        select(LoginThrottle)
        .where(LoginThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def delete_throttle(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


async def delete_stale_throttles(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.last_failure_at < before,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < before),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def organization_of_token(session: AsyncSession, token: TokenAuth) -> Organization:
    org = await session.get(Organization, token.org_id)
    assert org is not None
    return org
