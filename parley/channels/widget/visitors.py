"""Widget visitors: a random id and a secret, both kept in the visitor's `localStorage` (never a cookie).

The secret is an HMAC of the organisation and the visitor id under a key derived from the master key, so the
server stores nothing to recognise a visitor, nothing is written before they type, and knowing a visitor's id
(it is their contact identifier, visible to staff) is not enough to read their conversation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from parley.kit.keys import derive_key
from parley.runtime import Runtime

VISITOR_PREFIX = "vis_"
_VISITOR_ID = re.compile(r"^vis_[A-Za-z0-9_-]{22}$")
_KEY_PURPOSE = "parley/widget-visitor/v1"


@dataclass(frozen=True)
class VisitorCredentials:
    visitor_id: str
    secret: str


def _key(runtime: Runtime) -> bytes:
    return derive_key(runtime.master_key, _KEY_PURPOSE)


def secret_for(runtime: Runtime, org_id: str, visitor_id: str) -> str:
    digest = hmac.new(_key(runtime), f"{org_id}\x00{visitor_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_visitor(runtime: Runtime, org_id: str) -> VisitorCredentials:
    visitor_id = VISITOR_PREFIX + secrets.token_urlsafe(16)
    return VisitorCredentials(visitor_id, secret_for(runtime, org_id, visitor_id))


def parse_header(value: str | None) -> VisitorCredentials | None:
    """`X-Parley-Visitor: <visitor id>:<secret>`."""
    if not value:
        return None
    visitor_id, _, secret = value.strip().partition(":")
    if not _VISITOR_ID.match(visitor_id) or not secret or len(secret) > 100:
        return None
    return VisitorCredentials(visitor_id, secret)


def verify(runtime: Runtime, org_id: str, credentials: VisitorCredentials | None) -> str | None:
    """The visitor id when the secret is right, else None."""
    if credentials is None:
        return None
    expected = secret_for(runtime, org_id, credentials.visitor_id)
    return credentials.visitor_id if hmac.compare_digest(expected, credentials.secret) else None
