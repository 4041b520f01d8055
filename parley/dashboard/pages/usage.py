"""Usage: messages, conversations and language-model tokens per day (30 or 90 days, all agents or one), drawn
as SVG on the server, with a per-agent table. Counts only; no personal data, so every role may look."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from parley.auth.dependencies import Db, RuntimeDep
from parley.dashboard.context import OrgPageDep
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import render
from parley.tenancy.permissions import Permission
from parley.usage import service
from parley.usage.charts import bar_chart

page = Page(nav=[NavItem("Usage", "usage", Permission.ORG_READ, order=60)])

CHARTS = (("messages", "Messages per day"), ("conversations", "Conversations started per day"),
          ("tokens", "Language-model tokens per day (input + output)"))  # fmt: skip


@page.router.get("/o/{org_id}/usage")
async def usage(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    # Read by hand rather than as typed query parameters: a wrong value shows an error beside the control,
    # where a typed parameter would turn the whole page into a 404.
    raw_days, agent = request.query_params.get("days", "30"), request.query_params.get("agent") or None
    errors: dict[str, str] = {}
    days = int(raw_days) if raw_days.isdigit() and int(raw_days) in service.PERIODS else None
    if days is None:
        errors["days"] = "choose 30 or 90 days"
        days = service.PERIODS[0]
    report = await service.report(db, runtime, ctx.org_scope, days=days)
    known = {a.agent_id for a in report.agents if a.agent_id}
    if agent and agent not in known:
        errors["agent"] = "this agent has no usage in the period"
        agent = None
    if agent:
        report = await service.report(db, runtime, ctx.org_scope, days=days, agent_id=agent)
    charts = [
        (key, title, bar_chart(f"chart-{key}", title, report.days, getattr(report, key))) for key, title in CHARTS
    ]
    return render(
        request, "usage.html", ctx, status=422 if errors else 200, report=report, charts=charts, errors=errors,
        days_options=[(str(p), f"Last {p} days") for p in service.PERIODS],
        agent_options=[("", "All agents")] + [(a.agent_id, a.name) for a in report.agents if a.agent_id],
        values={"days": str(days), "agent": agent or ""},
    )  # fmt: skip
