"""Envelope encryption: master key → one data key per organisation → records.

Each organisation's data key is random, stored only wrapped (AES-256-GCM under the master key, bound to the
organisation id), and unwrapped in memory when needed. Records are sealed with AES-256-GCM under the
organisation key:

    blob = b"P1" | len(key_id) | key_id | nonce (12 random bytes) | ciphertext+tag

The key id in the header says which key opens the blob, so keys can be rotated and, later, per-person keys can
sit beside organisation keys. The associated data binds the blob to its tenant and its record
(`"<org_id>|<record>"`): a blob copied into another row or another tenant fails to open instead of leaking.
Nonces are random 96-bit values from the OS; with one key per organisation that stays far below the 2^32
messages per key where random-nonce collisions become a concern.

Destroying the organisation key (account deletion) makes every copy of its blobs, backups included, unreadable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"P1"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """The blob is not ours, was tampered with, belongs to another record, or its key is gone."""


@dataclass(frozen=True)
class Cipher:
    key_id: str
    key: bytes
    org_id: str

    def encrypt(self, plaintext: bytes, *, record: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        kid = self.key_id.encode()
        sealed = AESGCM(self.key).encrypt(nonce, plaintext, self._aad(record))
        return MAGIC + bytes([len(kid)]) + kid + nonce + sealed

    def decrypt(self, blob: bytes, *, record: str) -> bytes:
        key_id, nonce, sealed = parse(blob)
        if key_id != self.key_id:
            raise DecryptionError(f"sealed with key {key_id}, not {self.key_id}")
        try:
            return AESGCM(self.key).decrypt(nonce, sealed, self._aad(record))
        except InvalidTag as exc:
            raise DecryptionError("the record does not open with this key") from exc

    def encrypt_text(self, text: str, *, record: str) -> bytes:
        return self.encrypt(text.encode(), record=record)

    def decrypt_text(self, blob: bytes, *, record: str) -> str:
        return self.decrypt(blob, record=record).decode()

    def _aad(self, record: str) -> bytes:
        return f"{self.org_id}|{record}".encode()


def parse(blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < 4 or blob[:2] != MAGIC:
        raise DecryptionError("not a Parley encrypted record")
    length = blob[2]
    key_id = blob[3 : 3 + length].decode()
    nonce = blob[3 + length : 3 + length + NONCE_BYTES]
    return key_id, nonce, blob[3 + length + NONCE_BYTES :]


def wrap_key(master: bytes, key: bytes, *, owner: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, f"parley/key/{owner}".encode())


def unwrap_key(master: bytes, wrapped: bytes, *, owner: str) -> bytes:
    try:
        return AESGCM(master).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], f"parley/key/{owner}".encode())
    except InvalidTag as exc:
        raise DecryptionError(f"the key of {owner} does not unwrap with this master key") from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)
