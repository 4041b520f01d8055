"""The usage report: a zero-filled series per day for the chosen period, and totals per agent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from parley.kit.errors import InvalidField
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope
from parley.usage import repository as repo

PERIODS = (30, 90)
DELETED_AGENT = "(deleted agent)"


@dataclass
class AgentTotals:
    agent_id: str | None
    name: str
    messages: int = 0
    conversations: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class UsageReport:
    days: list[date]
    messages: list[int]
    conversations: list[int]
    tokens: list[int]
    agents: list[AgentTotals] = field(default_factory=list)
    agent_id: str | None = None

    @property
    def totals(self) -> dict[str, int]:
        return {"messages": sum(self.messages), "conversations": sum(self.conversations), "tokens": sum(self.tokens)}


async def report(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, *, days: int = 30, agent_id: str | None = None
) -> UsageReport:
    """Usage for the last `days` UTC days (today included); `agent_id` narrows the daily series to one agent,
    the per-agent table always shows every agent."""
    scope.require(Permission.ORG_READ)
    if days not in PERIODS:
        raise InvalidField("query.days", f"choose one of: {', '.join(map(str, PERIODS))}")
    today = runtime.clock.now().date()
    since = today - timedelta(days=days - 1)
    axis = [since + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(axis)}
    out = UsageReport(axis, [0] * days, [0] * days, [0] * days, agent_id=agent_id)
    agents: dict[str | None, AgentTotals] = {}

    def totals(agent: str | None) -> AgentTotals:
        return agents.setdefault(agent, AgentTotals(agent, ""))

    def keep(day: date, agent: str | None) -> int | None:
        position = index.get(day)
        return None if position is None or (agent_id and agent != agent_id) else position

    for day, agent, n in await repo.messages(db, scope, since):
        totals(agent).messages += n
        if (i := keep(day, agent)) is not None:
            out.messages[i] += n
    for day, agent, n in await repo.conversations(db, scope, since):
        totals(agent).conversations += n
        if (i := keep(day, agent)) is not None:
            out.conversations[i] += n
    for day, agent, calls, tokens_in, tokens_out in await repo.tokens(db, scope, since):
        row = totals(agent)
        row.calls, row.input_tokens, row.output_tokens = (
            row.calls + calls, row.input_tokens + tokens_in, row.output_tokens + tokens_out
        )  # fmt: skip
        if (i := keep(day, agent)) is not None:
            out.tokens[i] += tokens_in + tokens_out
    names = await repo.agent_names(db, scope, (a for a in agents if a))
    for agent, row in agents.items():
        row.name = names.get(agent or "", DELETED_AGENT)
    out.agents = sorted(agents.values(), key=lambda r: (-r.messages, -r.tokens, r.name))
    return out
