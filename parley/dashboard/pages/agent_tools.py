"""Around an agent: its built-in test chat, the provider "test connection" button, the web widget (allowed
origins and install snippet), and the organisation's provider credentials."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from parley.agents import repository as agents_repo
from parley.agents import service as agents_service
from parley.agents.schemas import CredentialIn, TurnIn
from parley.auth.dependencies import Db, RuntimeDep, reads_only
from parley.channels.widget import service as widget_service
from parley.channels.widget.schemas import WidgetSettingsIn
from parley.conversations import engine
from parley.dashboard.context import OrgPage, OrgPageDep
from parley.dashboard.forms import Errors, errors_of, lines, validate
from parley.dashboard.pages.agents import agent_values, agents_page, edit_context, form_values
from parley.dashboard.registry import Page
from parley.dashboard.web import org_url, redirect, render
from parley.runtime import Runtime
from parley.tenancy.permissions import Permission

page = Page()


async def _edit_page(
    request: Request,
    ctx: OrgPage,
    db: Db,
    runtime: Runtime,
    agent_id: str,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    **extra: Any,
) -> Response:
    agent = await agents_service.access_agent(db, ctx.org_scope, agent_id)
    kb_ids = (await agents_repo.knowledge_base_ids(db, ctx.org_scope, [agent.id]))[agent.id]
    return render(
        request,
        "agent_edit.html",
        ctx,
        status=status,
        values={**agent_values(agent, kb_ids), **(values or {})},
        errors=errors or {},
        **await edit_context(db, runtime, ctx, agent),
        **extra,
    )


def _history(raw: str) -> list[dict[str, str]]:
    try:
        items = json.loads(raw or "[]")
        return [{"role": str(i["role"]), "content": str(i["content"])} for i in items][-40:]
    except (ValueError, TypeError, KeyError):
        return []


@page.router.post("/o/{org_id}/agents/{agent_id}/test", dependencies=[Depends(reads_only)])
async def test_chat(agent_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    """One turn with the agent, nothing stored; the transcript so far travels in the form."""
    ctx.org_scope.require(Permission.AGENTS_TEST)
    form = await request.form()
    history = _history(str(form.get("history", "")))
    if form.get("reset"):
        history = []
    body, errors = validate(TurnIn, {"message": str(form.get("message", "")), "history": history})
    transcript = list(history)
    last_reply = None
    status = 200
    if body is None:
        status = 422
        errors = {"message": errors.get("message", "this message cannot be sent")}
    else:
        agent = await agents_service.access_agent(db, ctx.org_scope, agent_id)
        reply = await engine.try_agent(
            runtime, ctx.org_scope, agent, body.message, [(h["role"], h["content"]) for h in history]
        )
        out = reply.out()
        transcript += [{"role": "user", "content": body.message}, {"role": "assistant", "content": out.reply}]
        last_reply = out
    return await _edit_page(
        request,
        ctx,
        db,
        runtime,
        agent_id,
        status=status,
        errors=errors,
        test_transcript=transcript,
        test_history=json.dumps(transcript),
        last_reply=last_reply,
    )


@page.router.post("/o/{org_id}/agent-check/{agent_id}")
async def check_connection(agent_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    """The "Test connection" button of the agent form: checks the chosen credential and model with the provider,
    keeping what was typed in the form."""
    ctx.org_scope.require(Permission.CREDENTIALS_MANAGE)
    form = await request.form()
    values = form_values(form)
    provider, credential_id = values.get("provider", "offline"), values.get("credential_id") or ""
    errors: Errors = {}
    result: tuple[bool, str]
    if provider == "offline":
        result = (True, "The offline provider runs inside Parley: there is nothing to connect to.")
    elif not credential_id:
        errors["credential_id"] = f"choose a credential for {provider} first"
        result = (False, "No credential chosen.")
    else:
        error = await engine.check_credential(db, runtime, ctx.org_scope, credential_id, str(values.get("model", "")))
        result = (True, "Connected: the provider accepted the key.") if error is None else (False, error)
    return await _edit_page(
        request,
        ctx,
        db,
        runtime,
        agent_id,
        status=200 if result[0] else 422,
        values=values,
        errors=errors,
        connection=result,
    )


@page.router.post("/o/{org_id}/agents/{agent_id}/widget")
async def update_widget(agent_id: str, request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.AGENTS_MANAGE)
    form = await request.form()
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    data = {
        "allowed_origins": lines(text.get("allowed_origins", "")),
        "min_age": text.get("min_age", "").strip() or None,
        "analytics_enabled": text.get("analytics_enabled") == "on",
        "privacy_notice_url": text.get("privacy_notice_url", "").strip() or None,
    }
    try:
        body = WidgetSettingsIn.model_validate(data)
    except ValidationError as exc:
        values = {k: text.get(k, "") for k in ("allowed_origins", "min_age", "analytics_enabled", "privacy_notice_url")}
        return await _edit_page(request, ctx, db, runtime, agent_id, status=422, values=values, errors=errors_of(exc))
    if not body.allowed_origins:
        await widget_service.do_disable_widget(db, runtime, ctx.org_scope, agent_id)
        return redirect(org_url(ctx.org_id, "agents", agent_id) + "#widget", "The widget is off: no site may show it.")
    await widget_service.do_update_widget(db, runtime, ctx.org_scope, agent_id, body)
    return redirect(org_url(ctx.org_id, "agents", agent_id) + "#widget", "Widget settings saved.")


@page.router.post("/o/{org_id}/provider-credentials")
async def add_credential(request: Request, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.CREDENTIALS_MANAGE)
    form = await request.form()
    text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    data = {
        "name": text.get("name", ""),
        "provider": text.get("provider", ""),
        "base_url": text.get("base_url", "").strip() or None,
        "api_key": text.get("api_key", ""),
    }
    body, errors = validate(CredentialIn, data)
    if body is None:
        return await agents_page(request, ctx, db, status=422, values=text, errors=errors)
    await agents_service.do_create_credential(db, runtime, ctx.org_scope, body)
    return redirect(org_url(ctx.org_id, "agents") + "#credentials", f"Credential “{body.name}” saved.")


@page.router.post("/o/{org_id}/provider-credentials/{credential_id}/delete")
async def delete_credential(credential_id: str, ctx: OrgPageDep, db: Db, runtime: RuntimeDep) -> Response:
    ctx.org_scope.require(Permission.CREDENTIALS_MANAGE)
    await agents_service.do_delete_credential(db, runtime, ctx.org_scope, credential_id)
    return redirect(org_url(ctx.org_id, "agents") + "#credentials", "Credential deleted.")
