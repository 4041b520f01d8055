from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, HttpUrl, StringConstraints

from parley.channels.widget.origins import normalise_origin
from parley.kit.schemas import RequestBody, ResponseBody


def _origins(values: list[str]) -> list[str]:
    return list(dict.fromkeys(normalise_origin(v) for v in values))


Origins = Annotated[list[Annotated[str, StringConstraints(max_length=300)]], AfterValidator(_origins)]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class WidgetSettingsIn(RequestBody):
    allowed_origins: Origins = Field(
        max_length=50, description="Sites that may embed the widget, e.g. `https://www.example.com`."
    )
    min_age: int | None = Field(default=None, ge=13, le=21, description="Age gate: visitors must be at least this old.")
    analytics_enabled: bool = Field(default=False, description="Ask visitors for analytics consent first.")
    privacy_notice_url: HttpUrl | None = None


class WidgetSettingsOut(ResponseBody):
    agent_id: str
    enabled: bool
    allowed_origins: list[str]
    min_age: int | None
    analytics_enabled: bool
    privacy_notice_url: str | None
    embed_snippet: str


class VisitorOut(ResponseBody):
    visitor_id: str
    visitor_secret: str


class ConsentTextOut(ResponseBody):
    """The exact words the banner shows (the consent ledger cites them as proof)."""

    id: str
    language: str
    version: int
    body: str


class WidgetConfigOut(ResponseBody):
    """What the widget shows before the first message."""

    agent_name: str
    organization_name: str
    greeting: str
    languages: list[str]
    min_age: int | None
    analytics_consent_required: bool
    privacy_notice_url: str | None
    max_message_chars: int
    analytics_consent_text: ConsentTextOut | None = None


class CitationOut(ResponseBody):
    title: str
    url: str | None = None


class WidgetMessageOut(ResponseBody):
    id: str
    role: Literal["user", "assistant", "staff"]
    text: str
    citations: list[CitationOut]
    created_at: datetime


class HistoryOut(ResponseBody):
    conversation_id: str | None
    handed_off: bool
    messages: list[WidgetMessageOut]


class MessageIn(RequestBody):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100_000)]
    client_id: ClientId | None = Field(default=None, description="Idempotency key: a retried send is answered once.")
    age_confirmed: bool = False


class ConsentIn(RequestBody):
    purpose: Literal["analytics"] = "analytics"
    granted: bool
    text_id: str | None = Field(
        default=None, max_length=40, description="The consent text shown (from `/config`); default: the current one."
    )


class ConsentOut(ResponseBody):
    purpose: str
    granted: bool
    created_at: datetime


class ExportOut(ResponseBody):
    """Everything held about this conversation, for the visitor (GDPR Art. 15/20)."""

    exported_at: datetime
    organization: str
    agent: str
    visitor_id: str
    conversation_id: str | None
    started_at: datetime | None
    messages: list[WidgetMessageOut]
    consents: list[ConsentOut]


class ErasedOut(ResponseBody):
    erased_messages: int
