from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, HttpUrl, SecretStr, StringConstraints

from parley.kit.schemas import RequestBody, ResponseBody

ProviderKind = Literal["offline", "openai", "anthropic"]
RemoteProviderKind = Literal["openai", "anthropic"]
ToolName = Literal["handoff_to_human"]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def _default_tools() -> list[ToolName]:
    return ["handoff_to_human"]


class AgentParameters(RequestBody):
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=16_384)


class AgentIn(RequestBody):
    name: ShortText
    instructions: str = Field(default="", max_length=20_000)
    greeting: str = Field(default="", max_length=2_000)
    languages: list[Language] = Field(default_factory=lambda: ["en"], min_length=1, max_length=20)
    provider: ProviderKind = "offline"
    model: str = Field(default="", max_length=100)
    parameters: AgentParameters = Field(default_factory=AgentParameters)
    credential_id: str | None = None
    knowledge_base_ids: list[str] = Field(default_factory=list, max_length=50)
    tools: list[ToolName] = Field(default_factory=_default_tools)
    fallback_reply: str = Field(default="", max_length=2_000)
    confidence_threshold: float = Field(default=0.35, ge=0, le=1)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    # On by default: personal values are replaced by placeholders before text goes to an outside provider.
    redact_pii: bool = True


class AgentPatch(RequestBody):
    name: ShortText | None = None
    instructions: str | None = Field(default=None, max_length=20_000)
    greeting: str | None = Field(default=None, max_length=2_000)
    languages: list[Language] | None = Field(default=None, min_length=1, max_length=20)
    provider: ProviderKind | None = None
    model: str | None = Field(default=None, max_length=100)
    parameters: AgentParameters | None = None
    credential_id: str | None = None
    knowledge_base_ids: list[str] | None = Field(default=None, max_length=50)
    tools: list[ToolName] | None = None
    fallback_reply: str | None = Field(default=None, max_length=2_000)
    confidence_threshold: float | None = Field(default=None, ge=0, le=1)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    redact_pii: bool | None = None


class AgentOut(ResponseBody):
    id: str
    name: str
    instructions: str
    greeting: str
    languages: list[str]
    provider: str
    model: str
    parameters: dict[str, float | int | None]
    credential_id: str | None
    knowledge_base_ids: list[str]
    tools: list[str]
    fallback_reply: str
    confidence_threshold: float
    retention_days: int | None
    redact_pii: bool
    created_at: datetime
    updated_at: datetime
    embed_snippet: str = Field(description="Paste into a page to show the web chat widget (turn it on first).")


class CredentialIn(RequestBody):
    name: ShortText
    provider: RemoteProviderKind
    base_url: HttpUrl | None = Field(default=None, description="For OpenAI-compatible servers (vLLM, Ollama, …).")
    api_key: SecretStr = Field(min_length=1, max_length=500)


class CredentialOut(ResponseBody):
    id: str
    name: str
    provider: str
    base_url: str | None
    api_key_hint: str
    created_at: datetime


class CredentialCheckIn(RequestBody):
    model: str = Field(default="", max_length=100)


class CredentialCheckOut(ResponseBody):
    ok: bool
    error: str | None = None


class TurnIn(RequestBody):
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4_000)]
    history: list[HistoryItem] = Field(default_factory=list, max_length=40)


class HistoryItem(RequestBody):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=8_000)


class CitationOut(ResponseBody):
    document_id: str
    title: str
    snippet: str
    url: str | None = None


class ReplyOut(ResponseBody):
    reply: str
    citations: list[CitationOut]
    confidence: float | None
    needs_attention: bool
    attention_reason: str | None
    language: str


TurnIn.model_rebuild()
