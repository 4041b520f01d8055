from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from parley.kit.schemas import RequestBody, ResponseBody

Kind = Literal["access", "portability", "rectification", "erasure", "restriction", "objection", "consent_withdrawal"]
IdentifierKind = Literal["visitor", "email", "phone", "whatsapp", "api"]
Purpose = Literal["ai_processing", "marketing", "analytics", "call_recording", "profiling"]


class IdentifierIn(RequestBody):
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=320)


class RequestIn(RequestBody):
    """Filed by staff for a person who asked by letter, phone or e-mail: name them by contact id or identifier."""

    kind: Kind
    contact_id: str | None = Field(default=None, max_length=40)
    identifier: IdentifierIn | None = None
    purposes: list[Purpose] = Field(default_factory=list, max_length=5, description="objection, withdrawal")
    message: str | None = Field(default=None, max_length=2000, description="what the person asked, in their words")


class NoteIn(RequestBody):
    note: str | None = Field(default=None, max_length=2000)


class RefuseIn(RequestBody):
    reason: str = Field(min_length=10, max_length=2000)


class ExtendIn(RequestBody):
    months: int = Field(ge=1, le=2)
    reason: str = Field(min_length=10, max_length=2000, description="recorded, and sent to the person")


class FulfilIn(RequestBody):
    note: str | None = Field(default=None, max_length=2000)
    ground: Literal["accuracy", "unlawful", "legal_claims", "objection"] | None = Field(
        default=None, description="restriction: the Art. 18(1) ground"
    )
    display_name: str | None = Field(default=None, max_length=200, description="rectification: the correct name")
    add_identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)
    remove_identifiers: list[IdentifierIn] = Field(default_factory=list, max_length=10)


class EventOut(ResponseBody):
    status: str
    actor_type: str
    actor_id: str | None
    note: str | None
    evidence: dict[str, Any]
    created_at: datetime


class RequestOut(ResponseBody):
    id: str
    kind: str
    status: str
    source: str
    contact_id: str | None
    received_at: datetime
    due_at: datetime
    extended_due_at: datetime | None
    extension_reason: str | None
    deadline_flag: str
    acted_by_user_id: str | None
    completed_at: datetime | None
    details: dict[str, Any]
    outcome: dict[str, Any]
    download_available_until: datetime | None
    events: list[EventOut] = Field(default_factory=list)


class RequestListOut(ResponseBody):
    requests: list[RequestOut]


class CodeIn(RequestBody):
    kind: Kind
    channel: Literal["email", "phone"] = "email"
    identifier: str = Field(min_length=3, max_length=320, description="your e-mail address or phone number")


class CodeSentOut(ResponseBody):
    challenge_id: str
    expires_at: datetime


class ConfirmIn(RequestBody):
    challenge_id: str = Field(max_length=40)
    identifier: str = Field(min_length=3, max_length=320)
    code: str = Field(min_length=4, max_length=12)
    purposes: list[Purpose] = Field(default_factory=list, max_length=5)
    message: str | None = Field(default=None, max_length=2000)


class WidgetRequestIn(RequestBody):
    kind: Kind
    purposes: list[Purpose] = Field(default_factory=list, max_length=5)


class ReceiptOut(ResponseBody):
    request_id: str
    kind: str
    status: str
    due_at: datetime
