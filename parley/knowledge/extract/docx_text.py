"""DOCX: structure comes from Word paragraph styles, list numbering and tables."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import docx
from docx.document import Document as DocxDocument
from docx.table import Table
from docx.text.paragraph import Paragraph

from parley.knowledge.extract.model import Block, ExtractedDocument, clean
from parley.knowledge.sniff import UnsupportedDocument, check_docx_archive

# --- DOCX --------------------------------------------------------------------------------------------------------

_DOCX_HEADING = re.compile(r"heading ([1-9])")


def _extract_docx(data: bytes) -> ExtractedDocument:
    check_docx_archive(data)  # again: extraction must be safe even when called without `sniff`
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx surfaces broken ZIPs, XML and content types as unrelated exceptions
        raise UnsupportedDocument("this Word document is damaged or is not a real .docx file") from exc
    return _docx_content(document)


def _docx_content(document: DocxDocument) -> ExtractedDocument:
    title = clean(document.core_properties.title or "") or None
    blocks: list[Block] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_docx_table(item))
            continue
        text, level = clean(item.text), _docx_heading_level(item)
        if level == 0:
            title = title or text
        elif level is not None:
            blocks.append(Block("heading", text, level=level))
        else:
            blocks.append(Block("list_item" if _docx_is_list(item) else "paragraph", text))
    return ExtractedDocument(title=title, blocks=blocks)


def _docx_heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for Heading styles (or styles based on them), 0 for the Title style, None for body text."""
    style = paragraph.style
    for _ in range(8):  # custom styles usually derive from a built-in heading within a step or two
        if style is None:
            return None
        name = (style.name or "").lower()
        if name == "title":
            return 0
        if match := _DOCX_HEADING.fullmatch(name):
            return int(match.group(1))
        style = style.base_style
    return None


def _docx_is_list(paragraph: Paragraph) -> bool:
    properties = paragraph._p.pPr
    numbered = properties is not None and properties.numPr is not None
    return numbered or (paragraph.style is not None and (paragraph.style.name or "").startswith("List"))


def _docx_table(table: Table) -> Iterator[Block]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = clean(cell.text)
            if text and (not cells or cells[-1] != text):  # merged cells repeat their text
                cells.append(text)
        yield Block("table_row", " | ".join(cells))
