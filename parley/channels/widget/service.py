"""The widget's logic: the business's widget settings, and everything a visitor does — open the widget, chat,
read their history back, export it, erase it, record a consent choice.

A visitor reaches an organisation only through an agent whose widget is on, from a listed origin, and reaches a
conversation only with the secret that belongs to their visitor id (wrong secret: 404, like a missing one).
Turns go through `conversations.service`, in its short transactions; nothing is stored before the visitor has
passed the age gate and sent a message that fits the limits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import repository as agents_repo
from parley.agents import service as agents_service
from parley.channels.widget import repository as repo
from parley.channels.widget import visitors
from parley.channels.widget.limits import RateLimiter, TokenBuckets
from parley.channels.widget.origins import normalise_origin, origin_allowed
from parley.channels.widget.schemas import (
    CitationOut,
    ConsentOut,
    ConsentTextOut,
    ExportOut,
    HistoryOut,
    WidgetConfigOut,
    WidgetMessageOut,
    WidgetSettingsIn,
    WidgetSettingsOut,
)
from parley.consent import analytics as consent_analytics
from parley.consent import proof as consent_proof
from parley.consent import service as consent
from parley.conversations import repository as conversations_repo
from parley.conversations import service as conversations
from parley.conversations.engine import Reply
from parley.conversations.service import Stored
from parley.kit.context import RequestInfo
from parley.kit.errors import Forbidden, NotFound, ParleyError, TooManyRequests
from parley.kit.ids import new_id
from parley.llm.base import TextDelta
from parley.models import Agent, AgentWidget, Message
from parley.privacy import audit
from parley.runtime import Runtime
from parley.settings import Settings
from parley.tenancy import platform
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

CHANNEL = "widget"
IDENTIFIER_KIND = "visitor"
Event = dict[str, Any]


class MessageTooLong(ParleyError):
    status_code = 422
    code = "message_too_long"


@dataclass
class WidgetState:
    """Per process: the rate limits (see limits.py for the scaled variant)."""

    per_visitor: RateLimiter
    per_ip: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> WidgetState:
        return cls(
            per_visitor=TokenBuckets(
                per_minute=settings.widget_visitor_per_minute, burst=settings.widget_visitor_burst
            ),
            per_ip=TokenBuckets(per_minute=settings.widget_ip_per_minute, burst=settings.widget_ip_burst),
        )


@dataclass(frozen=True)
class WidgetContext:
    """A widget opened from an allowed origin: the tenant scope, the agent and its widget settings."""

    scope: OrgScope
    agent: Agent
    widget: AgentWidget
    organization_name: str


def sse(event: Event) -> str:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"


def embed_snippet(settings: Settings, agent_id: str) -> str:
    return f'<script src="{settings.effective_public_url}/widget.js" data-agent="{agent_id}" async></script>'


# --- The business's settings ---------------------------------------------------------------------------------


def settings_out(settings: Settings, agent_id: str, widget: AgentWidget | None) -> WidgetSettingsOut:
    return WidgetSettingsOut(
        agent_id=agent_id,
        enabled=widget is not None,
        allowed_origins=widget.allowed_origins if widget else [],
        min_age=widget.min_age if widget else None,
        analytics_enabled=widget.analytics_enabled if widget else False,
        privacy_notice_url=widget.privacy_notice_url if widget else None,
        embed_snippet=embed_snippet(settings, agent_id),
    )


async def widget_settings(db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str) -> WidgetSettingsOut:
    await agents_service.access_agent(db, scope, agent_id)
    return settings_out(runtime.settings, agent_id, await repo.widget(db, scope, agent_id))


async def do_update_widget(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str, body: WidgetSettingsIn
) -> WidgetSettingsOut:
    """Turns the widget on (or changes it); audited as a settings change."""
    await agents_service.access_agent(db, scope, agent_id)
    now = runtime.clock.now()
    widget = await repo.widget(db, scope, agent_id)
    if widget is None:
        widget = AgentWidget(id=new_id("wdg"), org_id=scope.org_id, agent_id=agent_id, created_at=now)
        db.add(widget)
    widget.allowed_origins = body.allowed_origins
    widget.min_age = body.min_age
    widget.analytics_enabled = body.analytics_enabled
    widget.privacy_notice_url = str(body.privacy_notice_url) if body.privacy_notice_url else None
    widget.updated_at = now
    await db.flush()
    if widget.analytics_enabled:  # the banner's words exist before anyone is asked (the consent proof cites them)
        agent = await agents_service.access_agent(db, scope, agent_id)
        await consent.text_to_show(db, runtime, scope, "analytics", agent.languages)
    await audit.record_in_scope(
        db,
        runtime.clock,
        scope,
        "agent.widget_updated",
        target_type="agent",
        target_id=agent_id,
        details=body.model_dump(mode="json"),
    )
    return settings_out(runtime.settings, agent_id, widget)


async def do_disable_widget(db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str) -> None:
    await agents_service.access_agent(db, scope, agent_id)
    widget = await repo.widget(db, scope, agent_id)
    if widget is not None:
        await db.delete(widget)
        await audit.record_in_scope(
            db, runtime.clock, scope, "agent.widget_disabled", target_type="agent", target_id=agent_id
        )


# --- Visitors -------------------------------------------------------------------------------------------------


async def open_widget(
    db: AsyncSession, runtime: Runtime, agent_id: str, origin: str | None, request: RequestInfo
) -> WidgetContext:
    """The widget of an agent, for a page on `origin`. An agent without a widget and a widget that does not
    exist look the same (404); a page on an origin the business did not list gets 403."""
    scope = await platform.widget_visitor_scope(db, agent_id, request)
    widget = await repo.widget(db, scope, agent_id) if scope else None
    agent = await agents_repo.agent(db, scope, agent_id) if scope else None
    if scope is None or widget is None or agent is None:
        raise NotFound("there is no chat here")
    own = normalise_origin(runtime.settings.effective_public_url)
    if not origin_allowed(origin, [*widget.allowed_origins, own]):
        raise Forbidden("this site may not embed this chat", code="origin_not_allowed")
    return WidgetContext(scope, agent, widget, await repo.organization_name(db, scope))


async def config(db: AsyncSession, runtime: Runtime, ctx: WidgetContext) -> WidgetConfigOut:
    shown = None
    if ctx.widget.analytics_enabled:
        text = await consent.find_text_to_show(db, ctx.scope, "analytics", ctx.agent.languages)
        if text is not None:
            shown = ConsentTextOut(id=text.id, language=text.language, version=text.version, body=text.body)
    return WidgetConfigOut(
        agent_name=ctx.agent.name,
        organization_name=ctx.organization_name,
        greeting=ctx.agent.greeting,
        languages=ctx.agent.languages,
        min_age=ctx.widget.min_age,
        analytics_consent_required=ctx.widget.analytics_enabled,
        privacy_notice_url=ctx.widget.privacy_notice_url,
        max_message_chars=runtime.settings.widget_max_message_chars,
        analytics_consent_text=shown,
    )


def authenticate(runtime: Runtime, ctx: WidgetContext, credentials: visitors.VisitorCredentials | None) -> str:
    """The visitor id, once its secret checks out. A wrong secret is a missing conversation."""
    visitor_id = visitors.verify(runtime, ctx.scope.org_id, credentials)
    if visitor_id is None:
        raise NotFound("conversation not found")
    return visitor_id


def check_message(
    runtime: Runtime, state: WidgetState, ctx: WidgetContext, visitor_id: str, ip: str | None, text: str, *, age: bool
) -> None:
    """Everything a message must pass before anything of it is stored: the age gate, the length limit, and the
    rate limits per visitor and per IP address."""
    if ctx.widget.min_age is not None and not age:
        raise Forbidden(
            f"this chat is for people aged {ctx.widget.min_age} or over",
            code="age_gate",
            extra={"min_age": ctx.widget.min_age},
        )
    limit = runtime.settings.widget_max_message_chars
    if len(text) > limit:
        raise MessageTooLong(f"messages are limited to {limit} characters", extra={"max_chars": limit})
    wait = state.per_visitor.take(f"{ctx.agent.id}:{visitor_id}")
    if not wait and ip:
        wait = state.per_ip.take(ip)
    if wait:
        raise TooManyRequests(
            f"you are sending messages too quickly; try again in {max(1, round(wait))} seconds", retry_after=wait
        )


def _citations(records: list[dict[str, Any]]) -> list[CitationOut]:
    seen: dict[str, CitationOut] = {}
    for record in records:
        key = str(record.get("document_id") or record.get("title"))
        url = record.get("url")
        seen.setdefault(key, CitationOut(title=str(record.get("title") or ""), url=url if _is_web(url) else None))
    return list(seen.values())


def _is_web(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://"))


def _message_out(message: Message, body: str) -> WidgetMessageOut | None:
    if message.role not in ("user", "assistant", "staff"):
        return None
    return WidgetMessageOut(
        id=message.id,
        role=message.role,
        text=body,
        citations=_citations(message.citations),
        created_at=message.created_at,
    )


async def _own_messages(
    db: AsyncSession, runtime: Runtime, ctx: WidgetContext, visitor_id: str
) -> tuple[str | None, bool, list[WidgetMessageOut]]:
    conversation = await conversations.find_conversation(
        db, ctx.scope, ctx.agent.id, IDENTIFIER_KIND, visitor_id, CHANNEL
    )
    if conversation is None:
        return None, False, []
    transcript = await conversations.read_own_transcript(db, runtime, ctx.scope, conversation.id)
    messages = [out for m, body in transcript if (out := _message_out(m, body)) is not None]
    return conversation.id, conversation.handed_off, messages


async def history(db: AsyncSession, runtime: Runtime, ctx: WidgetContext, visitor_id: str) -> HistoryOut:
    conversation_id, handed_off, messages = await _own_messages(db, runtime, ctx, visitor_id)
    return HistoryOut(conversation_id=conversation_id, handed_off=handed_off, messages=messages)


async def export(db: AsyncSession, runtime: Runtime, ctx: WidgetContext, visitor_id: str) -> ExportOut:
    conversation_id, _, messages = await _own_messages(db, runtime, ctx, visitor_id)
    started = None
    if conversation_id is not None:
        started = (await conversations.access_conversation(db, ctx.scope, conversation_id)).created_at
    return ExportOut(
        exported_at=runtime.clock.now(),
        organization=ctx.organization_name,
        agent=ctx.agent.name,
        visitor_id=visitor_id,
        conversation_id=conversation_id,
        started_at=started,
        messages=messages,
        consents=await _consents(db, ctx, visitor_id),
    )


async def _consents(db: AsyncSession, ctx: WidgetContext, visitor_id: str) -> list[ConsentOut]:
    found = await conversations_repo.identifier(db, ctx.scope, IDENTIFIER_KIND, visitor_id)
    if found is None:
        return []
    events = (await consent_proof.proof(db, ctx.scope, found.contact_id))["events"]
    return [ConsentOut(purpose=e["purpose"], granted=e["granted"], created_at=e["occurred_at"]) for e in events]


async def erase(db: AsyncSession, runtime: Runtime, ctx: WidgetContext, visitor_id: str) -> int:
    """The visitor erases their conversation with this agent: messages and conversation rows, audited as a
    visitor-initiated erasure. Erasing nothing is not an error (a second click, another tab)."""
    conversation = await conversations.find_conversation(
        db, ctx.scope, ctx.agent.id, IDENTIFIER_KIND, visitor_id, CHANNEL
    )
    if conversation is None:
        return 0
    return await conversations.erase_conversation(db, runtime, ctx.scope, conversation.id, initiated_by="visitor")


async def record_consent(
    db: AsyncSession,
    runtime: Runtime,
    ctx: WidgetContext,
    visitor_id: str,
    *,
    purpose: str,
    granted: bool,
    text_id: str | None = None,
    control: str = "banner",
) -> ConsentOut:
    """The visitor's choice, into the consent ledger. The visitor becomes a contact (the ledger is per person);
    a grant cites the text the banner showed, the current one unless the browser says which."""
    contact = await conversations.contact_for(db, runtime, ctx.scope, IDENTIFIER_KIND, visitor_id)
    if granted and text_id is None:
        text_id = (await consent.text_to_show(db, runtime, ctx.scope, purpose, ctx.agent.languages)).id
    event = await consent.do_record(
        db,
        runtime,
        ctx.scope,
        contact_id=contact.id,
        purpose=purpose,
        granted=granted,
        channel=CHANNEL,
        text_id=text_id,
        evidence={"kind": control, "choice": "accept" if granted else "decline", "agent_id": ctx.agent.id},
    )
    return ConsentOut(purpose=purpose, granted=granted, created_at=event.occurred_at)


async def count_analytics(runtime: Runtime, ctx: WidgetContext, visitor_id: str, metric: str) -> None:
    """One more `metric` in today's totals, if the widget asks for analytics and this visitor said yes. The check
    reads; only a consenting visitor's turn opens a write."""
    if not ctx.widget.analytics_enabled:
        return
    async with scoped_unit_of_work(runtime.sessionmaker, ctx.scope, write=False) as db:
        found = await conversations_repo.identifier(db, ctx.scope, IDENTIFIER_KIND, visitor_id)
        if found is None or not await consent.allows(db, ctx.scope, found.contact_id, "analytics"):
            return
    async with scoped_unit_of_work(runtime.sessionmaker, ctx.scope) as db:
        await consent_analytics.count_if_consented(
            db, runtime, ctx.scope, agent_id=ctx.agent.id, contact_id=found.contact_id, metric=metric
        )


async def _conversation_of(runtime: Runtime, ctx: WidgetContext, visitor_id: str, request: RequestInfo) -> str:
    """The visitor's open conversation, created on their first message, with where they write from. A write
    transaction only when something changes: on SQLite, writers queue one at a time."""
    user_agent = (request.user_agent or "")[:500] or None
    async with scoped_unit_of_work(runtime.sessionmaker, ctx.scope, write=False) as db:
        found = await conversations.find_conversation(db, ctx.scope, ctx.agent.id, IDENTIFIER_KIND, visitor_id, CHANNEL)
    if found is not None and (found.visitor_ip, found.visitor_user_agent) == (request.ip, user_agent):
        return found.id
    async with scoped_unit_of_work(runtime.sessionmaker, ctx.scope) as db:
        contact = await conversations.contact_for(db, runtime, ctx.scope, IDENTIFIER_KIND, visitor_id)
        conversation = await conversations.conversation_for(db, runtime, ctx.scope, ctx.agent, contact, CHANNEL)
        conversation.visitor_ip = request.ip
        conversation.visitor_user_agent = user_agent
    return conversation.id


async def turn(
    runtime: Runtime, ctx: WidgetContext, visitor_id: str, text: str, client_id: str | None, request: RequestInfo
) -> AsyncIterator[Event]:
    """One visitor message through the engine, as widget events: `typing`, `delta`s as the reply streams, the
    settled `message`, then `done` (with `handed_off` when a person has the conversation and the AI is silent)."""
    conversation_id = await _conversation_of(runtime, ctx, visitor_id, request)
    await count_analytics(runtime, ctx, visitor_id, "messages")
    yield {"type": "conversation", "conversation_id": conversation_id}
    yield {"type": "typing"}
    reply: Reply | None = None
    external_id = f"widget:{client_id}" if client_id else None
    receiving = conversations.receive(
        runtime, ctx.scope, ctx.agent, conversation_id, text=text, external_id=external_id
    )
    async for item in receiving:
        if isinstance(item, TextDelta):
            yield {"type": "delta", "text": item.text}
        elif isinstance(item, Reply):
            reply = item
        elif isinstance(item, Stored):
            if reply is not None and item.reply_id is not None:
                message = WidgetMessageOut(
                    id=item.reply_id,
                    role="assistant",
                    text=reply.text,
                    citations=_citations(reply.citation_records()),
                    created_at=runtime.clock.now(),
                )
                yield {"type": "message", "message": message.model_dump(mode="json")}
            yield {"type": "done", "inbound_id": item.inbound_id, "handed_off": item.reply_id is None}
