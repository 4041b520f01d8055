"""PDF: headings are lines set in a larger font than the body text; paragraphs break at wide vertical gaps."""

from __future__ import annotations

import io
import itertools
import math
import re
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError

from parley.knowledge.extract.model import Block, ExtractedDocument, clean
from parley.knowledge.sniff import UnsupportedDocument

# --- PDF ---------------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(r"(?:page\s+)?\d{1,4}(?:\s*(?:/|of|sur)\s*\d{1,4})?", re.IGNORECASE)
_HEADING_SIZE_RATIO = 1.15
_PARAGRAPH_GAP_RATIO = 1.5
_LINE_SPACING_RATIO = 1.4  # generous single spacing, as a multiple of the font size


@dataclass(slots=True)
class _Line:
    text: str
    size: float
    y: float
    page: int


def _extract_pdf(data: bytes) -> ExtractedDocument:
    reader = _open_pdf(data)
    lines = [line for number, page in enumerate(reader.pages, start=1) for line in _pdf_page_lines(page, number)]
    blocks = list(_pdf_blocks(lines))
    title = _pdf_metadata_title(reader) or next((b.text for b in blocks if b.kind == "heading"), None)
    return ExtractedDocument(title=title, blocks=blocks)


def _open_pdf(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # Many PDFs are encrypted with an empty user password (only editing is restricted); those open fine.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise UnsupportedDocument("this PDF is password-protected; upload a copy without a password")
        if not reader.pages:
            raise UnsupportedDocument("this PDF has no pages")
    except UnsupportedDocument:
        raise
    except DependencyError as exc:
        raise UnsupportedDocument("this PDF uses an encryption Parley cannot open; upload a copy without it") from exc
    except Exception as exc:  # pypdf reports malformed files through many unrelated exception types
        raise UnsupportedDocument("this PDF is damaged and cannot be read") from exc
    return reader


def _pdf_page_lines(page: PageObject, number: int) -> list[_Line]:
    segments: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        scale = math.sqrt(abs(tm[0] * tm[3] - tm[1] * tm[2]) * abs(cm[0] * cm[3] - cm[1] * cm[2]))
        segments.append((text, font_size * scale, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:  # one broken page content stream should not cost the whole document
        return []
    return list(_assemble_lines(segments, number))


def _assemble_lines(segments: list[tuple[str, float, float]], page: int) -> Iterator[_Line]:
    parts: list[str] = []
    size, y = 0.0, 0.0
    for text, segment_size, segment_y in segments:
        for index, piece in enumerate(text.split("\n")):
            if index and parts:
                yield _Line(clean("".join(parts)), size, y, page)
                parts, size = [], 0.0
            if piece.strip():
                y = segment_y if not parts else y
                parts.append(piece)
                size = max(size, segment_size)
    if parts:
        yield _Line(clean("".join(parts)), size, y, page)


def _pdf_blocks(lines: list[_Line]) -> Iterator[Block]:
    lines = [line for line in lines if line.text and not _PAGE_NUMBER.fullmatch(line.text)]
    body = _pdf_body_size(lines)
    levels, spacing = _pdf_heading_levels(lines, body), _pdf_line_spacing(lines, body)
    paragraph: list[_Line] = []
    for line in lines:
        level = levels.get(_size_key(line.size)) if len(line.text) <= 150 else None
        if paragraph and (level or _starts_paragraph(paragraph[-1], line, spacing)):
            yield Block("paragraph", _join_pdf_lines(paragraph), page=paragraph[0].page)
            paragraph = []
        if level:
            yield Block("heading", line.text, level=level, page=line.page)
        else:
            paragraph.append(line)
    if paragraph:
        yield Block("paragraph", _join_pdf_lines(paragraph), page=paragraph[0].page)


def _size_key(size: float) -> float:
    return round(size * 2) / 2


def _pdf_body_size(lines: list[_Line]) -> float:
    """The font size most of the text is set in."""
    chars_by_size: Counter[float] = Counter()
    for line in lines:
        chars_by_size[_size_key(line.size)] += len(line.text)
    return chars_by_size.most_common(1)[0][0] if chars_by_size else 0.0


def _pdf_heading_levels(lines: list[_Line], body: float) -> dict[float, int]:
    """Font sizes clearly larger than the body text's, largest first, mapped to heading levels 1-6."""
    larger = sorted({_size_key(line.size) for line in lines if line.size > body * _HEADING_SIZE_RATIO}, reverse=True)
    return {size: level for level, size in enumerate(larger[:6], start=1)}


def _pdf_line_spacing(lines: list[_Line], body: float) -> dict[int, float]:
    """The distance between lines of one paragraph on each page: the usual gap, unless the usual gap is itself a
    paragraph break (pages of one-line paragraphs), which the body font size gives away."""
    gaps: dict[int, list[float]] = {}
    for above, below in itertools.pairwise(lines):
        if above.page == below.page and above.y > below.y:
            gaps.setdefault(above.page, []).append(above.y - below.y)
    ceiling = body * _LINE_SPACING_RATIO if body else math.inf
    return {page: min(statistics.median(page_gaps), ceiling) for page, page_gaps in gaps.items()}


def _starts_paragraph(previous: _Line, line: _Line, spacing: dict[int, float]) -> bool:
    if previous.page != line.page:
        return False
    gap = previous.y - line.y
    return gap <= 0 or gap > spacing.get(line.page, math.inf) * _PARAGRAPH_GAP_RATIO


def _join_pdf_lines(lines: list[_Line]) -> str:
    parts = [lines[0].text]
    for line in lines[1:]:
        # Undo end-of-line hyphenation ("informa-" + "tion") but keep real hyphens before capitals and digits.
        previous = parts[-1]
        if previous.endswith("-") and len(previous) > 1 and previous[-2].isalpha() and line.text[:1].islower():
            parts[-1] = previous[:-1]
        else:
            parts.append(" ")
        parts.append(line.text)
    return "".join(parts)


def _pdf_metadata_title(reader: PdfReader) -> str | None:
    try:
        title = clean(str(reader.metadata.title or "")) if reader.metadata else ""
    except Exception:  # metadata of a damaged PDF is optional
        return None
    return title if title and not title.lower().startswith("microsoft word") else None
