"""The reply address of a conversation: `reply+<conversation id>.<mac>@<inbound domain>`.

Replies to our emails come back to this address, so the conversation is found even when the person's mail client
drops `In-Reply-To`. The MAC is HMAC-SHA256 over the organisation and conversation ids, under a key derived from
the organisation's data key: an address someone makes up — or copies from one conversation and edits to name
another — does not verify, so nobody can write into a conversation they were never mailed from. Lower case only,
because some mail servers lower-case local parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from parley.kit.keys import derive_key

_TAG = "reply"
_MAC_CHARS = 20  # 100 bits of base32
_LOCAL = re.compile(r"^reply\+(?P<conversation>[a-z]{2,8}_[0-9a-z]{26})\.(?P<mac>[a-z2-7]{20})$")


def reply_key(org_key: bytes) -> bytes:
    return derive_key(org_key, "parley/email/reply-address")


def _mac(key: bytes, org_id: str, conversation_id: str) -> str:
    digest = hmac.new(key, f"{org_id}|{conversation_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:_MAC_CHARS]


def reply_address(key: bytes, org_id: str, conversation_id: str, domain: str) -> str:
    return f"{_TAG}+{conversation_id}.{_mac(key, org_id, conversation_id)}@{domain.lower()}"


def candidate_conversation(address: str, domain: str) -> str | None:
    """The conversation an address claims, before its MAC is checked (which needs the organisation's key)."""
    local, _, host = address.strip().lower().rpartition("@")
    if host != domain.lower():
        return None
    match = _LOCAL.match(local)
    return match["conversation"] if match else None


def verify(key: bytes, org_id: str, address: str, domain: str) -> str | None:
    """The conversation id if `address` is a genuine reply address of this organisation, else None."""
    conversation_id = candidate_conversation(address, domain)
    if conversation_id is None:
        return None
    local = address.strip().lower().rpartition("@")[0]
    given = local.rpartition(".")[2]
    return conversation_id if hmac.compare_digest(given, _mac(key, org_id, conversation_id)) else None
