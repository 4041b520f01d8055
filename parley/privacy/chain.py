"""The audit log's hash chain: what each row's hash covers, and how to check it.

Each organisation's audit rows form one chain, and events outside any organisation (sign-ins, accounts) form
one more (`PLATFORM_CHAIN`). Row n stores `seq = n`, the hash of row n-1 (`prev_hash`; `GENESIS` for the
first), and its own `hash = SHA-256(prev_hash || canonical content)`, where the canonical content is the JSON
of the row's fields with sorted keys, no spaces and ISO-8601 UTC timestamps. Changing, removing or inserting a
row breaks every link after it, so a verifier walking the chain from the start finds the first broken one.

What the chain covers is chosen so that privacy duties never break it:
- `details` carry ids, never personal data: erasing a person removes their data elsewhere and leaves the
  audit rows (and their hashes) as they were.
- The raw `ip` is personal data that retention anonymises after 30 days; hashing it would make every
  anonymised row look tampered with. The chain covers `ip_hmac` instead, a keyed pseudonym (HMAC-SHA-256 under
  the runtime's pseudonym key, so it cannot be reversed by trying all 2^32 IPv4 addresses): whoever holds the
  key can still show, long after the address was anonymised, that an action came from a given address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
PLATFORM_CHAIN = "platform"
CANONICAL_VERSION = 1


def chain_of(org_id: str | None) -> str:
    return org_id or PLATFORM_CHAIN


def lock_key(chain_id: str) -> int:
    """A 64-bit key for `pg_advisory_xact_lock`, one per chain."""
    digest = hashlib.sha256(f"parley.audit/{chain_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def ip_pseudonym(key: bytes, ip: str) -> str:
    return hmac.new(key, b"parley.audit.ip\x00" + ip.encode(), hashlib.sha256).hexdigest()


def normalised_json(value: dict[str, Any]) -> dict[str, Any]:
    """The details exactly as they read back from the database (a JSON round trip: keys become strings)."""
    loaded: dict[str, Any] = json.loads(json.dumps(value))
    return loaded


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(row: Any) -> bytes:
    """The content a row's hash covers; `row` is an AuditEvent or a database row with the same attributes."""
    content = {
        "v": CANONICAL_VERSION,
        "id": row.id,
        "chain_id": row.chain_id,
        "org_id": row.org_id,
        "seq": row.seq,
        "occurred_at": _timestamp(row.occurred_at),
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "request_id": row.request_id,
        "ip_hmac": row.ip_hmac,
        "details": row.details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, row: Any) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row)).hexdigest()
