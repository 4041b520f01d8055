"""Random secrets for session cookies, API tokens and invitation links, and their stored hashes.

Each secret carries 256 random bits, so a plain SHA-256 is enough to store it (no brute force is possible)
and lets authentication find the row with one indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "prl_"  # noqa: S105 (a public prefix, not a secret)


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def keyed_digest(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
