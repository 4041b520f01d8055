"""Public ids: a type prefix and a UUIDv7 in base32, e.g. `org_06f3k2x0q9pbe1c4w7v5tn8mha`.

Prefixes make ids self-describing in logs and support tickets; UUIDv7 is time-ordered, which keeps
B-tree inserts local, and unguessable enough (74 random bits) that ids leak nothing useful.
"""

from __future__ import annotations

import os
import time
import uuid

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def uuid7() -> uuid.UUID:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80 | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def _base32(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    return f"{prefix}_{_base32(uuid7().int)}"
