"""Usage counts grouped by day in SQL, on SQLite and PostgreSQL alike.

Days are UTC days. Tokens come from the usage ledger (`usage_daily`, already one row per day); messages and
conversations are counted from their own tables, grouped by the UTC date of `created_at`, so the database
returns at most one row per day (and agent) however many messages there are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parley.models import Agent, Conversation, Message, UsageDaily
from parley.tenancy.scope import OrgScope


def _utc_day(db: AsyncSession, column: Any) -> ColumnElement[Any]:
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)  # SQLite stores UTC text: 'YYYY-MM-DD HH:MM:SS…' -> 'YYYY-MM-DD'


def as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _start(since: date) -> datetime:
    return datetime.combine(since, time.min, tzinfo=UTC)


async def tokens(db: AsyncSession, scope: OrgScope, since: date) -> list[tuple[date, str, int, int, int]]:
    """(day, agent id, calls, input tokens, output tokens)."""
    result = await db.execute(
        select(
            UsageDaily.day,
            UsageDaily.agent_id,
            func.sum(UsageDaily.calls),
            func.sum(UsageDaily.input_tokens),
            func.sum(UsageDaily.output_tokens),
        )
        .where(UsageDaily.org_id == scope.org_id, UsageDaily.day >= since)
        .group_by(UsageDaily.day, UsageDaily.agent_id)
    )
    return [(as_date(d), a, int(c or 0), int(i or 0), int(o or 0)) for d, a, c, i, o in result]


async def messages(db: AsyncSession, scope: OrgScope, since: date) -> list[tuple[date, str | None, int]]:
    """(day, agent id, messages), every role counted: visitors', the AI's and staff's."""
    day = _utc_day(db, Message.created_at)
    result = await db.execute(
        select(day, Conversation.agent_id, func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.org_id == scope.org_id, Message.created_at >= _start(since))
        .group_by(day, Conversation.agent_id)
    )
    return [(as_date(d), a, int(n)) for d, a, n in result]


async def conversations(db: AsyncSession, scope: OrgScope, since: date) -> list[tuple[date, str | None, int]]:
    """(day, agent id, conversations started)."""
    day = _utc_day(db, Conversation.created_at)
    result = await db.execute(
        select(day, Conversation.agent_id, func.count())
        .where(Conversation.org_id == scope.org_id, Conversation.created_at >= _start(since))
        .group_by(day, Conversation.agent_id)
    )
    return [(as_date(d), a, int(n)) for d, a, n in result]


async def agent_names(db: AsyncSession, scope: OrgScope, ids: Iterable[str]) -> dict[str, str]:
    wanted = [i for i in set(ids) if i]
    if not wanted:
        return {}
    result = await db.execute(select(Agent.id, Agent.name).where(Agent.org_id == scope.org_id, Agent.id.in_(wanted)))
    return {agent_id: name for agent_id, name in result}
