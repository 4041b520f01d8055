"""The master key, and the purpose-specific keys derived from it.

The master key is the root of the key hierarchy (the privacy work wraps organisation and person keys under it).
Other secrets the service needs — the CSRF key, the pseudonymisation key for throttling records — are derived
from it with HKDF, so an operator manages one secret, and each derived key is useless for any other purpose.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parley.kit.crypto import DecryptionError, unwrap_key, wrap_key
from parley.settings import Settings

log = logging.getLogger(__name__)

KEY_FILE = "master.key"
# Where a session carries the pseudonymisation key (`session.info`), for the audit log's address pseudonyms.
PSEUDONYM_KEY_INFO = "parley.pseudonym_key"


class MasterKeyMissing(RuntimeError):
    pass


def decode_key(encoded: str) -> bytes:
    key = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
    if len(key) != 32:
        raise ValueError("the master key must be 32 bytes, base64-encoded")
    return key


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def load_master_key(settings: Settings) -> bytes:
    configured = settings.master_key.get_secret_value()
    if configured:
        return decode_key(configured)
    if not settings.is_sqlite:
        raise MasterKeyMissing("PARLEY_MASTER_KEY must be set when Parley runs on PostgreSQL")
    return _embedded_key(settings.data_dir / KEY_FILE)


def _embedded_key(path: Path) -> bytes:
    if path.exists():
        return decode_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting at once must not both write a key; the loser reads the winner's.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return decode_key(path.read_text())
    with os.fdopen(fd, "w") as handle:
        handle.write(generate_key() + "\n")
    log.warning(
        "generated a master key at %s; production deployments must provide PARLEY_MASTER_KEY "
        "(losing this key makes every encrypted record unreadable)",
        path,
    )
    return decode_key(path.read_text())


def derive_key(master: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


@dataclass(frozen=True)
class MasterKeys:
    """The current master key (wraps) and those being rotated out (unwrap only), by id."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def current_id(self) -> str:
        return master_key_id(self.current)

    def by_id(self, key_id: str) -> bytes:
        for key in (self.current, *self.previous):
            if master_key_id(key) == key_id:
                return key
        raise DecryptionError(f"master key {key_id} is not configured (was it dropped before rotating?)")


def master_key_id(key: bytes) -> str:
    """A public name for a master key: a hash that cannot be turned back into the key."""
    return "mk_" + hashlib.sha256(b"parley/master-key-id/v1" + key).hexdigest()[:16]


def load_master_keys(settings: Settings) -> MasterKeys:
    configured = settings.previous_master_keys.get_secret_value()
    previous = [decode_key(k) for k in configured.split(",") if k.strip()]
    rotated_out = settings.data_dir / (KEY_FILE + ".previous")  # embedded mode, after `parley keys rotate-master`
    if not settings.master_key.get_secret_value() and rotated_out.exists():
        previous.append(decode_key(rotated_out.read_text()))
    return MasterKeys(current=load_master_key(settings), previous=tuple(previous))


class KeyProvider(Protocol):
    """What holds the master key: wraps and unwraps organisation keys without handing the master key out. The
    local provider below keeps it in memory (settings or the embedded key file); a KMS provider (AWS KMS, Vault
    transit, …) implements the same three members with the service's encrypt/decrypt calls."""

    @property
    def current_id(self) -> str: ...

    async def wrap(self, key: bytes, *, owner: str) -> bytes: ...

    async def unwrap(self, wrapped: bytes, *, owner: str, master_key_id: str) -> bytes: ...


class LocalKeyProvider:
    """Master keys in process memory. A key id it does not know (another process rotated) makes it reload its
    keys once (settings, key files) before failing."""

    def __init__(self, masters: MasterKeys, reload: Callable[[], MasterKeys] | None = None) -> None:
        self.masters = masters
        self._reload = reload

    @property
    def current_id(self) -> str:
        return self.masters.current_id

    async def wrap(self, key: bytes, *, owner: str) -> bytes:
        return wrap_key(self.masters.current, key, owner=owner)

    async def unwrap(self, wrapped: bytes, *, owner: str, master_key_id: str) -> bytes:
        return unwrap_key(self._master(master_key_id), wrapped, owner=owner)

    def _master(self, master_key_id: str) -> bytes:
        try:
            return self.masters.by_id(master_key_id)
        except DecryptionError:
            if self._reload is None:
                raise
            self.masters = self._reload()
            return self.masters.by_id(master_key_id)
