"""Live events as they cross Redis or PostgreSQL: sealed, so the broker (and whoever reads its memory, logs or
replication stream) never sees message text.

    frame = org_id | "." | blob        blob = AES-256-GCM under the live key (parley/kit/crypto.py's format)

The live key is derived from the master key for this purpose only; the key id in the blob names the master key
it came from, so a process that still knows a master key being rotated out opens what its peers sealed. The
associated data binds a frame to its tenant and its channel key: a frame replayed into another conversation or
passed off as another organisation's fails to open and is dropped. The org id travels in clear (it is an opaque
tenant id, not personal data) because the receiver needs it to check the binding.
"""

from __future__ import annotations

import json
import logging

from parley.kit.crypto import Cipher, DecryptionError, parse
from parley.kit.keys import MasterKeys, derive_key, master_key_id

log = logging.getLogger("parley.live")

Event = dict[str, object]
PURPOSE = "parley/live/v1"


def org_of(key: str, org_id: str | None) -> str:
    if org_id:
        return org_id
    return key[4:] if key.startswith("org:") else "-"


class Sealer:
    def __init__(self, masters: MasterKeys) -> None:
        self._current = master_key_id(masters.current)
        self._keys = {master_key_id(k): derive_key(k, PURPOSE) for k in (masters.current, *masters.previous)}

    def seal(self, key: str, org_id: str, event: Event) -> bytes:
        if "." in org_id:
            raise ValueError("an org id never contains a dot")
        cipher = Cipher(key_id=self._current, key=self._keys[self._current], org_id=org_id)
        blob = cipher.encrypt(json.dumps(event, ensure_ascii=False).encode(), record=f"live/{key}")
        return org_id.encode() + b"." + blob

    def open(self, key: str, frame: bytes) -> tuple[str, Event]:
        """The frame's org id and event; DecryptionError when it is not a frame of ours for this key."""
        org, dot, blob = frame.partition(b".")
        if not dot:
            raise DecryptionError("not a live frame")
        key_id, _, _ = parse(blob)
        secret = self._keys.get(key_id)
        if secret is None:
            raise DecryptionError(f"sealed under master key {key_id}, which this process does not know")
        org_id = org.decode()
        plain = Cipher(key_id=key_id, key=secret, org_id=org_id).decrypt(blob, record=f"live/{key}")
        event = json.loads(plain)
        if not isinstance(event, dict):
            raise DecryptionError("a live event is a JSON object")
        return org_id, event
