"""Original documents on local disk, each sealed under its organisation's key.

`<data dir>/files/<org id>/<document id>` holds the encrypted bytes; a copy of the disk without the key is
noise. The scaled deployment will put the same sealed blobs in S3-compatible storage behind this interface.
"""

from __future__ import annotations

from pathlib import Path

from anyio import Path as AsyncPath

from parley.kit.crypto import Cipher
from parley.settings import Settings


def _path(settings: Settings, org_id: str, document_id: str) -> Path:
    return settings.data_dir / "files" / org_id / document_id


def record(document_id: str) -> str:
    return f"document:{document_id}:original"


async def put(settings: Settings, cipher: Cipher, document_id: str, data: bytes) -> None:
    path = AsyncPath(_path(settings, cipher.org_id, document_id))
    await path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    await temporary.write_bytes(cipher.encrypt(data, record=record(document_id)))
    await temporary.rename(path)  # atomic: a reader never sees half a file


async def get(settings: Settings, cipher: Cipher, document_id: str) -> bytes | None:
    path = AsyncPath(_path(settings, cipher.org_id, document_id))
    if not await path.exists():
        return None
    return cipher.decrypt(await path.read_bytes(), record=record(document_id))


async def delete(settings: Settings, org_id: str, document_id: str) -> None:
    path = AsyncPath(_path(settings, org_id, document_id))
    await path.unlink(missing_ok=True)
