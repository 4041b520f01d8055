"""Conversations for staff (read, audited), and the OpenAI-compatible endpoint of each agent."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, status
from fastapi.responses import StreamingResponse

from parley.agents import service as agents_service
from parley.auth.dependencies import (
    Db,
    PrincipalDep,
    RuntimeDep,
    audited_read,
    reads_only,
    require,
    token_agent_scope,
)
from parley.conversations import engine, events, service
from parley.conversations import repository as repo
from parley.conversations.engine import Reply
from parley.conversations.schemas import (
    ChatCompletionIn,
    ConversationOut,
    ConversationPageOut,
    MessageOut,
    StaffReplyIn,
    TranscriptOut,
)
from parley.kit.errors import InvalidField
from parley.kit.ids import new_id
from parley.llm.base import TextDelta
from parley.privacy.keys import Erased
from parley.tenancy.permissions import Permission
from parley.tenancy.scope import OrgScope, scoped_unit_of_work

router = APIRouter(tags=["conversations"])

ReadConversations = Annotated[OrgScope, Depends(require(Permission.CONVERSATIONS_READ))]
ReplyToConversations = Annotated[OrgScope, Depends(require(Permission.CONVERSATIONS_REPLY))]


@router.get("/api/v1/orgs/{org_id}/conversations", response_model=ConversationPageOut)
async def list_conversations(
    scope: ReadConversations,
    db: Db,
    agent_id: Annotated[str | None, Query(max_length=40)] = None,
    needs_attention: bool | None = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[str | None, Query(max_length=40)] = None,
) -> ConversationPageOut:
    found = await repo.conversations(
        db, scope, agent_id=agent_id, needs_attention=needs_attention, status=status, limit=limit + 1, before=before
    )
    page = found[:limit]
    return ConversationPageOut(
        conversations=[ConversationOut.model_validate(c) for c in page],
        next_before=page[-1].id if len(found) > limit else None,
    )


@router.get(
    "/api/v1/orgs/{org_id}/conversations/{conversation_id}",
    response_model=TranscriptOut,
    dependencies=[Depends(audited_read)],
)
async def get_conversation(
    conversation_id: str, scope: ReadConversations, db: Db, runtime: RuntimeDep
) -> TranscriptOut:
    conversation, messages = await service.read_transcript(db, runtime, scope, conversation_id)
    return TranscriptOut(
        conversation=ConversationOut.model_validate(conversation),
        messages=[
            MessageOut(
                id=m.id,
                role=m.role,
                body=None if isinstance(body, Erased) else body,
                erased=isinstance(body, Erased),
                language=m.language,
                confidence=m.confidence,
                citations=m.citations,
                created_at=m.created_at,
            )
            for m, body in messages
        ],
    )


@router.post(
    "/api/v1/orgs/{org_id}/conversations/{conversation_id}/messages",
    response_model=MessageOut,
    status_code=status.HTTP_201_CREATED,
)
async def staff_reply(
    conversation_id: str,
    body: StaffReplyIn,
    scope: ReplyToConversations,
    db: Db,
    runtime: RuntimeDep,
    background: BackgroundTasks,
) -> MessageOut:
    """Write to the person as staff. This takes the conversation over: the AI stays silent until it is released,
    and the person sees the message live in the widget."""
    message, took_over = await service.do_staff_reply(db, runtime, scope, conversation_id, body.text)
    out = MessageOut(
        id=message.id,
        role=message.role,
        body=body.text,
        erased=False,
        language=None,
        confidence=None,
        citations=[],
        created_at=message.created_at,
    )
    live: dict[str, object] = {
        "id": out.id,
        "role": "staff",
        "text": out.body,
        "citations": [],
        "created_at": out.created_at.isoformat(),
    }
    # Background tasks run once the response is sent, after the request's transaction has committed.
    background.add_task(events.staff_replied, runtime, scope.org_id, conversation_id, live, took_over=took_over)
    return out


@router.post("/api/v1/orgs/{org_id}/conversations/{conversation_id}/release", response_model=ConversationOut)
async def release_conversation(
    conversation_id: str, scope: ReplyToConversations, db: Db, runtime: RuntimeDep, background: BackgroundTasks
) -> ConversationOut:
    """Hand the conversation back to the AI."""
    conversation = await service.do_release(db, runtime, scope, conversation_id)
    background.add_task(events.released, runtime, scope.org_id, conversation_id)
    return ConversationOut.model_validate(conversation)


def _text(content: str | list[dict[str, object]] | None) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


@router.post(
    "/v1/chat/completions", tags=["openai compatible"], response_model=None, dependencies=[Depends(reads_only)]
)
async def chat_completions(
    body: ChatCompletionIn, caller: PrincipalDep, db: Db, runtime: RuntimeDep
) -> StreamingResponse | dict[str, object]:
    """Talk to an agent with any OpenAI client. Authenticate with an API token created for that agent; the
    agent's own instructions, knowledge and provider apply (`model` is echoed, not used). With `user`, the
    turns are kept as that person's conversation; without, nothing is stored but usage."""
    scope, agent_id = await token_agent_scope(caller, db)
    agent = await agents_service.access_agent(db, scope, agent_id)
    turns: list[tuple[str, str]] = [
        (m.role, _text(m.content)) for m in body.messages if m.role in ("user", "assistant")
    ]
    if not turns or turns[-1][0] != "user":
        raise InvalidField("body.messages", "the last message must be from the user")
    message, history = turns[-1][1], turns[:-1]
    if not message.strip():
        raise InvalidField("body.messages", "the last user message is empty")
    completion_id = f"chatcmpl-{new_id('cmp')[4:]}"
    created = int(time.time())

    async def turn() -> AsyncIterator[object]:
        # Each step manages its own short transactions (see conversations.service), so this also runs after
        # the request's transaction has ended, while a streamed response is being sent.
        if body.user:
            async with scoped_unit_of_work(runtime.sessionmaker, scope) as session:
                contact = await service.contact_for(session, runtime, scope, "api", body.user)
                conversation = await service.conversation_for(session, runtime, scope, agent, contact, "api")
            async for item in service.receive(runtime, scope, agent, conversation.id, text=message, external_id=None):
                yield item
        else:
            async for item in engine.stream_unstored(runtime, scope, agent, message, history):
                yield item

    if body.stream:
        return StreamingResponse(_sse(turn(), completion_id, created, body.model), media_type="text/event-stream")
    reply: Reply | None = None
    async for item in turn():
        if isinstance(item, Reply):
            reply = item
    assert reply is not None
    return _completion(completion_id, created, body.model, reply)


def _completion(completion_id: str, created: int, model: str, reply: Reply) -> dict[str, object]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
        "parley": {
            "citations": reply.citation_records(),
            "confidence": reply.confidence,
            "needs_attention": reply.needs_attention,
        },
    }


async def _sse(events: AsyncIterator[object], completion_id: str, created: int, model: str) -> AsyncIterator[str]:
    def chunk(delta: dict[str, object], finish: str | None = None) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    async for item in events:
        if isinstance(item, TextDelta):
            yield chunk({"content": item.text})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
