"""Sealing and opening an organisation's records with the right key.

Two kinds of key, both from the key store (`privacy/keystore.py`):
- the organisation key, for what belongs to the business (its documents, its provider credentials);
- one key per person (contact), for what a person said or is (message bodies, transcripts, recordings), so that
  erasing the person destroys their key and every copy of their data, backups included, becomes unreadable.

A sealed record names its key in its header, so `open` needs no hint: it reads the key id and fetches that key.
When the key is gone, `open` returns `ERASED` — a typed value that pages and exports render as "erased" — rather
than raising, because reading an erased person's history is an expected situation, not an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from parley.kit.crypto import Cipher, parse
from parley.privacy.keystore import KeyDestroyed, Keystore
from parley.runtime import Runtime
from parley.tenancy.scope import OrgScope


@dataclass(frozen=True)
class Erased:
    """What a record reads as after its key was destroyed."""

    def __str__(self) -> str:
        return "[erased]"


ERASED: Final = Erased()


class Keyring:
    """The keys of one organisation, for one unit of work."""

    def __init__(self, keystore: Keystore, org_id: str) -> None:
        self._store = keystore
        self.org_id = org_id

    async def org(self) -> Cipher:
        key_id, key = await self._store.org_key(self.org_id)
        return Cipher(key_id, key, self.org_id)

    async def subject(self, subject_id: str) -> Cipher:
        key_id, key = await self._store.subject_key(self.org_id, subject_id)
        return Cipher(key_id, key, self.org_id)

    async def open(self, blob: bytes, *, record: str) -> bytes | Erased:
        key_id, _, _ = parse(blob)
        try:
            key = await self._store.key_by_id(self.org_id, key_id)
        except KeyDestroyed:
            return ERASED
        return Cipher(key_id, key, self.org_id).decrypt(blob, record=record)

    async def open_text(self, blob: bytes, *, record: str) -> str | Erased:
        opened = await self.open(blob, record=record)
        return opened if isinstance(opened, Erased) else opened.decode()


def keyring(runtime: Runtime, scope: OrgScope) -> Keyring:
    return Keyring(runtime.keystore, scope.org_id)


async def org_cipher(runtime: Runtime, scope: OrgScope) -> Cipher:
    """The organisation key, for the business's own records (documents, credentials)."""
    return await keyring(runtime, scope).org()
