"""Agents: the list, creating and editing one (instructions, provider, knowledge, tools, thresholds, privacy),
deleting it. The agent's test chat, connection check and widget live in `agent_tools.py`."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from parley.agents import repository as agents_repo
from parley.agents import service as agents_service
from parley.agents.schemas import AgentIn, AgentPatch
from parley.auth.dependencies import Db, RuntimeDep
from parley.channels.widget import repository as widget_repo
from parley.channels.widget.service import embed_snippet
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import Errors, invalid_field_errors, lines, validate
from parley.dashboard.registry import NavItem, Page
from parley.dashboard.web import org_url, redirect, render
from parley.kit.errors import InvalidField
from parley.knowledge import repository as knowledge_repo
from parley.models import Agent
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission

page = Page(nav=[NavItem("Agents", "agents", Permission.AGENTS_READ, order=20)])

PROVIDERS = [
    ("offline", "Offline (no network, answers from knowledge)"),
    ("openai", "OpenAI-compatible"),
    ("anthropic", "Anthropic"),
]
TOOLS = [("handoff_to_human", "Hand over to staff when asked or unsure")]


def agent_data(form: FormData) -> dict[str, Any]:
    """The agent form as the API's request body (empty optional numbers mean "not set")."""
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    data: dict[str, Any] = {
        "name": text.get("name", ""),
        "instructions": text.get("instructions", ""),
        "greeting": text.get("greeting", ""),
        "languages": lines(text.get("languages", "")) or ["en"],
        "provider": text.get("provider", "offline"),
        "model": text.get("model", "").strip(),
        "credential_id": text.get("credential_id") or None,
        "knowledge_base_ids": [str(v) for v in form.getlist("knowledge_base_ids")],
        "tools": [str(v) for v in form.getlist("tools")],
        "fallback_reply": text.get("fallback_reply", ""),
        "confidence_threshold": text.get("confidence_threshold", "") or 0.35,
        "retention_days": text.get("retention_days", "").strip() or None,
        "redact_pii": text.get("redact_pii") == "on",
    }
    return data


def agent_values(agent: Agent, kb_ids: list[str]) -> dict[str, Any]:
    return {
        "name": agent.name,
        "instructions": agent.instructions,
        "greeting": agent.greeting,
        "languages": ", ".join(agent.languages),
        "provider": agent.provider,
        "model": agent.model,
        "credential_id": agent.credential_id or "",
        "knowledge_base_ids": kb_ids,
        "tools": agent.tools,
        "fallback_reply": agent.fallback_reply,
        "confidence_threshold": agent.confidence_threshold,
        "retention_days": agent.retention_days or "",
        "redact_pii": "on" if agent.redact_pii else "",
    }


def form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    values["knowledge_base_ids"] = [str(v) for v in form.getlist("knowledge_base_ids")]
    values["tools"] = [str(v) for v in form.getlist("tools")]
    values.setdefault("redact_pii", "")
    return values


async def choices(db: Db, ctx: OrgPage) -> dict[str, Any]:
    """What the agent form offers: knowledge bases and (for those who may see them) provider credentials."""
    scope = ctx.org_scope
    kbs = await knowledge_repo.knowledge_bases(db, scope)
    credentials = await agents_repo.credentials(db, scope) if ctx.can(Permission.CREDENTIALS_MANAGE) else []
    return {
        "knowledge_bases": [(kb.id, kb.name) for kb in kbs],
        "credentials": [("", "None")] + [(c.id, f"{c.name} ({c.provider})") for c in credentials],
        "providers": PROVIDERS,
        "tools": TOOLS,
    }


@page.router.get("/o/{org_id}/agents")
async def list_agents(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    return await agents_page(request, ctx, db)


async def agents_page(
    request: Request,
    ctx: OrgPage,
    db: Db,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
) -> Response:
    """The list of agents and, for admins, the provider credentials (with the credential form's state)."""
    scope = ctx.org_scope
    agents = await agents_repo.agents(db, scope)
    linked = await agents_repo.knowledge_base_ids(db, scope, [a.id for a in agents])
    widgets = {a.id: await widget_repo.widget(db, scope, a.id) for a in agents}
    rows = [(a, len(linked[a.id]), widgets[a.id] is not None) for a in agents]
    credentials = await agents_repo.credentials(db, scope) if ctx.can(Permission.CREDENTIALS_MANAGE) else []
    return render(
        request,
        "agents.html",
        ctx,
        status=status,
        rows=rows,
        credentials=credentials,
        providers=PROVIDERS[1:],
        values=values or {},
        errors=errors or {},
    )


@page.router.get("/o/{org_id}/agents/new")
async def new_agent(request: Request, ctx: OrgPageDep, db: Db) -> Response:
    ctx.org_scope.require(Permission.AGENTS_MANAGE)
    defaults = {
        "languages": "en",
        "provider": "offline",
        "confidence_threshold": 0.35,
        "redact_pii": "on",
        "tools": ["handoff_to_human"],
        "knowledge_base_ids": [],
    }
    return render(request, "agent_new.html", ctx, values=defaults, **await choices(db, ctx))


@page.router.post("/o/{org_id}/agents/new")
async def create_agent(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.AGENTS_MANAGE)
    form = await request.form()
    body, errors = validate(AgentIn, agent_data(form))
    if body is not None:
        try:
            agent = await agents_service.do_create_agent(db, runtime, ctx.org_scope, body)
        except InvalidField as exc:
            errors = invalid_field_errors(exc)
        else:
            return redirect(org_url(ctx.org_id, "agents", agent.id), f"Agent “{agent.name}” created.")
    return _invalid(request, ctx, "agent_new.html", form, errors, await choices(db, ctx))


def _invalid(
    request: Request, ctx: OrgPage, template: str, form: FormData, errors: Errors, extra: dict[str, Any]
) -> Response:
    return render(request, template, ctx, status=422, values=form_values(form), errors=errors, **extra)


async def edit_context(db: Db, runtime: Runtime, ctx: OrgPage, agent: Agent) -> dict[str, Any]:
    widget = await widget_repo.widget(db, ctx.org_scope, agent.id)
    return {
        "agent": agent,
        "widget": widget,
        "snippet": embed_snippet(runtime.settings, agent.id),
        **await choices(db, ctx),
    }


@page.router.get("/o/{org_id}/agents/{agent_id}")
async def edit_agent(agent_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    agent = await agents_service.access_agent(db, ctx.org_scope, agent_id)
    kb_ids = (await agents_repo.knowledge_base_ids(db, ctx.org_scope, [agent.id]))[agent.id]
    return render(
        request,
        "agent_edit.html",
        ctx,
        values=agent_values(agent, kb_ids),
        **await edit_context(db, runtime, ctx, agent),
    )


@page.router.post("/o/{org_id}/agents/{agent_id}")
async def update_agent(agent_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.AGENTS_MANAGE)
    agent = await agents_service.access_agent(db, ctx.org_scope, agent_id)
    form = await request.form()
    body, errors = validate(AgentPatch, agent_data(form))
    if body is not None:
        try:
            await agents_service.do_update_agent(db, runtime, ctx.org_scope, agent_id, body)
        except InvalidField as exc:
            errors = invalid_field_errors(exc)
        else:
            return redirect(org_url(ctx.org_id, "agents", agent_id), "Agent saved.")
    return _invalid(request, ctx, "agent_edit.html", form, errors, await edit_context(db, runtime, ctx, agent))


@page.router.post("/o/{org_id}/agents/{agent_id}/delete")
async def delete_agent(agent_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.AGENTS_MANAGE)
    agent = await agents_service.access_agent(db, ctx.org_scope, agent_id)
    await agents_service.do_delete_agent(db, runtime, ctx.org_scope, agent_id)
    return redirect(org_url(ctx.org_id, "agents"), f"Agent “{agent.name}” deleted.")
