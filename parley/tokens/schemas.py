from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from parley.kit.schemas import RequestBody, ResponseBody
from parley.tenancy.permissions import Role

TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class TokenIn(RequestBody):
    name: TokenName
    role: Role
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Omit for a token that lasts until revoked."
    )
    agent_id: str | None = Field(
        default=None, description="Bind the token to one agent: it can then only call POST /v1/chat/completions."
    )


class TokenOut(ResponseBody):
    id: str
    name: str
    role: Role
    hint: str = Field(description="The secret's last four characters.")
    agent_id: str | None
    created_by_user_id: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    secret: str = Field(description="Shown once: only its SHA-256 is stored. Send as 'Authorization: Bearer …'.")
