from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from parley.kit.schemas import RequestBody, ResponseBody


class ConversationOut(ResponseBody):
    id: str
    agent_id: str | None
    contact_id: str
    channel: str
    status: str
    needs_attention: bool
    attention_reason: str | None
    handed_off: bool
    language: str | None
    created_at: datetime
    last_message_at: datetime


class MessageOut(ResponseBody):
    id: str
    role: str
    body: str | None = Field(description="null when erased")
    erased: bool = Field(description="the sender was erased: their key is destroyed and the text unreadable")
    language: str | None
    confidence: float | None
    citations: list[dict[str, Any]]
    created_at: datetime


class StaffReplyIn(RequestBody):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8_000)]


class TranscriptOut(ResponseBody):
    conversation: ConversationOut
    messages: list[MessageOut]


class ConversationPageOut(ResponseBody):
    conversations: list[ConversationOut]
    next_before: str | None


# OpenAI Chat Completions, the subset an agent needs. Unknown fields are accepted (OpenAI clients send many
# optional ones, e.g. `n`, `presence_penalty`); they are ignored because the agent's own settings apply.
class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionIn(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(max_length=100)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    stream: bool = False
    user: str | None = Field(
        default=None,
        max_length=200,
        description="Your id for the end user: their turns "
        "are stored as one conversation. Without it nothing is stored.",
    )
