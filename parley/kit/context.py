"""Who is acting, and from where: what the audit log records about every action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorType = Literal["user", "token", "system", "anonymous", "visitor"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str | None
    request: RequestInfo

    @classmethod
    def system(cls, request: RequestInfo | None = None) -> Actor:
        return cls("system", None, request or RequestInfo())

    @property
    def user_id(self) -> str | None:
        return self.id if self.type == "user" else None
