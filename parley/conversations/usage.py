"""The usage ledger: one row per organisation, agent, day, provider and model, added to atomically."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.ids import new_id
from parley.models import UsageDaily
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


async def record(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    *,
    agent_id: str,
    provider: str,
    model: str,
    calls: int,
    input_tokens: int,
    output_tokens: int,
    messages: int = 1,
) -> None:
    values = {
        "id": new_id("use"),
        "org_id": scope.org_id,
        "agent_id": agent_id,
        "day": runtime.clock.now().date(),
        "provider": provider,
        "model": model or "-",
        "calls": calls,
        "messages": messages,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
    }
    insert = (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(UsageDaily)
    statement = insert.values(**values).on_conflict_do_update(
        index_elements=["org_id", "agent_id", "day", "provider", "model"],
        set_={
            "calls": UsageDaily.calls + calls,
            "messages": UsageDaily.messages + messages,
            "input_tokens": UsageDaily.input_tokens + input_tokens,
            "output_tokens": UsageDaily.output_tokens + output_tokens,
        },
    )
    await db.execute(statement)
