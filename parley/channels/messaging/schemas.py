from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from parley.kit.schemas import Name, RequestBody, ResponseBody

ChannelKind = Literal["whatsapp", "twilio_sms", "twilio_whatsapp", "email"]
Secrets = dict[str, str]


class ChannelIn(RequestBody):
    kind: ChannelKind
    agent_id: str = Field(max_length=40)
    name: Name
    # Not secret: WhatsApp `phone_number_id`; Twilio `account_sid` and `from_number`; `window_template`.
    config: dict[str, Any] = Field(default_factory=dict)
    # Sealed, never shown again: WhatsApp `access_token`, `app_secret`, `verify_token`; Twilio `auth_token`.
    secrets: Secrets = Field(default_factory=dict)


class ChannelPatch(RequestBody):
    name: Name | None = None
    enabled: bool | None = None
    config: dict[str, Any] | None = None
    # Merged into the stored secrets: send only those that change.
    secrets: Secrets | None = None


class ChannelOut(ResponseBody):
    id: str
    kind: str
    agent_id: str
    name: str
    enabled: bool
    config: dict[str, Any]
    secret_names: list[str]
    webhook_url: str
    created_at: datetime
    updated_at: datetime


class MergeIn(RequestBody):
    into_contact_id: str = Field(max_length=40, description="The contact that remains.")


class MergeOut(ResponseBody):
    id: str
    source_contact_id: str
    target_contact_id: str
    moved: dict[str, list[str]]
    created_at: datetime
    undone_at: datetime | None
