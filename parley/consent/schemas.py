from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from parley.kit.schemas import RequestBody, ResponseBody

PurposeKey = Literal["marketing", "analytics", "call_recording", "ai_voice_processing"]
ChannelKey = Literal["widget", "api", "staff", "sms", "whatsapp", "email", "voice"]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]
TextBody = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)]


class PurposeOut(ResponseBody):
    key: str
    title: str
    description: str
    lawful_basis: str
    default_text: str


class ConsentTextIn(RequestBody):
    purpose: PurposeKey
    language: Language = Field(description="BCP 47 language tag, e.g. `en`, `fr`, `pt-BR`.")
    body: TextBody = Field(description="The exact words people are shown.")


class ConsentTextRevisionIn(RequestBody):
    body: TextBody


class ConsentTextOut(ResponseBody):
    id: str
    purpose: str
    language: str
    version: int
    body: str
    created_at: datetime


class ConsentEventIn(RequestBody):
    """A choice the person made outside Parley's own screens (on the phone with staff, a signed form)."""

    purpose: PurposeKey
    granted: bool
    channel: ChannelKey = "staff"
    text_id: str | None = Field(default=None, max_length=40, description="Required for a grant: the text shown.")
    evidence: dict[str, Any] | None = Field(default=None, description="How the choice was made (small JSON).")

    @field_validator("evidence")
    @classmethod
    def _small(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(repr(value)) > 2_000:
            raise ValueError("evidence is limited to 2,000 characters")
        return value


class ConsentEventOut(ResponseBody):
    id: str
    contact_id: str
    purpose: str
    granted: bool
    channel: str
    occurred_at: datetime
    text_id: str | None


class ConsentProofOut(ResponseBody):
    contact_id: str
    current: dict[str, dict[str, Any]]
    events: list[dict[str, Any]]


class AnalyticsDayOut(ResponseBody):
    day: date
    metric: str
    count: int
