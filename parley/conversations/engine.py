"""The conversation engine: one inbound message in, one reply out (streamed), whatever the channel.

A turn: detect the language → retrieve passages from the agent's knowledge bases → build the request
(instructions, passages, bounded history, tools) → stream from the agent's provider → settle: citations,
confidence, tool calls (a handoff flags the conversation for staff), usage. A provider failure never reaches
the end user as an error: they get the agent's fallback reply and the conversation is flagged with the reason,
for staff to see. The engine knows nothing about channels and stores nothing itself; `conversations.service`
persists turns, `try_agent` runs one without a trace.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from parley.agents import repository as agents_repo
from parley.agents import service as agents_service
from parley.agents.schemas import CitationOut, ReplyOut
from parley.conversations import language as lang
from parley.conversations import prompt
from parley.conversations import usage as usage_ledger
from parley.conversations.phrases import phrase
from parley.knowledge import search
from parley.knowledge.terms import coverage, terms
from parley.llm.base import (
    ChatMessage,
    ChatRequest,
    Finished,
    Passage,
    Provider,
    ProviderError,
    TextDelta,
    ToolCall,
    Usage,
)
from parley.llm.factory import ProviderConfig, build_remote_provider
from parley.llm.offline import OfflineProvider
from parley.models import Agent
from parley.privacy.redaction import Redactor
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

log = logging.getLogger("parley.engine")
PASSAGES = 5
SNIPPET_CHARS = 240


@dataclass
class Reply:
    text: str = ""
    language: str = "en"
    citations: list[Passage] = field(default_factory=list)
    confidence: float | None = None
    needs_attention: bool = False
    attention_reason: str | None = None
    handoff: bool = False
    provider: str = "offline"
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0

    def flag(self, reason: str) -> None:
        self.needs_attention = True
        self.attention_reason = self.attention_reason or reason

    def citation_records(self) -> list[dict[str, str | None]]:
        return [
            {
                "chunk_id": p.chunk_id,
                "document_id": p.document_id,
                "title": p.title,
                "snippet": p.text[:SNIPPET_CHARS],
                "url": p.url,
            }
            for p in self.citations
        ]

    def out(self) -> ReplyOut:
        return ReplyOut(
            reply=self.text,
            language=self.language,
            confidence=self.confidence,
            needs_attention=self.needs_attention,
            attention_reason=self.attention_reason,
            citations=[
                CitationOut(document_id=p.document_id, title=p.title, snippet=p.text[:SNIPPET_CHARS], url=p.url)
                for p in self.citations
            ],
        )


async def provider_for(db: AsyncSession, runtime: Runtime, scope: OrgScope, agent: Agent) -> Provider:
    if agent.provider == "offline":
        return OfflineProvider()
    if agent.credential_id is None:
        raise ProviderError("the agent has no credential for its provider", retryable=False)
    credential = await agents_repo.credential(db, scope, agent.credential_id)
    if credential is None:
        raise ProviderError("the agent's credential was deleted", retryable=False)
    config = ProviderConfig(
        kind=agent.provider,  # type: ignore[arg-type]  # the CHECK constraint limits it to remote kinds here
        model=agent.model,
        api_key=await agents_service.api_key_of(db, runtime, scope, credential),
        base_url=credential.base_url,
        breaker_key=credential.id,
    )
    return runtime.providers.get(config)


async def stream_turn(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    agent: Agent,
    message: str,
    history: list[tuple[str, str]],
) -> AsyncIterator[TextDelta | Reply]:
    """Yields text deltas as they come, then the settled `Reply`."""
    language = lang.detect(message, fallback=(agent.languages or ["en"])[0])
    kb_ids = (await agents_repo.knowledge_base_ids(db, scope, [agent.id]))[agent.id]
    passages = await search.search(
        db, scope, kb_ids, message, limit=PASSAGES, dense=runtime.settings.embeddings != "off"
    )
    reply = Reply(language=language, provider=agent.provider, model=agent.model)
    messages = [
        ChatMessage("system", prompt.system_prompt(agent, passages, language)),
        *prompt.history_window(history),
        ChatMessage("user", message),
    ]
    redactor = _redactor_for(runtime, agent)
    if redactor is not None:
        # History first, then the new message, then the system prompt: a conversation keeps its numbering.
        conversation = [ChatMessage(m.role, redactor.redact(m.content)) for m in messages[1:]]
        messages = [ChatMessage("system", redactor.redact(messages[0].content)), *conversation]
    restorer = redactor.restorer() if redactor is not None else None
    request = ChatRequest(
        model=agent.model,
        messages=tuple(messages),
        tools=tuple(prompt.TOOLS[name] for name in agent.tools if name in prompt.TOOLS),
        temperature=agent.parameters.get("temperature"),
        max_tokens=agent.parameters.get("max_tokens"),
        passages=tuple(passages),
        language=language,
        fallback=agent.fallback_reply,
    )
    finished: Finished | None = None
    try:
        provider = await provider_for(db, runtime, scope, agent)
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                text = restorer.feed(event.text) if restorer is not None else event.text
                if text:
                    reply.text += text
                    yield TextDelta(text)
            elif isinstance(event, ToolCall):
                if redactor is not None:
                    event = ToolCall(event.id, event.name, _restored(redactor, event.arguments))
                _apply_tool(reply, event, language)
            elif isinstance(event, Usage):
                reply.input_tokens += event.input_tokens
                reply.output_tokens += event.output_tokens
            elif isinstance(event, Finished):
                finished = event
        if restorer is not None and (rest := restorer.flush()):
            reply.text += rest
            yield TextDelta(rest)
    except ProviderError as exc:
        log.warning("provider failed", extra={"agent_id": agent.id, "error": str(exc), "retryable": exc.retryable})
        fallback = agent.fallback_reply or phrase("fallback", language)
        # Whatever was streamed before the failure stays; the fallback completes it.
        addition = fallback if not reply.text else "\n\n" + fallback
        reply.text += addition
        yield TextDelta(addition)
        reply.flag(f"the AI provider failed: {exc}")
        reply.confidence = 0.0
    else:
        _settle(reply, finished, passages, message, agent)
    if reply.handoff and not reply.text:
        reply.text = phrase("handoff", language)
        yield TextDelta(reply.text)
    yield reply


def _redactor_for(runtime: Runtime, agent: Agent) -> Redactor | None:
    """Redaction applies where text leaves for an outside provider; the offline provider never sends anything."""
    if not agent.redact_pii or agent.provider == "offline":
        return None
    return Redactor(region=runtime.settings.phone_region or None)


def _restored(redactor: Redactor, arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: redactor.restore(v) if isinstance(v, str) else v for k, v in arguments.items()}


def _apply_tool(reply: Reply, call: ToolCall, language: str) -> None:
    if call.name == "handoff_to_human":
        reply.handoff = True
        reason = str(call.arguments.get("reason") or "the agent asked for a person")
        reply.flag(f"handed to staff: {reason}"[:200])


def _settle(reply: Reply, finished: Finished | None, passages: list[Passage], message: str, agent: Agent) -> None:
    if finished is not None and finished.used_chunk_ids:
        used = set(finished.used_chunk_ids)
        reply.citations = [p for p in passages if p.chunk_id in used]
    else:
        reply.citations = prompt.cited_passages(reply.text, passages)
    if finished is not None and finished.confidence is not None:
        reply.confidence = finished.confidence
    else:
        # Remote models give no calibrated confidence: use how well the best passage covers the question.
        query = terms(message)
        reply.confidence = max((coverage(query, p.text) for p in passages), default=0.0)
    if finished is not None and finished.reason == "fallback":
        reply.flag("no answer in the knowledge base")
    elif not reply.handoff and reply.confidence < agent.confidence_threshold:
        reply.flag(f"low confidence ({reply.confidence:.2f})")


async def run_turn(
    db: AsyncSession,
    runtime: Runtime,
    scope: OrgScope,
    agent: Agent,
    message: str,
    history: list[tuple[str, str]],
) -> Reply:
    reply: Reply | None = None
    async for item in stream_turn(db, runtime, scope, agent, message, history):
        if isinstance(item, Reply):
            reply = item
    assert reply is not None
    return reply


async def record_usage(db: AsyncSession, runtime: Runtime, scope: OrgScope, agent_id: str, reply: Reply) -> None:
    await usage_ledger.record(
        db,
        runtime,
        scope,
        agent_id=agent_id,
        provider=reply.provider,
        model=reply.model,
        calls=0 if reply.provider == "offline" else 1,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
    )


async def stream_unstored(
    runtime: Runtime, scope: OrgScope, agent: Agent, message: str, history: list[tuple[str, str]]
) -> AsyncIterator[TextDelta | Reply]:
    """A turn that stores no conversation (a test chat, a stateless API call); usage is still recorded. The
    turn reads in its own transaction and usage is written in another, so no write lock is held while the
    model thinks."""
    reply: Reply | None = None
    async with scoped_unit_of_work(runtime.sessionmaker, scope, write=False) as db:
        async for item in stream_turn(db, runtime, scope, agent, message, history):
            if isinstance(item, Reply):
                reply = item
            else:
                yield item
    assert reply is not None
    async with scoped_unit_of_work(runtime.sessionmaker, scope) as db:
        await record_usage(db, runtime, scope, agent.id, reply)
    yield reply


async def try_agent(
    runtime: Runtime, scope: OrgScope, agent: Agent, message: str, history: list[tuple[str, str]]
) -> Reply:
    reply: Reply | None = None
    async for item in stream_unstored(runtime, scope, agent, message, history):
        if isinstance(item, Reply):
            reply = item
    assert reply is not None
    return reply


async def check_credential(
    db: AsyncSession, runtime: Runtime, scope: OrgScope, credential_id: str, model: str
) -> str | None:
    """None when the provider accepts the credential, otherwise why not."""
    credential = await agents_service.access_credential(db, scope, credential_id)
    config = ProviderConfig(
        kind=credential.provider,  # type: ignore[arg-type]
        model=model,
        api_key=await agents_service.api_key_of(db, runtime, scope, credential),
        base_url=credential.base_url,
        breaker_key=f"check:{credential.id}",
    )
    provider = build_remote_provider(config, runtime.breakers)  # not cached: a check is rare and one-off
    try:
        await provider.check()
    except ProviderError as exc:
        return str(exc)
    finally:
        await provider.aclose()
    return None
