"""A person's own files (uploads, call audio) under `<data_dir>/people/<org_id>/<contact_id>/`: exported with them
and deleted when they are erased. Paths are built from ids only, never from names the person chose."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from parley.settings import Settings


def person_dir(settings: Settings, org_id: str, contact_id: str) -> Path:
    return settings.data_dir / "people" / org_id / contact_id


def person_files(settings: Settings, org_id: str, contact_id: str) -> Iterator[tuple[str, Path]]:
    """(name inside the person's folder, path) for every file, in a stable order."""
    root = person_dir(settings, org_id, contact_id)
    if not root.is_dir():
        return
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        yield path.relative_to(root).as_posix(), path


def delete_person_files(settings: Settings, org_id: str, contact_id: str) -> int:
    root = person_dir(settings, org_id, contact_id)
    count = sum(1 for _ in person_files(settings, org_id, contact_id))
    shutil.rmtree(root, ignore_errors=True)
    return count
