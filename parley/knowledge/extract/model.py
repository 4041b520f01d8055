"""The blocks every extractor produces, and the text normalisation they all apply."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["heading", "paragraph", "list_item", "table_row", "qa"]


@dataclass(frozen=True, slots=True)
class Block:
    kind: BlockKind
    text: str
    level: int = 0
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    title: str | None
    blocks: list[Block]


# Deleted: NUL, soft hyphen, zero-width space, word joiner, BOM. Other control characters become spaces. Zero-width
# (non-)joiners stay: Arabic and Persian spelling needs them. Typographic ligatures from PDFs are spelled out.
_CLEAN_TABLE: dict[int, str | None] = {
    **{code: " " for code in [*range(0x01, 0x09), *range(0x0E, 0x20), 0x7F]},
    **dict.fromkeys(map(ord, "\x00\u00ad\u200b\u2060\ufeff")),
    **{ord(k): v for k, v in {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}.items()},
}


def clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text.translate(_CLEAN_TABLE)).split())
